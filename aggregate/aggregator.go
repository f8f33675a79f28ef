package aggregate

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/bizra/vitals"
	"github.com/bizra/vitals/metric"
	"github.com/bizra/vitals/window"
)

// DefaultWindows are the windows an Aggregator keeps when its options name
// none.
var DefaultWindows = []time.Duration{time.Minute, 5 * time.Minute, 15 * time.Minute, time.Hour}

// Options configures an Aggregator. The zero value (or nil) gives
// the defaults written on each field.
type Options struct {
	// Windows are the rolling windows kept for every series, each at most
	// 7 days. nil: DefaultWindows (1m, 5m, 15m, 1h).
	Windows []time.Duration
	// Slots is the number of sub-windows of each window: a window moves in
	// steps of its length/Slots and covers between (Slots-1)/Slots and all
	// of its length. Memory grows linearly with it. 0: 20 (a 1m window
	// moves every 3 s, a 1h window every 3 min).
	Slots int
	// MaxSeries caps the series tracked; later ones are left out and
	// counted in vitals_window_series_dropped_total. 0: 10,000.
	MaxSeries int
}

// Aggregator keeps rolling windows (by default 1m, 5m, 15m and 1h) for
// every series of a Monitor, one window.Stack per series. New attaches it
// to the Monitor: it updates on the collector goroutine each tick, in time
// proportional to the changes of the tick, never to the windows' lengths,
// until Close.
//
// Windows are as of the last snapshot consumed: if the Monitor stops
// ticking, they stop moving.
//
// All methods are safe for concurrent use. Consume and the readers share
// one mutex; a reader holds it for one series.
type Aggregator struct {
	windows   []time.Duration
	slots     int
	maxSeries int

	mu      sync.Mutex
	created int // series created, for their phases
	tr      vitals.PerSeries[*aggSeries]
	byKey   map[string]*aggSeries
	now     time.Time
	elapsed time.Duration // of the snapshot being consumed

	series  *metric.Gauge
	dropped *metric.Counter
	memory  *metric.Gauge
	detach  func()
}

type aggSeries struct {
	info SeriesInfo
	wins *window.Stack
	last float64 // a counter's value
	refs int     // live series with this key (a deleted one and its successor overlap for one tick)
}

// overCap is the state of series left out because of MaxSeries.
var overCap = &aggSeries{}

// SeriesInfo describes a series.
type SeriesInfo struct {
	Key  string      // name{labels}, as Point.Key
	Name string      // the metric name
	Kind metric.Kind // counter, gauge or histogram
	Unit string
	Help string
}

// New returns an Aggregator attached to m: its self-metrics are in
// m.Registry() and it consumes every later snapshot until Close. It panics
// on windows that are not positive or longer than 7 days (a programming
// error).
func New(m *vitals.Monitor, opts *Options) *Aggregator {
	var o Options
	if opts != nil {
		o = *opts
	}
	wins := slices.Clone(o.Windows)
	if len(wins) == 0 {
		wins = slices.Clone(DefaultWindows)
	}
	slices.Sort(wins)
	wins = slices.Compact(wins)
	for _, w := range wins {
		if w <= 0 || w > 7*24*time.Hour {
			panic(fmt.Sprintf("vitals/aggregate: window %v outside (0, 168h]", w))
		}
	}
	if o.Slots <= 0 {
		o.Slots = 20
	}
	if o.MaxSeries <= 0 {
		o.MaxSeries = 10000
	}
	a := &Aggregator{
		windows:   wins,
		slots:     min(o.Slots, 3600),
		maxSeries: o.MaxSeries,
		byKey:     make(map[string]*aggSeries),
	}
	r := m.Registry()
	a.series = r.Gauge(metric.Opts{Name: "vitals_window_series",
		Help: "Series whose rolling windows the aggregator keeps."})
	a.dropped = r.Counter(metric.Opts{Name: "vitals_window_series_dropped_total",
		Help: "Series left out of the rolling windows because the aggregator was at MaxSeries."})
	a.memory = r.Gauge(metric.Opts{Name: "vitals_window_memory_bytes", Unit: "bytes",
		Help: "Estimated heap held by the rolling windows, updated each minute."})
	a.detach = m.AddConsumer(a)
	return a
}

// Close detaches the Aggregator from its Monitor: the windows stop moving
// and keep answering as of the last snapshot consumed. It is idempotent.
func (a *Aggregator) Close() { a.detach() }

