package vitals

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bizra/vitals/metric"
)

// Options configures a Monitor. The zero value (or nil) gives the defaults
// written on each field.
type Options struct {
	// Registry holds the instruments the Monitor collects. nil: a new one.
	Registry *metric.Registry
	// Interval is the collector tick. 0: one second.
	Interval time.Duration
	// Clock stamps snapshots and drives windows. nil: the system clock.
	Clock Clock
	// Logger receives collector problems (a panicking callback or
	// consumer). nil: slog.Default().
	Logger *slog.Logger
	// MaxOperations caps the number of distinct operation names; past it,
	// operations are tracked under the name "__overflow__". 0: 500.
	MaxOperations int
}

// Consumer receives every snapshot on the collector goroutine, in the order
// consumers were added. Consume must return quickly (it delays the next
// tick); work that may block belongs on the consumer's own goroutine, fed
// through Subscribe. A panic in Consume is recovered, logged and counted.
type Consumer interface {
	Consume(s *Snapshot)
}

// consumerEntry is one added consumer. Its identity is the entry, not the
// consumer value: a ConsumerFunc or a consumer holding a slice is not
// comparable, and the same value may be added twice.
type consumerEntry struct {
	c      Consumer
	logged bool // its first panic was logged; later ones are only counted (collector goroutine)
}

// ConsumerFunc adapts a function to Consumer.
type ConsumerFunc func(s *Snapshot)

// Consume calls f(s).
func (f ConsumerFunc) Consume(s *Snapshot) { f(s) }

// Monitor owns a registry of instruments and the one collector loop that
// turns them into a Snapshot per tick for every consumer: rolling windows,
// history, health scoring, alerts and live streams. A Prometheus scrape
// reads the instruments directly and does not wait for a tick.
//
// Construct with New. Start begins ticking; Stop ends it and waits. Both
// are idempotent, and Stop before Start is safe. Collect runs one tick
// synchronously, which is how tests drive a Monitor with a ManualClock.
type Monitor struct {
	reg      *metric.Registry
	interval time.Duration
	clock    Clock
	log      *slog.Logger

	collectMu sync.Mutex // one collection at a time; held while consumers run
	seq       uint64
	prevTime  time.Time
	scratch   metric.HistogramValue
	lastSize  [2]int                  // bucket and classic arena sizes of the last tick
	changes   changeTracker           // per-tick changes, computed once for every consumer
	loggedFn  map[*metric.Series]bool // callbacks whose panic was logged: each is logged once, counted always

	latest atomic.Pointer[Snapshot]

	consMu    sync.Mutex
	consumers []*consumerEntry

	subMu sync.Mutex
	subs  map[*Subscription]struct{}

	ops    *operations
	maxOps int

	lifeMu  sync.Mutex
	started bool
	stopped bool
	cancel  context.CancelFunc
	done    chan struct{}

	// self-metrics
	ticks        *metric.Counter
	tickDuration *metric.Histogram
	lastTick     *metric.FloatGauge
	panics       *metric.Counter
	drops        *metric.Counter
	subscribers  *metric.Gauge
}

