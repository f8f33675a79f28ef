package eval

import (
	"context"
	"fmt"
	"github.com/prometheus/common/model"
	"log/slog"
	"net/url"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/storage"

	"github.com/bizra/vitals/alerting/rules"
	"github.com/bizra/vitals/metric"
)

// State is an alert's state.
type State int

// Alert states, as Prometheus names them.
const (
	Inactive State = iota
	Pending
	Firing
)

// String returns the state as the Prometheus API writes it.
func (s State) String() string {
	switch s {
	case Pending:
		return "pending"
	case Firing:
		return "firing"
	}
	return "inactive"
}

// Alert is one active (or recently resolved) alert instance.
type Alert struct {
	Rule            string
	Labels          labels.Labels // the expression's labels without __name__, the rule's labels, alertname
	Annotations     labels.Labels // expanded
	State           State
	Value           float64
	ActiveAt        time.Time // first evaluation that returned it
	FiredAt         time.Time
	ResolvedAt      time.Time
	LastSentAt      time.Time
	KeepFiringSince time.Time // when the condition stopped holding while keep_firing_for kept it firing
}

// Event is a change of an alert's state, for streams and logs.
type Event struct {
	Time  time.Time
	From  State
	To    State // Inactive means resolved
	Alert Alert
}

// Options configure an Evaluator; nil means all defaults.
type Options struct {
	// Groups are the rules to evaluate. Default rules.Build(nil).
	Groups []rules.Group
	// Interval, when set, replaces every group's evaluation interval
	// (the demo evaluates every 5 s). Default: the groups' own.
	Interval time.Duration
	// Retention of recorded series and ALERTS. Default 1h.
	Retention time.Duration
	// ResendDelay is how often a firing alert is sent again to the
	// Notifier. Default 1m, Prometheus' default.
	ResendDelay time.Duration
	// ResolvedRetention is how long a resolved alert is kept (and sent as
	// resolved). Default 15m, as Prometheus.
	ResolvedRetention time.Duration
	// Notifier receives firing and resolved alerts; nil for none.
	Notifier *Notifier
	// ExternalURL is the base of each alert's generatorURL
	// (<ExternalURL>/promql/graph?g0.expr=...). Default "".
	ExternalURL string
	// OnEvent, when set, is called after each evaluation, outside every
	// lock, with the state changes it produced (the stream's alerts
	// topic). It must not block for long.
	OnEvent func([]Event)
	// Registry receives the evaluator's self-metrics; nil for none.
	Registry *metric.Registry
	// Logger; default slog.Default().
	Logger *slog.Logger
	// Now is the clock of Start's loop. Default time.Now.
	Now func() time.Time
	// QueryTimeout bounds every query, rule or API. Default 30s.
	QueryTimeout time.Duration
}

// Evaluator evaluates rule groups and serves the APIs. Create it with New.
type Evaluator struct {
	opts     Options
	engine   *promql.Engine
	q        storage.Queryable // ring merged with recorded
	rec      *recorded
	groups   []*group
	log      *slog.Logger
	evals    *metric.Vec[*metric.Counter]
	failures *metric.Vec[*metric.Counter]
	evalTime *metric.Vec[*metric.Histogram]

	mu sync.RWMutex // guards the rules' state below

	stopOnce sync.Once
	stop     chan struct{}
	wg       sync.WaitGroup
}

type group struct {
	name     string
	interval time.Duration
	rules    []*rule
	lastEval time.Time
	evalDur  time.Duration
}

type rule struct {
	r        rules.Rule
	active   map[uint64]*Alert
	health   string
	lastErr  string
	lastEval time.Time
	evalDur  time.Duration
}

