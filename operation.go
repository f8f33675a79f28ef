package vitals

import (
	"math"
	"sort"
	"sync"
	"time"

	"github.com/bizra/vitals/metric"
	"github.com/bizra/vitals/window"
)

// OperationWindow is the window Operation statistics cover.
const OperationWindow = time.Minute

// Operation measures one named kind of work: a handler, a query, a call to
// a dependency. Get it once with Monitor.Operation and keep it; Start and
// End cost well under 100 ns together and never allocate.
//
// Its metrics:
//
//	vitals_operation_duration_seconds{operation}  histogram
//	vitals_operation_errors_total{operation}      counter
//	vitals_operations_started_total{operation}    counter
//	vitals_operations_in_flight{operation}        gauge
type Operation struct {
	name    string
	dur     *metric.Histogram
	errs    *metric.Counter
	started *metric.Counter
}

// Span is one running operation, returned by Operation.Start.
type Span struct {
	op    *Operation
	start int64
}

// Start begins one execution of the operation. End the returned Span
// exactly once.
func (o *Operation) Start() Span {
	o.started.Inc()
	return Span{op: o, start: metric.Nanotime()}
}

// End finishes the execution and records its duration. errp may be nil;
// when *errp is not nil the execution counts as an error. The pointer form
// reads the error as it is when End runs, so one deferred line covers every
// return path:
//
//	func (s *Store) Get(ctx context.Context, id string) (_ Item, err error) {
//		defer s.getOp.Start().End(&err)
//		...
//	}
func (s Span) End(errp *error) {
	d := metric.Nanotime() - s.start
	s.op.dur.Observe(float64(d) / 1e9)
	if errp != nil && *errp != nil {
		s.op.errs.Inc()
	}
}

// inFlight reads finished before started, so a concurrent End can only
// make the answer too high by one, never negative.
func (o *Operation) inFlight() int64 {
	finished := o.dur.Count()
	started := o.started.Value()
	if started < finished {
		return 0
	}
	return int64(started - finished)
}

// Name returns the operation's name.
func (o *Operation) Name() string { return o.name }

// Observe records an execution measured elsewhere. It counts as started
// and finished. A negative d is rejected and counted as such.
func (o *Operation) Observe(d time.Duration, err error) {
	if d < 0 {
		o.dur.ObserveDuration(d) // counted in vitals_rejected_observations_total
		return
	}
	o.started.Inc()
	o.dur.Observe(d.Seconds())
	if err != nil {
		o.errs.Inc()
	}
}

// OperationStats are an operation's statistics over the last
// OperationWindow, as of the last tick.
type OperationStats struct {
	Name       string
	Window     time.Duration // how much of OperationWindow holds data
	Count      uint64        // executions finished in the window
	Errors     uint64
	Rate       float64 // executions per second
	ErrorRatio float64 // Errors/Count; 0 when Count is 0
	InFlight   int64   // executions started and not finished, now
	Mean       time.Duration
	P50        time.Duration
	P95        time.Duration
	P99        time.Duration
	P999       time.Duration
	Max        time.Duration // within one bucket (1.09%)
}

type operations struct {
	m        *Monitor
	dur      *metric.Vec[*metric.Histogram]
	errs     *metric.Vec[*metric.Counter]
	started  *metric.Vec[*metric.Counter]
	inFlight *metric.FuncVec

	mu     sync.Mutex
	byName map[string]*Operation
	wins   map[string]*opWindow
}

type opWindow struct {
	lat  *window.Ring
	errs *window.Ring
}

func newOperations(m *Monitor, maxOps int) *operations {
	r := m.reg
	return &operations{
		m: m,
		dur: r.HistogramVec(metric.Opts{Name: "vitals_operation_duration_seconds", Unit: "seconds",
			Help: "Duration of tracked operations, errors included.", Labels: []string{"operation"}, MaxSeries: maxOps}),
		errs: r.CounterVec(metric.Opts{Name: "vitals_operation_errors_total",
			Help: "Tracked operations that ended with an error.", Labels: []string{"operation"}, MaxSeries: maxOps}),
		started: r.CounterVec(metric.Opts{Name: "vitals_operations_started_total",
			Help: "Tracked operations started.", Labels: []string{"operation"}, MaxSeries: maxOps}),
		inFlight: r.GaugeFuncVec(metric.Opts{Name: "vitals_operations_in_flight",
			Help: "Tracked operations started and not yet finished.", Labels: []string{"operation"}, MaxSeries: maxOps}),
		byName: make(map[string]*Operation),
		wins:   make(map[string]*opWindow),
	}
}