// New returns a Monitor. It allocates and registers its self-metrics; it
// starts nothing.
func New(opts *Options) *Monitor {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Registry == nil {
		o.Registry = metric.NewRegistry()
	}
	if o.Interval <= 0 {
		o.Interval = time.Second
	}
	if o.Clock == nil {
		o.Clock = systemClock{}
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.MaxOperations <= 0 {
		o.MaxOperations = 500
	}
	r := o.Registry
	m := &Monitor{
		reg:      r,
		interval: o.Interval,
		clock:    o.Clock,
		log:      o.Logger,
		subs:     make(map[*Subscription]struct{}),
		loggedFn: make(map[*metric.Series]bool),
		ticks: r.Counter(metric.Opts{Name: "vitals_collector_ticks_total",
			Help: "Collector ticks completed: each produced one snapshot."}),
		tickDuration: r.Histogram(metric.Opts{Name: "vitals_collector_tick_duration_seconds", Unit: "seconds",
			Help: "Time one collector tick took, consumers included."}),
		lastTick: r.FloatGauge(metric.Opts{Name: "vitals_collector_last_tick_timestamp_seconds", Unit: "seconds",
			Help: "Unix time of the last completed collector tick."}),
		panics: r.Counter(metric.Opts{Name: "vitals_collector_panics_total",
			Help: "Panics recovered in metric callbacks and snapshot consumers."}),
		drops: r.Counter(metric.Opts{Name: "vitals_subscriber_dropped_snapshots_total",
			Help: "Snapshots a slow subscriber missed because a newer one replaced them."}),
		subscribers: r.Gauge(metric.Opts{Name: "vitals_subscribers",
			Help: "Snapshot subscriptions currently open."}),
	}
	m.maxOps = o.MaxOperations
	m.ops = newOperations(m, o.MaxOperations)
	return m
}

// Registry returns the Monitor's registry.
func (m *Monitor) Registry() *metric.Registry { return m.reg }

// Interval returns the collector tick.
func (m *Monitor) Interval() time.Duration { return m.interval }

// MaxOperations returns the cap on distinct operation names:
// Options.MaxOperations, or its default (500) when that was 0 or negative.
// Components that key series by operation (vitalshttp's response series)
// cap themselves with it.
func (m *Monitor) MaxOperations() int { return m.maxOps }

// Clock returns the Monitor's clock.
func (m *Monitor) Clock() Clock { return m.clock }

// AddConsumer adds c to the consumers that every later snapshot is handed
// to, after those added before it, and returns the function that removes
// it again (idempotent; safe to call from Consume). Add consumers before
// Start to see every snapshot. Components (aggregate, history, the
// monitors) call it from their constructor and remove themselves in Close.
func (m *Monitor) AddConsumer(c Consumer) (remove func()) {
	e := &consumerEntry{c: c}
	m.consMu.Lock()
	m.consumers = append(m.consumers, e)
	m.consMu.Unlock()
	return func() {
		m.consMu.Lock()
		defer m.consMu.Unlock()
		if i := slices.Index(m.consumers, e); i >= 0 {
			// A new slice: a tick in progress keeps iterating its copy.
			m.consumers = slices.Delete(slices.Clone(m.consumers), i, i+1)
		}
	}
}

// Start starts the collector loop. It returns at once; calling it again,
// or after Stop, does nothing.
func (m *Monitor) Start() {
	m.lifeMu.Lock()
	defer m.lifeMu.Unlock()
	if m.started || m.stopped {
		return
	}
	m.started = true
	ctx, cancel := context.WithCancel(context.Background())
	m.cancel = cancel
	m.done = make(chan struct{})
	go m.loop(ctx)
}

// Stop ends the collector loop, waits for it, and closes every
// subscription. It is idempotent and safe before Start.
func (m *Monitor) Stop() {
	m.lifeMu.Lock()
	if m.stopped {
		m.lifeMu.Unlock()
		return
	}
	m.stopped = true
	cancel, done := m.cancel, m.done
	m.lifeMu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
	m.subMu.Lock()
	for s := range m.subs {
		s.closeLocked()
	}
	m.subMu.Unlock()
}

func (m *Monitor) loop(ctx context.Context) {
	defer close(m.done)
	t := time.NewTicker(m.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			m.Collect()
		}
	}
}

// Latest returns the most recent snapshot, or nil before the first tick.
func (m *Monitor) Latest() *Snapshot { return m.latest.Load() }

// LastTick returns the time of the last completed tick by the Monitor's
// clock, or the zero time before the first. Liveness probes compare it
// with the clock.
func (m *Monitor) LastTick() time.Time {
	if s := m.latest.Load(); s != nil {
		return s.Time
	}
	return time.Time{}
}

