package health

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bizra/vitals"
	"github.com/bizra/vitals/health/perfscore"
	"github.com/bizra/vitals/metric"
	"github.com/bizra/vitals/score"
)

// Options configures an Engine. The zero value (or nil) gives the defaults
// written on each field.
type Options struct {
	// Clock stamps results and drives hysteresis and result ages. nil:
	// the Monitor's clock.
	Clock vitals.Clock
	// Logger receives status changes and panicking checks (credentials
	// masked). nil: slog.Default().
	Logger *slog.Logger
	// Interval is the default time between runs of a check. 0: 5 s.
	Interval time.Duration
	// Timeout is the default time one run of a check may take. 0: 2 s.
	Timeout time.Duration
	// Hysteresis is the default for checks that leave theirs zero. The
	// zero value: fail after 3 failed results in a row, recover after 2
	// good ones.
	Hysteresis Hysteresis
	// CollectorTolerance is how many collector intervals the Monitor may
	// go without a tick before the built-in "collector" liveness check
	// fails (it warns one interval earlier). 0: 3; at least 2.
	CollectorTolerance int
	// ScoreInterval is the time between two computations of the
	// component scores served on /health/performance. 0: 10 s.
	ScoreInterval time.Duration
	// Weights are the components' weights in the overall score; a
	// component missing here weighs 1.
	Weights map[string]float64
	// SLO configures the built-in "slo" component score. nil: defaults.
	SLO *perfscore.SLOOptions
	// Runtime configures the built-in "runtime" component score. nil:
	// defaults.
	Runtime *perfscore.RuntimeOptions
	// Version, ServiceID and Description fill the health+json top-level
	// fields of the same names. Optional.
	Version     string
	ServiceID   string
	Description string
}

// Engine runs health checks and component scores for one Monitor and
// serves them (see Handler). Checks run on the engine's goroutines with
// timeouts; probes only read their last results, so a slow or stuck
// dependency never makes a probe slow.
//
// New registers two checks and two component scores:
//
//	collector (liveness)  the Monitor's collector ticks on time
//	shutdown  (readiness) fails from Drain on, for graceful shutdown
//	slo       (score)     p99 and error ratio of every operation vs objectives
//	runtime   (score)     goroutines, scheduler latency, GC, heap growth
//
// Start begins the schedule; Stop ends it and waits. Both are idempotent,
// and Stop before Start is safe. RunChecks runs every check once, now,
// which is how tests drive an Engine with a vitals.ManualClock.
type Engine struct {
	m     *vitals.Monitor
	clock vitals.Clock
	log   *slog.Logger
	opts  Options
	met   *healthMetrics

	ctx    context.Context // cancelled by Stop; the parent of every run
	cancel context.CancelFunc

	mu       sync.Mutex
	checks   []*check
	byName   map[string]*check
	probes   [numKinds]probeState
	scorers  []*scorer
	report   *Report
	draining bool

	subsState

	lifeMu  sync.RWMutex // read-held while adding to wg, so Stop's Wait never races an Add
	started bool
	stopped bool
	wg      sync.WaitGroup
	kick    chan struct{} // wakes the scheduler when a check is added
	scoring atomic.Bool

	shutdownGate Gate
}

type probeState struct {
	status score.Status
	set    stateSet
}

// check is a registered Check and its state; fields below the handles
// are guarded by Engine.mu.
type check struct {
	Check
	hyst    tracker
	set     stateSet
	results [numResults]*metric.Counter
	dur     *metric.Histogram

	has        bool
	last       Result // raw, credentials masked
	lastTime   time.Time
	lastKind   int
	shown      score.Status // after hysteresis
	note       string
	current    score.Status // as probes saw it at the last evaluation
	inflight   bool
	inflightAt int64 // metric.Nanotime
}