// New returns an Evaluator reading samples from q (an alerting/store
// Store). It does not start evaluating: call Start, or Eval.
func New(q storage.Queryable, opts *Options) (*Evaluator, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Groups == nil {
		g, err := rules.Build(nil)
		if err != nil {
			return nil, err
		}
		o.Groups = g
	} else if err := rules.Check(o.Groups); err != nil {
		return nil, err
	}
	if o.Retention <= 0 {
		o.Retention = time.Hour
	}
	if o.ResendDelay <= 0 {
		o.ResendDelay = time.Minute
	}
	if o.ResolvedRetention <= 0 {
		o.ResolvedRetention = 15 * time.Minute
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.QueryTimeout <= 0 {
		o.QueryTimeout = 30 * time.Second
	}
	rec := newRecorded(o.Retention.Milliseconds())
	e := &Evaluator{
		opts: o, rec: rec, log: o.Logger, stop: make(chan struct{}),
		engine: promql.NewEngine(promql.EngineOpts{
			Logger: nil, MaxSamples: 50_000_000, Timeout: o.QueryTimeout, LookbackDelta: 5 * time.Minute,
			EnableAtModifier: true, EnableNegativeOffset: true,
		}),
		q: mergedQueryable{a: q, b: rec},
	}
	for _, g := range o.Groups {
		gi := g.Interval
		if o.Interval > 0 {
			gi = o.Interval
		}
		if gi <= 0 {
			gi = 30 * time.Second
		}
		ng := &group{name: g.Name, interval: gi}
		for _, r := range g.Rules {
			ng.rules = append(ng.rules, &rule{r: r, active: map[uint64]*Alert{}, health: "unknown"})
		}
		e.groups = append(e.groups, ng)
	}
	if r := o.Registry; r != nil {
		e.evals = r.CounterVec(metric.Opts{Name: "vitals_rule_group_evaluations_total", Help: "Evaluations of each in-process rule group.", Labels: []string{"group"}})
		e.failures = r.CounterVec(metric.Opts{Name: "vitals_rule_evaluation_failures_total", Help: "Rule evaluations that failed, by group.", Labels: []string{"group"}})
		e.evalTime = r.HistogramVec(metric.Opts{Name: "vitals_rule_group_duration_seconds", Unit: "seconds", Help: "Time to evaluate each in-process rule group.", Labels: []string{"group"}})
	}
	return e, nil
}

// Queryable returns the samples the rules read plus what they record
// (recording rules' series and ALERTS): what the query API serves.
func (e *Evaluator) Queryable() storage.Queryable { return e.q }

// Engine returns the PromQL engine shared by the rules and the API.
func (e *Evaluator) Engine() *promql.Engine { return e.engine }

// Start evaluates every group at its interval until Stop. The first
// evaluation runs one interval after Start, when the ring holds data.
func (e *Evaluator) Start() {
	for _, g := range e.groups {
		e.wg.Add(1)
		go func() {
			defer e.wg.Done()
			t := time.NewTicker(g.interval)
			defer t.Stop()
			for {
				select {
				case <-e.stop:
					return
				case <-t.C:
					e.evalGroup(context.Background(), g, e.opts.Now())
				}
			}
		}()
	}
}

// Stop stops the loop and waits for it. It is idempotent and safe before
// Start.
func (e *Evaluator) Stop() {
	e.stopOnce.Do(func() { close(e.stop) })
	e.wg.Wait()
}

// Eval evaluates every group once at ts, in order: tests and benchmarks
// drive time through it.
func (e *Evaluator) Eval(ctx context.Context, ts time.Time) {
	for _, g := range e.groups {
		e.evalGroup(ctx, g, ts)
	}
}

// evalGroup evaluates a group's rules in order at ts. A recording rule's
// result is stored before the next rule runs, so alerts read it at once.
func (e *Evaluator) evalGroup(ctx context.Context, g *group, ts time.Time) {
	start := time.Now()
	var events []Event
	var send []Alert
	for _, r := range g.rules {
		rs := time.Now()
		vec, err := e.instant(ctx, r.r.Expr, ts)
		e.mu.Lock()
		r.lastEval, r.evalDur = ts, time.Since(rs)
		if err != nil {
			r.health, r.lastErr = "err", err.Error()
			e.mu.Unlock()
			if e.failures != nil {
				e.failures.With(g.name).Inc()
			}
			e.log.Warn("vitals/alerting: rule evaluation failed", "group", g.name, "rule", r.r.Name(), "err", err)
			continue
		}
		r.health, r.lastErr = "ok", ""
		if r.r.Record != "" {
			e.mu.Unlock()
			for _, s := range vec {
				lb := labels.NewBuilder(s.Metric).Set(model.MetricNameLabel, r.r.Record)
				e.rec.add(lb.Labels(), ts.UnixMilli(), s.F, s.H)
			}
			continue
		}
		ev, out := e.updateAlertsLocked(r, vec, ts, g.interval)
		e.mu.Unlock()
		events = append(events, ev...)
		send = append(send, out...)
	}
	e.rec.trim(ts.UnixMilli())
	e.mu.Lock()
	g.lastEval, g.evalDur = ts, time.Since(start)
	e.mu.Unlock()
	if e.evals != nil {
		e.evals.With(g.name).Inc()
		e.evalTime.With(g.name).Observe(time.Since(start).Seconds())
	}
	if e.opts.Notifier != nil && len(send) > 0 {
		e.opts.Notifier.Send(e.toAM(send, ts, g.interval)...)
	}
	if e.opts.OnEvent != nil && len(events) > 0 {
		e.opts.OnEvent(events)
	}
}

func (e *Evaluator) instant(ctx context.Context, expr string, ts time.Time) (promql.Vector, error) {
	q, err := e.engine.NewInstantQuery(ctx, e.q, nil, expr, ts)
	if err != nil {
		return nil, err
	}
	defer q.Close()
	res := q.Exec(ctx)
	if res.Err != nil {
		return nil, res.Err
	}
	return res.Vector()
}

// updateAlertsLocked applies one evaluation's result to a rule's alerts,
// the way Prometheus' alerting rule does: a new label set starts pending
// (firing at once without `for`); pending turns firing once `for` has
// passed; a firing alert whose condition stops holding keeps firing for
// keep_firing_for, then resolves and is kept ResolvedRetention for the
// resolved notification; a pending one is dropped. It returns the state
// changes and the alerts due to be sent.
func (e *Evaluator) updateAlertsLocked(r *rule, vec promql.Vector, ts time.Time, interval time.Duration) ([]Event, []Alert) {
	var events []Event
	seen := make(map[uint64]bool, len(vec))
	for _, s := range vec {
		lb := labels.NewBuilder(s.Metric).Del(model.MetricNameLabel)
		for k, v := range r.r.Labels() {
			lb.Set(k, v)
		}
		lb.Set(labels.AlertName, r.r.Alert)
		lset := lb.Labels()
		h := lset.Hash()
		seen[h] = true
		tmplLabels := s.Metric.Map()
		delete(tmplLabels, model.MetricNameLabel)
		var ann labels.ScratchBuilder
		for k, v := range r.r.Annotations() {
			x, err := rules.ExpandValue(v, tmplLabels, s.F)
			if err != nil {
				x = fmt.Sprintf("<error expanding template: %v>", err)
			}
			ann.Add(k, x)
		}
		ann.Sort()
		if a := r.active[h]; a != nil && a.State != Inactive {
			a.Value, a.Annotations, a.KeepFiringSince = s.F, ann.Labels(), time.Time{}
			continue
		}
		r.active[h] = &Alert{Rule: r.r.Alert, Labels: lset, Annotations: ann.Labels(), State: Pending, Value: s.F, ActiveAt: ts}
		events = append(events, Event{Time: ts, From: Inactive, To: Pending, Alert: *r.active[h]})
	}
	for h, a := range r.active {
		if !seen[h] {
			if a.State == Firing && r.r.KeepFiringFor > 0 {
				if a.KeepFiringSince.IsZero() {
					a.KeepFiringSince = ts
				}
				if ts.Sub(a.KeepFiringSince) < r.r.KeepFiringFor {
					continue
				}
			}
			if a.State == Pending || (a.State == Inactive && ts.Sub(a.ResolvedAt) > e.opts.ResolvedRetention) {
				if a.State == Pending {
					events = append(events, Event{Time: ts, From: Pending, To: Inactive, Alert: *a})
				}
				delete(r.active, h)
				continue
			}
			if a.State == Firing {
				events = append(events, Event{Time: ts, From: Firing, To: Inactive, Alert: *a})
				a.State, a.ResolvedAt = Inactive, ts
			}
			continue
		}
		if a.State == Pending && ts.Sub(a.ActiveAt) >= r.r.For {
			a.State, a.FiredAt = Firing, ts
			events = append(events, Event{Time: ts, From: Pending, To: Firing, Alert: *a})
		}
	}
	var send []Alert
	for _, a := range r.active {
		if a.State == Pending {
			continue
		}
		// ALERTS{alertstate="firing"} as Prometheus writes it.
		if a.State == Firing {
			e.rec.add(labels.NewBuilder(a.Labels).Set(model.MetricNameLabel, "ALERTS").Set("alertstate", "firing").Labels(), ts.UnixMilli(), 1, nil)
		}
		due := a.LastSentAt.IsZero() || ts.Sub(a.LastSentAt) >= e.opts.ResendDelay ||
			(a.State == Inactive && a.ResolvedAt.After(a.LastSentAt))
		if due {
			a.LastSentAt = ts
			send = append(send, *a)
		}
	}
	for _, a := range r.active {
		if a.State == Pending {
			e.rec.add(labels.NewBuilder(a.Labels).Set(model.MetricNameLabel, "ALERTS").Set("alertstate", "pending").Labels(), ts.UnixMilli(), 1, nil)
		}
	}
	sort.Slice(events, func(i, j int) bool { return labels.Compare(events[i].Alert.Labels, events[j].Alert.Labels) < 0 })
	return events, send
}

// Alerts returns the pending and firing alerts, sorted by labels.
func (e *Evaluator) Alerts() []Alert {
	e.mu.RLock()
	defer e.mu.RUnlock()
	var out []Alert
	for _, g := range e.groups {
		for _, r := range g.rules {
			for _, a := range r.active {
				if a.State != Inactive {
					out = append(out, *a)
				}
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return labels.Compare(out[i].Labels, out[j].Labels) < 0 })
	return out
}

// generatorURL links an alert to its expression in the query API.
func (e *Evaluator) generatorURL(expr string) string {
	if e.opts.ExternalURL == "" {
		return ""
	}
	return e.opts.ExternalURL + "/promql/graph?g0.expr=" + url.QueryEscape(expr)
}