// Collect runs one tick now: it reads every series into a new Snapshot,
// hands it to the consumers, publishes it to subscribers and returns it.
// The loop started by Start calls it every Interval; tests call it
// directly.
func (m *Monitor) Collect() *Snapshot {
	m.collectMu.Lock()
	defer m.collectMu.Unlock()
	t0 := metric.Nanotime()
	now := m.clock.Now()
	s := m.read(now)
	m.latest.Store(s)

	m.ops.consume(s)
	m.consMu.Lock()
	cons := m.consumers // never modified in place: AddConsumer appends past len, remove copies
	m.consMu.Unlock()
	for _, e := range cons {
		m.safeConsume(e, s)
	}
	m.publish(s)

	m.ticks.Inc()
	m.tickDuration.ObserveDuration(time.Duration(metric.Nanotime() - t0))
	m.lastTick.Set(float64(now.UnixNano()) / 1e9)
	return s
}

// safeConsume hands s to one consumer, recovering a panic: it is counted
// every time and logged the first time for that consumer, and the other
// consumers are fed as usual.
func (m *Monitor) safeConsume(e *consumerEntry, s *Snapshot) {
	defer func() {
		if r := recover(); r != nil {
			m.panics.Inc()
			if !e.logged {
				e.logged = true
				m.log.Error("vitals: snapshot consumer panicked; later panics of this consumer are only counted",
					"consumer", fmt.Sprintf("%T", e.c), "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			}
		}
	}()
	e.c.Consume(s)
}

// read builds a snapshot. Its allocations are a handful per tick whatever
// the number of series: one slice of points, one of histogram values, and
// one arena each for bucket and classic counts, sized from the last tick.
func (m *Monitor) read(now time.Time) *Snapshot {
	m.seq++
	s := &Snapshot{Seq: m.seq, Time: now}
	if !m.prevTime.IsZero() && now.After(m.prevTime) {
		s.Elapsed = now.Sub(m.prevTime)
	}
	m.prevTime = now

	fams := m.reg.Families()
	nPoints, nHist := 0, 0
	for _, f := range fams {
		n := len(f.Series())
		nPoints += n
		if f.Kind == metric.KindHistogram {
			nHist += n
		}
	}
	s.Points = make([]Point, 0, nPoints)
	hvals := make([]metric.HistogramValue, 0, nHist)
	buckets := make([]metric.Bucket, 0, m.lastSize[0])
	classic := make([]uint64, 0, m.lastSize[1])
	for _, f := range fams {
		for _, ser := range f.Series() {
			p := Point{fam: f, ser: ser, Value: math.NaN()}
			switch {
			case ser.Histogram != nil:
				ser.Histogram.Read(&m.scratch)
				var hv *metric.HistogramValue
				if len(hvals) < cap(hvals) {
					hvals = append(hvals, m.scratch)
					hv = &hvals[len(hvals)-1]
				} else { // a histogram series was added since counting
					hv = new(metric.HistogramValue)
					*hv = m.scratch
				}
				b0, c0 := len(buckets), len(classic)
				buckets = append(buckets, m.scratch.Buckets...)
				classic = append(classic, m.scratch.ClassicCounts...)
				// Full slice expressions: a later append to the arena never
				// writes into this value's buckets.
				hv.Buckets = buckets[b0:len(buckets):len(buckets)]
				hv.ClassicCounts = classic[c0:len(classic):len(classic)]
				p.Hist = hv
			case ser.IsFunc():
				p.Value = m.callFunc(f, ser)
			default:
				p.Value = ser.Value()
			}
			s.Points = append(s.Points, p)
		}
	}
	m.lastSize = [2]int{len(buckets), len(classic)}
	m.changes.apply(s, nHist)
	return s
}

func (m *Monitor) callFunc(f *metric.Family, s *metric.Series) (v float64) {
	defer func() {
		if r := recover(); r != nil {
			m.panics.Inc()
			if !m.loggedFn[s] {
				m.loggedFn[s] = true
				m.log.Error("vitals: metric callback panicked; it reads NaN, later panics are only counted",
					"metric", f.Name, "labels", s.Text, "panic", fmt.Sprint(r))
			}
			v = math.NaN()
		}
	}()
	return s.Value()
}