// Operation returns the handle for the named operation, creating its
// series on first use. Names are label values: keep them to a closed set
// (route patterns, not raw paths). Past Options.MaxOperations distinct
// names, the handle tracks into the "__overflow__" series.
func (m *Monitor) Operation(name string) *Operation {
	o := m.ops
	o.mu.Lock()
	op := o.byName[name]
	o.mu.Unlock()
	if op != nil {
		return op
	}
	op = &Operation{
		name:    name,
		dur:     o.dur.With(name),
		errs:    o.errs.With(name),
		started: o.started.With(name),
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if prev := o.byName[name]; prev != nil {
		return prev
	}
	if len(o.byName) < o.dur.Family().MaxSeries {
		o.byName[name] = op
	}
	o.inFlight.Bind(func() float64 { return float64(op.inFlight()) }, name)
	return op
}

// consume feeds the operations' one-minute windows with the tick's changes.
// Durations and errors come from the same per-tick changes, so an
// operation's first interval (calls made before its first tick) counts in
// both or in neither.
func (o *operations) consume(s *Snapshot) {
	durs, errs := s.Family(o.dur.Family()), s.Family(o.errs.Family())
	o.mu.Lock()
	defer o.mu.Unlock()
	for i := range durs {
		p := &durs[i]
		o.windowLocked(p.ser.Values[0]).lat.AddHistogram(s.Time, s.Elapsed, p.Delta)
	}
	for i := range errs {
		p := &errs[i]
		if inc := p.Increase; !math.IsNaN(inc) {
			o.windowLocked(p.ser.Values[0]).errs.AddCounter(s.Time, s.Elapsed, inc)
		}
	}
}

func (o *operations) windowLocked(name string) *opWindow {
	w := o.wins[name]
	if w == nil {
		w = &opWindow{lat: window.New(OperationWindow, 60), errs: window.New(OperationWindow, 60)}
		o.wins[name] = w
	}
	return w
}

// Operations returns statistics for every operation over the last minute,
// sorted by name.
func (m *Monitor) Operations() []OperationStats {
	o := m.ops
	now := m.clock.Now()
	if s := m.Latest(); s != nil {
		now = s.Time
	}
	o.mu.Lock()
	names := make([]string, 0, len(o.wins))
	for n := range o.wins {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make([]OperationStats, 0, len(names))
	for _, n := range names {
		out = append(out, o.statsLocked(n, now))
	}
	o.mu.Unlock()
	return out
}

// OperationStats returns one operation's statistics over the last minute.
func (m *Monitor) OperationStats(name string) (OperationStats, bool) {
	o := m.ops
	now := m.clock.Now()
	if s := m.Latest(); s != nil {
		now = s.Time
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.wins[name] == nil {
		return OperationStats{}, false
	}
	return o.statsLocked(name, now), true
}

func (o *operations) statsLocked(name string, now time.Time) OperationStats {
	w := o.wins[name]
	lat := w.lat.Stats(now)
	es := w.errs.Stats(now)
	st := OperationStats{Name: name, Window: lat.Covered, Count: uint64(lat.Count), Errors: uint64(es.Count)}
	if !math.IsNaN(lat.Rate) {
		st.Rate = lat.Rate
	}
	if st.Count > 0 {
		st.ErrorRatio = math.Min(1, float64(st.Errors)/float64(st.Count))
	}
	if op := o.byName[name]; op != nil {
		st.InFlight = op.inFlight()
	}
	sec := func(v float64) time.Duration {
		if math.IsNaN(v) {
			return 0
		}
		return time.Duration(v * 1e9)
	}
	st.Mean, st.P50, st.P95, st.P99, st.P999, st.Max = sec(lat.Avg), sec(lat.P50), sec(lat.P95), sec(lat.P99), sec(lat.P999), sec(lat.Max)
	return st
}