// New returns an Engine for m. It registers its metrics in m's registry
// and its built-in checks and scores; it starts nothing.
func New(m *vitals.Monitor, opts *Options) *Engine {
	if m == nil {
		panic("health: New needs a *vitals.Monitor")
	}
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Clock == nil {
		o.Clock = m.Clock()
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Interval <= 0 {
		o.Interval = 5 * time.Second
	}
	if o.Timeout <= 0 {
		o.Timeout = 2 * time.Second
	}
	o.Hysteresis = o.Hysteresis.withDefaults(Hysteresis{})
	if o.CollectorTolerance <= 0 {
		o.CollectorTolerance = 3
	}
	o.CollectorTolerance = max(o.CollectorTolerance, 2)
	if o.ScoreInterval <= 0 {
		o.ScoreInterval = 10 * time.Second
	}
	ctx, cancel := context.WithCancel(context.Background())
	e := &Engine{
		m:      m,
		clock:  o.Clock,
		log:    o.Logger,
		opts:   o,
		met:    newMetrics(m.Registry()),
		ctx:    ctx,
		cancel: cancel,
		byName: make(map[string]*check),
		kick:   make(chan struct{}, 1),
	}
	e.subs = make(map[*Subscription]struct{})
	for k := range e.probes {
		e.probes[k].set = newStateSet(e.met.probeStatus, e.met.probeTransitions, Kind(k).String())
		e.probes[k].set.set(score.Pass)
	}
	e.met.draining.Set(0)
	e.shutdownGate.Open()
	must(e.AddCheck(Check{Name: "shutdown", Kind: Readiness, ComponentType: "system", Gate: &e.shutdownGate}))
	must(e.AddCheck(Check{Name: "collector", Kind: Liveness, ComponentType: "system",
		Func: CollectorCheck(m, e.clock, o.CollectorTolerance)}))
	must(e.AddScorer("slo", perfscore.NewSLOScorer(m, o.SLO)))
	must(e.AddScorer("runtime", perfscore.NewRuntimeScorer(e.clock, o.Runtime)))
	return e
}

func must(err error) {
	if err != nil {
		panic(err)
	}
}

// AddCheck registers a check. It returns an error wrapping
// ErrInvalidCheck when the name is invalid or taken, when neither or both
// of Func and Gate are set, or past 100 checks. Checks may be added
// before or after Start.
func (e *Engine) AddCheck(c Check) error {
	switch {
	case !validName(c.Name):
		return fmt.Errorf("%w: name %q: use 1 to 63 letters, digits, '_', '-', '.' or ':', starting with a letter or digit", ErrInvalidCheck, c.Name)
	case (c.Func == nil) == (c.Gate == nil):
		return fmt.Errorf("%w: %s: set exactly one of Func and Gate", ErrInvalidCheck, c.Name)
	case c.Kind >= numKinds:
		return fmt.Errorf("%w: %s: unknown kind %d", ErrInvalidCheck, c.Name, c.Kind)
	}
	if c.Interval <= 0 {
		c.Interval = e.opts.Interval
	}
	if c.Timeout <= 0 {
		c.Timeout = e.opts.Timeout
	}
	if c.MaxAge <= 0 {
		c.MaxAge = 2*c.Interval + c.Timeout
	}
	c.Hysteresis = c.Hysteresis.withDefaults(e.opts.Hysteresis)
	e.mu.Lock()
	if e.byName[c.Name] != nil {
		e.mu.Unlock()
		return fmt.Errorf("%w: %s: a check with this name exists", ErrInvalidCheck, c.Name)
	}
	if len(e.checks) >= maxChecks {
		e.mu.Unlock()
		return fmt.Errorf("%w: %s: an engine holds at most %d checks", ErrInvalidCheck, c.Name, maxChecks)
	}
	ch := &check{Check: c, hyst: tracker{h: c.Hysteresis}}
	ch.set = newStateSet(e.met.checkStatus, e.met.checkTransitions, c.Name)
	for i := range ch.results {
		ch.results[i] = e.met.checkResults.With(c.Name, resultNames[i])
	}
	ch.dur = e.met.checkDuration.With(c.Name)
	now := e.clock.Now()
	ch.current, _ = e.effectiveLocked(ch, now)
	ch.set.set(ch.current)
	e.checks = append(e.checks, ch)
	e.byName[c.Name] = ch
	// Adding a check is a change of configuration, not of health: the
	// probe's status is updated without counting a transition.
	p := &e.probes[c.Kind]
	p.status = e.probeStatusLocked(c.Kind, now)
	p.set.set(p.status)
	e.mu.Unlock()

	if c.Gate != nil {
		c.Gate.onChange(func() { e.evaluate() })
	}
	select {
	case e.kick <- struct{}{}:
	default:
	}
	return nil
}

// Start starts running the checks on their schedule and computing the
// scores. It returns at once; calling it again, or after Stop, does
// nothing.
func (e *Engine) Start() {
	e.lifeMu.Lock()
	defer e.lifeMu.Unlock()
	if e.started || e.stopped {
		return
	}
	e.started = true
	e.wg.Add(1)
	go e.loop()
}

// Stop stops the schedule, cancels the checks' contexts, waits for every
// goroutine of the engine, and closes every subscription. A check that
// ignores its context delays Stop until it returns. Idempotent; safe
// before Start.
func (e *Engine) Stop() {
	e.lifeMu.Lock()
	if e.stopped {
		e.lifeMu.Unlock()
		return
	}
	e.stopped = true
	e.lifeMu.Unlock()
	e.cancel()
	e.wg.Wait()
	e.subMu.Lock()
	e.subsClosed = true
	for s := range e.subs {
		s.closeLocked()
	}
	e.subMu.Unlock()
}

// loop is the one scheduler of the engine. It keeps real-time due times
// per check (the injected clock only stamps results, so a ManualClock
// never stalls or spins the loop) and sleeps until the earliest.
func (e *Engine) loop() {
	defer e.wg.Done()
	next := make(map[*check]time.Time)
	var nextScore time.Time
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-e.ctx.Done():
			return
		case <-timer.C:
		case <-e.kick:
		}
		now := time.Now()
		wake := now.Add(e.opts.ScoreInterval)
		for _, c := range e.scheduled() {
			due, ok := next[c]
			if !ok || !now.Before(due) {
				e.launch(e.ctx, c, nil)
				due = now.Add(c.Interval)
				next[c] = due
			}
			if due.Before(wake) {
				wake = due
			}
		}
		if !now.Before(nextScore) {
			nextScore = now.Add(e.opts.ScoreInterval)
			if e.scoring.CompareAndSwap(false, true) && e.add(1) {
				go func() {
					defer e.wg.Done()
					defer e.scoring.Store(false)
					e.RefreshScores()
				}()
			}
		}
		if nextScore.Before(wake) {
			wake = nextScore
		}
		e.evaluate() // results age even when no check finishes
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		timer.Reset(wake.Sub(now))
	}
}