// Windows returns the window lengths kept, ascending.
func (a *Aggregator) Windows() []time.Duration { return slices.Clone(a.windows) }

// Consume feeds the windows from one snapshot. The Monitor calls it on the
// collector goroutine each tick.
func (a *Aggregator) Consume(s *vitals.Snapshot) {
	a.mu.Lock()
	defer a.mu.Unlock()
	prevMinute := a.now.Truncate(time.Minute)
	a.now, a.elapsed = s.Time, s.Elapsed
	a.tr.Update(s, a.apply, a.forget)
	a.series.Set(int64(len(a.byKey)))
	if !s.Time.Truncate(time.Minute).Equal(prevMinute) {
		a.memory.Set(int64(a.memBytesLocked()))
	}
}

func (a *Aggregator) apply(p *vitals.Point, st **aggSeries) {
	as := *st
	if as == overCap {
		return
	}
	if as == nil {
		key := p.Key()
		if a.byKey[key] == nil && len(a.byKey) >= a.maxSeries {
			a.dropped.Inc()
			*st = overCap
			return
		}
		as = a.byKey[key]
		if as == nil {
			as = &aggSeries{wins: window.NewStack(a.windows, a.slots), last: math.NaN()}
			// Series take turns at closing their coarse slots.
			a.created++
			as.wins.SetPhase(time.Duration(a.created) * a.windows[0] / time.Duration(a.slots))
			a.byKey[key] = as
		}
		as.info = SeriesInfo{Key: key, Name: p.Name(), Kind: p.Kind(), Unit: p.Unit(), Help: p.Help()}
		as.refs++
		*st = as
	}
	switch p.Kind() {
	case metric.KindHistogram:
		as.wins.AddHistogram(a.now, a.elapsed, p.Delta)
	case metric.KindCounter:
		as.wins.AddCounter(a.now, a.elapsed, p.Increase)
		if !math.IsNaN(p.Value) {
			as.last = p.Value
		}
	default:
		as.wins.AddGauge(a.now, a.elapsed, p.Value)
	}
}

// forget drops a series deleted from the registry.
func (a *Aggregator) forget(st **aggSeries) {
	as := *st
	if as == nil || as == overCap {
		return
	}
	if as.refs--; as.refs == 0 && a.byKey[as.info.Key] == as {
		delete(a.byKey, as.info.Key)
	}
}

// Stats returns the statistics of series key (as Point.Key prints it:
// name{label="value"}) over window w, which must be one of Windows. It
// reports false for an unknown series or window.
func (a *Aggregator) Stats(key string, w time.Duration) (window.Stats, bool) {
	i := slices.Index(a.windows, w)
	if i < 0 {
		return window.Stats{}, false
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	as := a.byKey[key]
	if as == nil {
		return window.Stats{}, false
	}
	return a.statsLocked(as, i), true
}

// StatsAll returns the statistics of series key over every window, in the
// order of Windows.
func (a *Aggregator) StatsAll(key string) ([]window.Stats, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	as := a.byKey[key]
	if as == nil {
		return nil, false
	}
	out := make([]window.Stats, len(a.windows))
	for i := range a.windows {
		out[i] = a.statsLocked(as, i)
	}
	return out, true
}

func (a *Aggregator) statsLocked(as *aggSeries, i int) window.Stats {
	st := as.wins.Stats(a.now, i)
	if as.info.Kind == metric.KindCounter {
		st.Last = as.last
	}
	return st
}

// Series lists the series with windows, sorted by key.
func (a *Aggregator) Series() []SeriesInfo {
	a.mu.Lock()
	out := make([]SeriesInfo, 0, len(a.byKey))
	for _, as := range a.byKey {
		out = append(out, as.info)
	}
	a.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

// Lookup returns the description of series key.
func (a *Aggregator) Lookup(key string) (SeriesInfo, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	as := a.byKey[key]
	if as == nil {
		return SeriesInfo{}, false
	}
	return as.info, true
}

// Now returns the time of the last snapshot consumed: the moment the
// windows end at.
func (a *Aggregator) Now() time.Time {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.now
}

// MemBytes estimates the heap the windows hold.
func (a *Aggregator) MemBytes() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.memBytesLocked()
}

func (a *Aggregator) memBytesLocked() int {
	n := 0
	for _, as := range a.byKey {
		n += 100 + len(as.info.Key) + as.wins.MemBytes()
	}
	return n
}
