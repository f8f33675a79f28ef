package breaker

import (
	"math"
	"strconv"
	"time"

	"github.com/bizra/vitals"
	"github.com/bizra/vitals/score"
	"github.com/bizra/vitals/window"
)

// EventKind says what an Event reports.
type EventKind uint8

// The event kinds. The *High kinds fire when a window figure reaches its
// threshold (with at least MinCalls calls in the window), the *Normal kinds
// when it drops back below.
const (
	EventTransition EventKind = iota
	EventFailureRateHigh
	EventFailureRateNormal
	EventSlowCallRateHigh
	EventSlowCallRateNormal
	EventOpenTooLong
	numEventKinds
)

var eventNames = [numEventKinds]string{"transition", "failure_rate_high", "failure_rate_normal",
	"slow_call_rate_high", "slow_call_rate_normal", "open_too_long"}

// String returns the kind's name.
func (k EventKind) String() string {
	if k < numEventKinds {
		return eventNames[k]
	}
	return "unknown"
}

// MarshalText encodes the kind as its name.
func (k EventKind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// Event is a state change or a threshold crossing of one breaker.
type Event struct {
	Breaker string
	Kind    EventKind
	Time    time.Time
	// From and To are set for EventTransition.
	From, To State
	// Observed and Threshold are set for threshold events: rates as
	// ratios, the open duration in seconds.
	Observed, Threshold float64
}

const (
	alertFailureRate = iota
	alertSlowCallRate
	alertOpenDuration
	numAlertKinds
)

var alertNames = [numAlertKinds]string{"failure_rate", "slow_call_rate", "open_duration"}

const windowSlots = 60

// counterWin feeds a Ring with a counter's increase per tick.
type counterWin = vitals.RingFeed

// windows are the rolling windows. Only Consume touches them, and the
// Monitor runs consumers one tick at a time.
type windows struct {
	calls [numOutcomes]counterWin
	slow  counterWin
	lat   vitals.RingFeed
}

func newWindows(length time.Duration) *windows {
	w := &windows{lat: vitals.RingFeed{Ring: window.New(length, windowSlots)}}
	for i := range w.calls {
		w.calls[i].Ring = window.New(length, windowSlots)
	}
	w.slow.Ring = window.New(length, windowSlots)
	return w
}

type windowStats struct {
	covered time.Duration
	calls   [numOutcomes]float64
	slow    float64
	lat     window.Stats
}

// bind points the windows at the breaker's series in the registry, whose
// per-tick changes the snapshots carry.
func (w *windows) bind(f *families, name string) {
	for oc := range numOutcomes {
		w.calls[oc].Series = f.calls.Family().Resolve(name, oc.String())
	}
	w.slow.Series = f.slow.Family().Resolve(name)
	w.lat.Series = f.dur.Family().Resolve(name)
}

// add feeds the tick's changes of the breaker's series.
func (w *windows) add(s *vitals.Snapshot) {
	for i := range w.calls {
		w.calls[i].Feed(s)
	}
	w.slow.Feed(s)
	w.lat.Feed(s)
}

func (w *windows) stats(now time.Time, o *Options) windowStats {
	var ws windowStats
	for i := range w.calls {
		st := w.calls[i].Ring.Stats(now)
		ws.calls[i] = st.Count
		if i == 0 {
			ws.covered = st.Covered
		}
	}
	ws.slow = w.slow.Ring.Stats(now).Count
	ws.lat = w.lat.Ring.Stats(now)
	return ws
}

// Stats are a breaker's figures as of the last collector tick. Rates with
// no call to divide by are NaN.
type Stats struct {
	Name  string
	State State
	// Since is when the current state was entered.
	Since time.Time
	// TimeIn is the time spent in each state, the current period included.
	TimeIn [numStates]time.Duration
	// Transitions[from][to] and Calls[outcome] are lifetime counts.
	Transitions [numStates][numStates]uint64
	Calls       [numOutcomes]uint64
	SlowCalls   uint64
	// Window is how much of the rolling window holds data; the Window*
	// figures are counted over it.
	Window       time.Duration
	WindowCalls  [numOutcomes]float64
	WindowSlow   float64
	FailureRate  float64
	SlowCallRate float64
	// Latency of calls that ran, in seconds, over the window.
	P50, P95, P99, Max, Mean float64
	// Thresholds in force.
	FailureRateThreshold, SlowCallRateThreshold float64
	OpenDurationThreshold, SlowCall             time.Duration
	// Alerting is true while the figure is at or past its threshold.
	FailureRateAlerting, SlowCallRateAlerting, OpenTooLong bool
	// Recent are the last events, oldest first.
	Recent []Event
	Score  score.Score
}

// Stats returns the breaker's figures as of the last collector tick, with
// the time in each state brought up to now.
func (b *Breaker) Stats() Stats {
	var times [numStates]time.Duration
	for s := range numStates {
		times[s] = b.TimeIn(s)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	st := b.st
	st.State, st.Since, st.TimeIn = b.state, b.since, times
	st.Recent = append([]Event(nil), b.recent...)
	st.Score.Factors = append([]score.Factor(nil), st.Score.Factors...)
	st.Score.Recommendations = append([]string(nil), st.Score.Recommendations...)
	return st
}

// Score returns the breaker's health score as of the last tick.
func (b *Breaker) Score() score.Score {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.st.Score
}

// Consume updates the rolling windows, the rates, the alert states and the
// score at each collector tick, then delivers the events recorded since the
// last tick to Options.OnEvent with no lock held.
func (b *Breaker) Consume(s *vitals.Snapshot) {
	b.windowed.add(s)
	ws := b.windowed.stats(s.Time, &b.opts)

	b.mu.Lock()
	st := b.computeLocked(s.Time, ws)
	b.evaluateLocked(s.Time, &st)
	b.st = st
	b.publishLocked()
	events := b.pending
	b.pending = nil
	for _, e := range events {
		if len(b.recent) == maxRecent {
			copy(b.recent, b.recent[1:])
			b.recent = b.recent[:maxRecent-1]
		}
		b.recent = append(b.recent, e)
	}
	b.mu.Unlock()

	if b.onEvent != nil {
		for _, e := range events {
			b.deliver(e)
		}
	}
}

func (b *Breaker) deliver(e Event) {
	defer func() {
		if r := recover(); r != nil {
			b.panics.Inc()
		}
	}()
	b.onEvent(e)
}

func (b *Breaker) computeLocked(now time.Time, ws windowStats) Stats {
	o := &b.opts
	st := Stats{Name: b.name, State: b.state, Since: b.since, Window: ws.covered, WindowCalls: ws.calls, WindowSlow: ws.slow,
		FailureRateThreshold: o.FailureRateThreshold, SlowCallRateThreshold: o.SlowCallRateThreshold,
		OpenDurationThreshold: o.OpenDurationThreshold, SlowCall: o.SlowCall,
		P50: ws.lat.P50, P95: ws.lat.P95, P99: ws.lat.P99, Max: ws.lat.Max, Mean: ws.lat.Avg}
	for from := range numStates {
		for to := range numStates {
			if c := b.trans[from][to]; c != nil {
				st.Transitions[from][to] = c.Value()
			}
		}
	}
	for i := range st.Calls {
		st.Calls[i] = b.calls[i].Value()
	}
	st.SlowCalls = b.slow.Value()
	ran := ws.calls[Success] + ws.calls[Failure]
	st.FailureRate, st.SlowCallRate = math.NaN(), math.NaN()
	if ran > 0 {
		st.FailureRate = ws.calls[Failure] / ran
		st.SlowCallRate = ws.slow / ran
	}
	st.Score = b.scoreOf(&st, now)
	return st
}

// evaluateLocked compares the window's figures with the thresholds and
// queues an event for each crossing.
func (b *Breaker) evaluateLocked(now time.Time, st *Stats) {
	o := &b.opts
	enough := st.WindowCalls[Success]+st.WindowCalls[Failure] >= float64(o.MinCalls)
	cross := func(high *bool, v, thr float64, up, down EventKind, alert int) {
		switch {
		case !*high && enough && v >= thr:
			*high = true
			b.alerts[alert].Inc()
			b.queueLocked(Event{Breaker: b.name, Kind: up, Time: now, Observed: v, Threshold: thr})
		case *high && !(v >= thr): // NaN (an empty window) is back to normal too
			*high = false
			b.queueLocked(Event{Breaker: b.name, Kind: down, Time: now, Observed: v, Threshold: thr})
		}
	}
	cross(&b.failHigh, st.FailureRate, o.FailureRateThreshold, EventFailureRateHigh, EventFailureRateNormal, alertFailureRate)
	cross(&b.slowHigh, st.SlowCallRate, o.SlowCallRateThreshold, EventSlowCallRateHigh, EventSlowCallRateNormal, alertSlowCallRate)
	if b.state == Open && !b.openAlerted {
		if open := now.Sub(b.since); open >= o.OpenDurationThreshold {
			b.openAlerted = true
			b.alerts[alertOpenDuration].Inc()
			b.queueLocked(Event{Breaker: b.name, Kind: EventOpenTooLong, Time: now,
				Observed: open.Seconds(), Threshold: o.OpenDurationThreshold.Seconds()})
		}
	}
	st.FailureRateAlerting, st.SlowCallRateAlerting, st.OpenTooLong = b.failHigh, b.slowHigh, b.openAlerted
}

const (
	factorState = iota
	factorFailureRate
	factorSlowCallRate
	numFactors
)

var factorNames = [numFactors]string{"state", "failure_rate", "slow_call_rate"}

func pct(v float64) string { return strconv.FormatFloat(v*100, 'f', 1, 64) + "%" }

// scoreOf rates the breaker's downstream. The state weighs most (3): an
// open breaker means callers get errors now. Rates score 100 at half their
// alert threshold and 0 at it, so the score falls before an alert fires.
func (b *Breaker) scoreOf(st *Stats, now time.Time) score.Score {
	o := &b.opts
	stateObs := [numStates]float64{Closed: 0, HalfOpen: 0.5, Open: 1}[st.State]
	f := [numFactors]score.Factor{
		{Name: factorNames[factorState], Observed: stateObs, Unit: "state (0 closed, 0.5 half_open, 1 open)", Target: 0, Limit: 1, Weight: 3},
		{Name: factorNames[factorFailureRate], Observed: st.FailureRate, Unit: "ratio", Target: o.FailureRateThreshold / 2, Limit: o.FailureRateThreshold, Weight: 2},
		{Name: factorNames[factorSlowCallRate], Observed: st.SlowCallRate, Unit: "ratio", Target: o.SlowCallRateThreshold / 2, Limit: o.SlowCallRateThreshold, Weight: 1},
	}
	for i := range f {
		if !f[i].NeedsAdvice() {
			continue
		}
		switch i {
		case factorState:
			f[i].Advice = "Breaker " + b.name + " is " + st.State.String() + " since " +
				score.FormatSeconds(now.Sub(st.Since).Seconds()) + ": calls to the downstream are being rejected; check the downstream's health."
		case factorFailureRate:
			f[i].Advice = "Calls through " + b.name + " fail at " + pct(st.FailureRate) + " (alert at " + pct(o.FailureRateThreshold) + "): check the downstream's errors."
		case factorSlowCallRate:
			f[i].Advice = pct(st.SlowCallRate) + " of calls through " + b.name + " take " + score.FormatSeconds(o.SlowCall.Seconds()) +
				" or more: check the downstream's latency and the caller's timeouts."
		}
	}
	return score.New("breaker:"+b.name, f[:])
}

func (b *Breaker) publishLocked() {
	b.failG.Set(b.st.FailureRate)
	b.slowG.Set(b.st.SlowCallRate)
	b.scoreG.Set(b.st.Score.Value)
	for i, f := range b.st.Score.Factors {
		b.factorG[i].Set(f.Score)
	}
}