// add adds n to the wait group unless the engine is stopped.
func (e *Engine) add(n int) bool {
	e.lifeMu.RLock()
	defer e.lifeMu.RUnlock()
	if e.stopped {
		return false
	}
	e.wg.Add(n)
	return true
}

// scheduled returns the checks that run on a schedule.
func (e *Engine) scheduled() []*check {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]*check, 0, len(e.checks))
	for _, c := range e.checks {
		if c.Func != nil {
			out = append(out, c)
		}
	}
	return out
}

// RunChecks runs every scheduled check once, now, each with its timeout,
// and returns when all have a result (or ctx is done). A check whose
// previous run is still going is not started twice: it gets a failed
// result that says so. RunChecks does nothing after Stop.
func (e *Engine) RunChecks(ctx context.Context) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(e.ctx, cancel)
	defer stop()
	var wg sync.WaitGroup
	for _, c := range e.scheduled() {
		e.launch(ctx, c, &wg)
	}
	wg.Wait()
}

// launch starts one run of c on an engine goroutine; wg, when not nil, is
// told when the run has recorded its result.
func (e *Engine) launch(ctx context.Context, c *check, wg *sync.WaitGroup) {
	now := metric.Nanotime()
	e.mu.Lock()
	busy, running := c.inflight, time.Duration(now-c.inflightAt)
	if !busy {
		c.inflight, c.inflightAt = true, now
	}
	e.mu.Unlock()
	if busy {
		// A run within its timeout is simply still going. One past it
		// was recorded as timed out and ignores its context: each due
		// run it blocks is another failed result, so the check cannot
		// hold its last good status forever.
		if running > c.Timeout {
			e.record(c, Result{Status: score.Fail, Output: "previous run still going after " +
				running.Round(time.Millisecond).String() + ": the check does not honour its context's deadline"},
				resultTimeout, e.clock.Now())
		}
		return
	}
	if !e.add(1) {
		e.mu.Lock()
		c.inflight = false
		e.mu.Unlock()
		return
	}
	if wg != nil {
		wg.Add(1)
	}
	go func() {
		defer e.wg.Done()
		if wg != nil {
			defer wg.Done()
		}
		e.run(ctx, c)
	}()
}

type outcome struct {
	res  Result
	kind int
}

// run runs c once with its timeout. The call itself is on a second
// goroutine so that a check that ignores its context is recorded as
// timed out when the deadline passes, not when it finally returns.
func (e *Engine) run(ctx context.Context, c *check) {
	cctx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	t0 := metric.Nanotime()
	done := make(chan outcome, 1) // buffered: the call never blocks on a gone reader
	e.wg.Add(1)                   // e.wg is above zero: this goroutine is counted
	go func() {
		defer e.wg.Done()
		o := e.call(cctx, c)
		// Not in flight before the result is handed over: RunChecks
		// returns once it is recorded, and the next run must not find
		// this one still marked busy and skip itself.
		e.mu.Lock()
		c.inflight = false
		e.mu.Unlock()
		done <- o
	}()
	var o outcome
	select {
	case o = <-done:
	case <-cctx.Done():
		select {
		case o = <-done: // finished at the deadline: its own result wins
		default:
			if ctx.Err() != nil {
				return // stopping, or RunChecks' caller gave up: nothing to record
			}
			o = outcome{Result{Status: score.Fail, Output: "timed out after " + c.Timeout.String()}, resultTimeout}
		}
	}
	if o.kind != resultPanic && o.res.Status == score.Fail && cctx.Err() == context.DeadlineExceeded {
		o.kind = resultTimeout
	}
	c.dur.ObserveDuration(time.Duration(metric.Nanotime() - t0))
	e.record(c, o.res, o.kind, e.clock.Now())
}

// call runs the check's func, turning a panic into a failed result.
func (e *Engine) call(ctx context.Context, c *check) (o outcome) {
	defer func() {
		if p := recover(); p != nil {
			msg := redact(fmt.Sprint(p))
			o = outcome{Result{Status: score.Fail, Output: "check panicked: " + msg}, resultPanic}
			e.mu.Lock()
			repeat := c.lastKind == resultPanic
			e.mu.Unlock()
			if !repeat { // log the first panic of a streak; every one is counted
				e.log.Error("health: check panicked; it counts as failed",
					"check", c.Name, "panic", msg, "stack", string(debug.Stack()))
			}
		}
	}()
	r := c.Func(ctx)
	kind := resultPass
	switch r.Status {
	case score.Pass:
	case score.Warn:
		kind = resultWarn
	default:
		r.Status, kind = score.Fail, resultFail
	}
	return outcome{r, kind}
}

// record stores a run's result, applies hysteresis, and publishes the
// changes it causes.
func (e *Engine) record(c *check, r Result, kind int, now time.Time) {
	r.Output = redact(r.Output)
	c.results[kind].Inc()
	e.mu.Lock()
	c.has, c.last, c.lastTime, c.lastKind = true, r, now, kind
	c.shown, c.note = c.hyst.observe(r.Status, now)
	evs := e.evaluateLocked(now)
	e.mu.Unlock()
	e.logEvents(evs)
}

// evaluate re-reads gates and result ages and publishes the changes.
func (e *Engine) evaluate() {
	e.mu.Lock()
	evs := e.evaluateLocked(e.clock.Now())
	e.mu.Unlock()
	e.logEvents(evs)
}

// evaluateLocked computes what probes see now, counts transitions and
// publishes them as events (publishing never blocks). It returns the
// events so that the caller can log them after unlocking.
func (e *Engine) evaluateLocked(now time.Time) []Event {
	var evs []Event
	for _, c := range e.checks {
		st, out := e.effectiveLocked(c, now)
		if st != c.current {
			c.set.transition(c.current, st)
			evs = append(evs, Event{Time: now, Source: SourceCheck, Name: c.Name, From: c.current, To: st, Output: out})
			c.current = st
		}
	}
	for k := range e.probes {
		p := &e.probes[k]
		st := e.probeStatusLocked(Kind(k), now)
		if st != p.status {
			p.set.transition(p.status, st)
			evs = append(evs, Event{Time: now, Source: SourceProbe, Name: Kind(k).String(), From: p.status, To: st,
				Output: e.failingLocked(Kind(k))})
			p.status = st
		}
	}
	e.publish(evs)
	return evs
}

// effectiveLocked is the status and output probes show for c now: a
// gate's state, the result after hysteresis, or fail for a result older
// than MaxAge.
func (e *Engine) effectiveLocked(c *check, now time.Time) (score.Status, string) {
	var st score.Status
	var out string
	switch {
	case c.Gate != nil:
		r := c.Gate.result()
		st, out = r.Status, r.Output
	case !c.has:
		// Not run yet: not ready until proven, alive until proven dead.
		st, out = score.Fail, "not run yet"
		if c.Kind == Liveness {
			st = score.Pass
		}
	case now.Sub(c.lastTime) > c.MaxAge:
		st = score.Fail
		out = "no result for " + now.Sub(c.lastTime).Round(time.Millisecond).String() +
			" (max age " + c.MaxAge.String() + "): the check's runs are stuck or the engine is stopped"
	default:
		st, out = c.shown, c.last.Output
		if c.note != "" {
			if out != "" {
				out = c.note + ": " + out
			} else {
				out = c.note
			}
		}
	}
	if c.WarnOnly && st == score.Fail {
		st = score.Warn
	}
	return st, out
}

func (e *Engine) probeStatusLocked(k Kind, now time.Time) score.Status {
	st := score.Pass
	for _, c := range e.checks {
		if c.Kind == k {
			s, _ := e.effectiveLocked(c, now)
			st = score.Worst(st, s)
		}
	}
	return st
}

// failingLocked names the checks of kind k that are not passing.
func (e *Engine) failingLocked(k Kind) string {
	var b strings.Builder
	for _, c := range e.checks {
		if c.Kind == k && c.current != score.Pass {
			if b.Len() > 0 {
				b.WriteString(", ")
			}
			b.WriteString(c.Name + " " + c.current.String())
		}
	}
	return b.String()
}

func (e *Engine) logEvents(evs []Event) {
	for _, ev := range evs {
		lvl := slog.LevelInfo
		if ev.To == score.Fail {
			lvl = slog.LevelWarn
		}
		e.log.Log(context.Background(), lvl, "health: status changed",
			"source", ev.Source.String(), "name", ev.Name, "from", ev.From.String(), "to", ev.To.String(), "output", ev.Output)
	}
}

// Drain makes readiness fail at once (the "shutdown" check), for graceful
// shutdown: load balancers stop sending new requests while the server
// finishes the ones it has. Liveness is unaffected. Drainer calls it.
func (e *Engine) Drain() {
	e.mu.Lock()
	already := e.draining
	e.draining = true
	e.mu.Unlock()
	if already {
		return
	}
	e.met.draining.Set(1)
	e.shutdownGate.Close("draining: the instance is shutting down")
}

// Draining reports whether Drain was called.
func (e *Engine) Draining() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.draining
}

// CheckStatus is one check as a probe sees it.
type CheckStatus struct {
	Name          string
	Kind          Kind
	ComponentType string
	ComponentID   string
	Status        score.Status
	// Output explains a warn or fail (credentials masked); it includes
	// the hysteresis streak ("failing: 1 result in a row; fails at 3
	// results: ...").
	Output        string
	ObservedValue float64 // NaN when the check reported none
	ObservedUnit  string
	// Time is when the result was taken; for gates, the time of the read.
	Time time.Time
	// Excluded marks a check left out of the probe's status by ?exclude=.
	Excluded bool
}

// ProbeStatus is the answer of a liveness or readiness probe.
type ProbeStatus struct {
	Kind   Kind
	Status score.Status
	Time   time.Time
	Checks []CheckStatus // in registration order
}

// Status evaluates the probe of kind k now from the checks' last results,
// leaving out the named checks (unknown names are ignored). It never
// waits for a check to run.
func (e *Engine) Status(k Kind, exclude ...string) ProbeStatus {
	now := e.clock.Now()
	e.mu.Lock()
	evs := e.evaluateLocked(now)
	ps := ProbeStatus{Kind: k, Status: score.Pass, Time: now, Checks: make([]CheckStatus, 0, len(e.checks))}
	for _, c := range e.checks {
		if c.Kind != k {
			continue
		}
		cs := e.statusLocked(c, now)
		for _, x := range exclude {
			if x == c.Name {
				cs.Excluded = true
			}
		}
		if !cs.Excluded {
			ps.Status = score.Worst(ps.Status, cs.Status)
		}
		ps.Checks = append(ps.Checks, cs)
	}
	e.mu.Unlock()
	e.logEvents(evs)
	return ps
}

// Check returns one check's status as its probe sees it now.
func (e *Engine) Check(name string) (CheckStatus, bool) {
	now := e.clock.Now()
	e.mu.Lock()
	evs := e.evaluateLocked(now)
	c := e.byName[name]
	var cs CheckStatus
	if c != nil {
		cs = e.statusLocked(c, now)
	}
	e.mu.Unlock()
	e.logEvents(evs)
	return cs, c != nil
}

// Checks returns the names of the registered checks of kind k, in
// registration order.
func (e *Engine) Checks(k Kind) []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []string
	for _, c := range e.checks {
		if c.Kind == k {
			out = append(out, c.Name)
		}
	}
	return out
}

func (e *Engine) statusLocked(c *check, now time.Time) CheckStatus {
	st, out := e.effectiveLocked(c, now)
	cs := CheckStatus{Name: c.Name, Kind: c.Kind, ComponentType: c.ComponentType, ComponentID: c.ComponentID,
		Status: st, Output: out, ObservedValue: math.NaN(), Time: c.lastTime}
	if c.Gate != nil || !c.has {
		cs.Time = now
	}
	if c.has && c.last.ObservedUnit != "" {
		cs.ObservedValue, cs.ObservedUnit = c.last.ObservedValue, c.last.ObservedUnit
	}
	return cs
}
