package store

import (
	"context"
	"github.com/prometheus/common/model"
	"math"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/util/annotations"

	"github.com/bizra/vitals"
	"github.com/bizra/vitals/metric"
)

// Options configure a Store; nil means all defaults.
type Options struct {
	// Retention is how long samples are kept (the Gatherer's:
	// GathererRetention). Default 1h.
	Retention time.Duration
	// Resolution is the minimum time between two kept ticks. Default 5s.
	Resolution time.Duration
	// Labels are added to every series, as a scrape adds job and
	// instance. Default job="vitals". A family label of the same name is
	// renamed exported_<name>, as Prometheus does.
	Labels map[string]string
	// MaxSeries bounds the series kept; samples of series past it are
	// dropped and counted in vitals_promql_store_series_dropped_total.
	// Default 20000.
	MaxSeries int
	// Gatherer, when set, is gathered at every kept tick and its families
	// stored too: pass the Go runtime and process collectors so that the
	// system alerts can be evaluated in process.
	Gatherer prometheus.Gatherer
	// GathererRetention is how long the Gatherer's samples are kept:
	// they are not in history (alerting/histstore), so the ring is all
	// the rules over them see. Default 2h, the longest offset + range over
	// them in the shipped rules (VitalsGoroutineLeak's
	// avg_over_time(go_goroutines[1h] offset 1h)); never less than
	// Retention.
	GathererRetention time.Duration
}

// Defaults.
const (
	DefaultRetention  = time.Hour
	DefaultResolution = 5 * time.Second
	DefaultMaxSeries  = 20000

	DefaultGathererRetention = 2 * time.Hour
)

// absent marks a tick at which a series had no sample. It is a NaN with a
// payload distinct from Prometheus' stale marker and from math.NaN().
var absent = math.Float64frombits(0x7ff00000000000ab)

func isAbsent(v float64) bool { return math.Float64bits(v) == math.Float64bits(absent) }

// staleHist is the stale marker of a histogram series.
var staleHist = &histogram.FloatHistogram{Sum: math.Float64frombits(value.StaleNaN)}

// Store is the ring of samples. Create it with New.
type Store struct {
	mu        sync.RWMutex
	n         uint64  // ticks kept of the vitals series
	gn        uint64  // ticks kept of the gathered series, >= n
	ts        []int64 // ring of tick timestamps (ms) of the last gn ticks
	ticks     uint64  // ticks written; tick k (0-based) is at ts[k % gn]
	lastKept  time.Time
	res       time.Duration
	extra     labels.Labels
	extraMap  map[string]string
	maxSeries int
	byID      map[uint64]*memSeries // vitals series by Series ID
	byHash    map[uint64]*memSeries // gathered series by label hash
	byName    map[string][]*memSeries
	gatherer  prometheus.Gatherer
	dropped   uint64

	seriesG  *metric.Gauge
	droppedC *metric.Counter
	bytesG   *metric.Gauge
	remove   func()
}

// memSeries is one series' ring: n slots (Store.n for vitals series,
// Store.gn for gathered ones), tick k (0-based) at slot k % n, its
// timestamp at Store.ts[k % Store.gn].
type memSeries struct {
	lset  labels.Labels
	name  string
	n     uint64    // slots: ticks kept
	seen  uint64    // last tick (1-based) that wrote a sample; 0 never
	first uint64    // first tick (1-based) written
	vals  []float64 // float samples; nil for histograms
	hists []*histogram.FloatHistogram
}

// New returns a Store attached to m as a consumer, with its self-metrics
// in m's registry. Close detaches it.
func New(m *vitals.Monitor, opts *Options) *Store {
	s := newStore(opts)
	r := m.Registry()
	s.seriesG = r.Gauge(metric.Opts{Name: "vitals_promql_store_series", Help: "Series in the in-process PromQL store's sample ring."})
	s.droppedC = r.Counter(metric.Opts{Name: "vitals_promql_store_series_dropped_total", Help: "Samples of series past the in-process PromQL store's series cap, dropped."})
	s.bytesG = r.Gauge(metric.Opts{Name: "vitals_promql_store_memory_bytes", Unit: "bytes", Help: "Estimated memory of the in-process PromQL store's sample ring."})
	s.remove = m.AddConsumer(s)
	return s
}

// NewDetached returns a Store fed only through Consume (tests, or a
// consumer chain of your own).
func NewDetached(opts *Options) *Store { return newStore(opts) }

func newStore(opts *Options) *Store {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Retention <= 0 {
		o.Retention = DefaultRetention
	}
	if o.Resolution <= 0 {
		o.Resolution = DefaultResolution
	}
	if o.MaxSeries <= 0 {
		o.MaxSeries = DefaultMaxSeries
	}
	if o.Labels == nil {
		o.Labels = map[string]string{"job": "vitals"}
	}
	if o.GathererRetention <= 0 {
		o.GathererRetention = DefaultGathererRetention
	}
	n := uint64(o.Retention/o.Resolution) + 1
	gn := n
	if o.Gatherer != nil {
		gn = max(n, uint64(o.GathererRetention/o.Resolution)+1)
	}
	return &Store{
		n: n, gn: gn, ts: make([]int64, gn), res: o.Resolution, extra: labels.FromMap(o.Labels), extraMap: o.Labels,
		maxSeries: o.MaxSeries, byID: map[uint64]*memSeries{}, byHash: map[uint64]*memSeries{},
		byName: map[string][]*memSeries{}, gatherer: o.Gatherer,
	}
}

// Close detaches the Store from its Monitor. Queries keep working on the
// samples already kept.
func (s *Store) Close() {
	if s.remove != nil {
		s.remove()
	}
}

// Consume keeps the snapshot's samples when Resolution has passed since
// the last kept tick.
func (s *Store) Consume(snap *vitals.Snapshot) {
	if !s.lastKept.IsZero() && snap.Time.Sub(s.lastKept) < s.res-s.res/10 {
		return
	}
	var gathered []*dto.MetricFamily
	if s.gatherer != nil {
		gathered, _ = s.gatherer.Gather() // partial results are still stored
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lastKept = snap.Time
	t, tg := s.ticks%s.n, s.ticks%s.gn // the slots of vitals and gathered series
	s.ticks++
	tick := s.ticks // 1-based tick number
	s.ts[tg] = snap.Time.UnixMilli()
	for i := range snap.Points {
		p := &snap.Points[i]
		ms := s.byID[p.SeriesID()]
		if ms == nil {
			if ms = s.addLocked(s.pointLabels(p), p.Name(), p.Kind() == metric.KindHistogram, s.n); ms == nil {
				continue
			}
			s.byID[p.SeriesID()] = ms
		}
		if p.Hist != nil {
			ms.setHist(t, tick, toHistogram(p.Hist, ms.prevHist(tick)))
		} else {
			ms.setFloat(t, tick, p.Value)
		}
	}
	s.storeGatheredLocked(gathered, tg, tick)
	s.sweepLocked(t, tg, tick)
	if s.seriesG != nil {
		s.seriesG.Set(int64(len(s.byID) + len(s.byHash)))
		// The estimate walks every kept histogram: once a minute is plenty.
		if tick%uint64(max(1, time.Minute/s.res)) == 1 {
			s.bytesG.Set(s.memoryLocked())
		}
	}
}

// pointLabels returns the Prometheus labels of a vitals point.
func (s *Store) pointLabels(p *vitals.Point) labels.Labels {
	return s.SeriesLabels(p.Name(), p.LabelNames(), p.LabelValues())
}

// SeriesLabels returns the labels the Store gives the vitals series of
// metric name with the given label names and values: the name, the
// labels (one named like an Options.Labels label renamed exported_<name>)
// and Options.Labels.
func (s *Store) SeriesLabels(name string, names, values []string) labels.Labels {
	b := labels.NewScratchBuilder(len(names) + s.extra.Len() + 1)
	b.Add(model.MetricNameLabel, name)
	for i, n := range names {
		if _, clash := s.extraMap[n]; clash {
			n = "exported_" + n
		}
		b.Add(n, values[i])
	}
	s.extra.Range(func(l labels.Label) { b.Add(l.Name, l.Value) })
	b.Sort()
	return b.Labels()
}

func (s *Store) addLocked(lset labels.Labels, name string, hist bool, n uint64) *memSeries {
	if len(s.byID)+len(s.byHash) >= s.maxSeries {
		s.dropped++
		if s.droppedC != nil {
			s.droppedC.Inc()
		}
		return nil
	}
	ms := &memSeries{lset: lset, name: name, n: n}
	if hist {
		ms.hists = make([]*histogram.FloatHistogram, n)
	} else {
		ms.vals = make([]float64, n)
		for i := range ms.vals {
			ms.vals[i] = absent
		}
	}
	s.byName[name] = append(s.byName[name], ms)
	return ms
}

func (ms *memSeries) setFloat(t, tick uint64, v float64) {
	if ms.vals == nil { // a family that changed kind: keep the first kind
		return
	}
	ms.vals[t] = v
	if ms.first == 0 {
		ms.first = tick
	}
	ms.seen = tick
}

func (ms *memSeries) setHist(t, tick uint64, h *histogram.FloatHistogram) {
	if ms.hists == nil {
		return
	}
	ms.hists[t] = h
	if ms.first == 0 {
		ms.first = tick
	}
	ms.seen = tick
}

// prevHist returns the series' sample of the previous tick, if any.
func (ms *memSeries) prevHist(tick uint64) *histogram.FloatHistogram {
	if ms.seen == 0 || ms.seen != tick-1 || ms.hists == nil {
		return nil
	}
	return ms.hists[(tick-2)%ms.n]
}

// sweepLocked marks the series without a sample at this tick: a stale
// marker right after the last sample (so PromQL drops the series at once,
// as after a scrape that no longer has it), absent after that, and the
// series is forgotten once its last sample has left the ring. t and tg
// are the tick's slots in the vitals and the gathered series' rings.
func (s *Store) sweepLocked(t, tg, tick uint64) {
	forget := func(ms *memSeries, t uint64) bool {
		if ms.seen == tick {
			return false
		}
		switch {
		case ms.seen == tick-1 && ms.vals != nil:
			ms.vals[t] = math.Float64frombits(value.StaleNaN)
		case ms.seen == tick-1:
			ms.hists[t] = staleHist
		case ms.vals != nil:
			ms.vals[t] = absent
		default:
			ms.hists[t] = nil
		}
		if tick-ms.seen >= ms.n {
			s.byName[ms.name] = slices.DeleteFunc(s.byName[ms.name], func(o *memSeries) bool { return o == ms })
			if len(s.byName[ms.name]) == 0 {
				delete(s.byName, ms.name)
			}
			return true
		}
		return false
	}
	for id, ms := range s.byID {
		if forget(ms, t) {
			delete(s.byID, id)
		}
	}
	for h, ms := range s.byHash {
		if forget(ms, tg) {
			delete(s.byHash, h)
		}
	}
}

// memoryLocked estimates the ring's memory: timestamps, float slots,
// histogram slots and the buckets of kept histograms.
func (s *Store) memoryLocked() int64 {
	total := int64(8 * len(s.ts))
	count := func(ms *memSeries) {
		total += int64(ms.lset.ByteSize()) + 64
		if ms.vals != nil {
			total += int64(8 * len(ms.vals))
			return
		}
		total += int64(8 * len(ms.hists))
		var prevSpans []histogram.Span
		for _, h := range ms.hists {
			if h == nil || h == staleHist {
				continue
			}
			total += 96 + int64(8*len(h.PositiveBuckets))
			if len(h.PositiveSpans) > 0 && (len(prevSpans) == 0 || &h.PositiveSpans[0] != &prevSpans[0]) {
				total += int64(8 * len(h.PositiveSpans))
			}
			prevSpans = h.PositiveSpans
		}
	}
	for _, ms := range s.byID {
		count(ms)
	}
	for _, ms := range s.byHash {
		count(ms)
	}
	return total
}

// Memory returns the estimated memory of the ring in bytes.
func (s *Store) Memory() int64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.memoryLocked()
}

// Series returns the number of series kept.
func (s *Store) Series() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.byID) + len(s.byHash)
}

// FloatHistogram converts a vitals histogram value to the native
// histogram the Store keeps for it (schema, zero bucket, sparse buckets,
// count and sum), with an unknown counter-reset hint.
func FloatHistogram(hv *metric.HistogramValue) *histogram.FloatHistogram { return toHistogram(hv, nil) }

// toHistogram converts a vitals histogram to a Prometheus native
// histogram, kept in float form because that is what the engine reads
// (converting on every read cost more than the query itself), sharing
// prev's spans when equal.
func toHistogram(hv *metric.HistogramValue, prev *histogram.FloatHistogram) *histogram.FloatHistogram {
	// A vitals histogram only grows; a smaller count is a new series
	// behind the same labels. Saying so spares the engine comparing every
	// bucket of consecutive samples to detect resets.
	hint := histogram.UnknownCounterReset
	if prev != nil && prev != staleHist {
		hint = histogram.NotCounterReset
		if float64(hv.Count) < prev.Count {
			hint = histogram.CounterReset
		}
	}
	h := &histogram.FloatHistogram{
		CounterResetHint: hint,
		Schema:           hv.Schema,
		ZeroThreshold:    hv.ZeroThreshold,
		ZeroCount:        float64(hv.ZeroCount),
		Count:            float64(hv.Count),
		Sum:              hv.Sum,
	}
	if len(hv.Buckets) == 0 {
		return h
	}
	var spans []histogram.Span
	counts := make([]float64, 0, len(hv.Buckets))
	var last int32
	for i, b := range hv.Buckets {
		gap := b.Key - last - 1
		switch {
		case i == 0:
			spans = append(spans, histogram.Span{Offset: b.Key})
		case gap > 2:
			spans = append(spans, histogram.Span{Offset: gap})
		default:
			for range gap {
				counts = append(counts, 0)
				spans[len(spans)-1].Length++
			}
		}
		counts = append(counts, float64(b.Count))
		spans[len(spans)-1].Length++
		last = b.Key
	}
	if prev != nil && slices.Equal(prev.PositiveSpans, spans) {
		spans = prev.PositiveSpans
	}
	h.PositiveSpans, h.PositiveBuckets = spans, counts
	return h
}

// Head is the oldest sample the Store keeps of a series.
type Head struct {
	Labels labels.Labels
	T      int64                     // milliseconds
	F      float64                   // a float sample's value
	H      *histogram.FloatHistogram // a histogram sample; shared with the ring: do not modify
}

// Oldest returns the timestamp (milliseconds) of the oldest tick the ring
// keeps of the vitals series (Retention); ok is false when the ring is
// empty. The Gatherer's series reach further back, GathererRetention.
func (s *Store) Oldest() (t int64, ok bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.ticks == 0 {
		return 0, false
	}
	return s.ts[s.startLocked(s.n)%s.gn], true
}

// startLocked returns the oldest tick (0-based) a ring of n slots keeps.
func (s *Store) startLocked(n uint64) uint64 { return s.ticks - min(s.ticks, n) }

// Heads returns the timestamp (milliseconds) of the oldest tick the ring
// keeps of the vitals series (as Oldest), and the oldest sample, stale
// markers aside, of every kept series matching ms, sorted by labels: a
// series of the Gatherer's may have one older than that tick. ok is false
// when the ring is empty.
func (s *Store) Heads(ms ...*labels.Matcher) (oldest int64, heads []Head, ok bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.ticks == 0 {
		return 0, nil, false
	}
	oldest = s.ts[s.startLocked(s.n)%s.gn]
	for _, m := range s.matchingLocked(ms) {
		start := s.startLocked(m.n)
		if m.first > start+1 {
			start = m.first - 1
		}
		for k := start; k < s.ticks; k++ {
			i, t := k%m.n, s.ts[k%s.gn]
			if m.vals != nil {
				if v := m.vals[i]; !isAbsent(v) && !value.IsStaleNaN(v) {
					heads = append(heads, Head{Labels: m.lset, T: t, F: v})
					break
				}
			} else if h := m.hists[i]; h != nil && h != staleHist {
				heads = append(heads, Head{Labels: m.lset, T: t, H: h})
				break
			}
		}
	}
	sort.Slice(heads, func(i, j int) bool { return labels.Compare(heads[i].Labels, heads[j].Labels) < 0 })
	return oldest, heads, true
}

// Querier implements storage.Queryable.
func (s *Store) Querier(mint, maxt int64) (storage.Querier, error) {
	return &querier{s: s, mint: mint, maxt: maxt}, nil
}

type querier struct {
	s          *Store
	mint, maxt int64
}

func (q *querier) Close() error { return nil }

// matching returns the series matching ms, under the read lock.
func (s *Store) matchingLocked(ms []*labels.Matcher) []*memSeries {
	var candidates []*memSeries
	named := false
	for _, m := range ms {
		if m.Name == model.MetricNameLabel && m.Type == labels.MatchEqual {
			candidates, named = s.byName[m.Value], true
			break
		}
	}
	if !named {
		for _, l := range s.byName {
			candidates = append(candidates, l...)
		}
	}
	var out []*memSeries
outer:
	for _, c := range candidates {
		for _, m := range ms {
			if !m.Matches(c.lset.Get(m.Name)) {
				continue outer
			}
		}
		out = append(out, c)
	}
	return out
}

func (q *querier) Select(ctx context.Context, _ bool, hints *storage.SelectHints, ms ...*labels.Matcher) storage.SeriesSet {
	mint, maxt := q.mint, q.maxt
	if hints != nil {
		mint, maxt = max(mint, hints.Start), min(maxt, hints.End)
	}
	s := q.s
	s.mu.RLock()
	found := s.matchingLocked(ms)
	out := make([]*series, 0, len(found))
	if hints == nil || hints.Func != "series" {
		for _, m := range found {
			sr := &series{lset: m.lset}
			// Oldest kept tick first: k's slot i in the series' ring, j in
			// the timestamps'.
			k := s.startLocked(m.n)
			if m.first > k+1 {
				k = m.first - 1
			}
			for i, j := k%m.n, k%s.gn; k < s.ticks; k++ {
				if t := s.ts[j]; t >= mint && t <= maxt {
					if m.vals != nil {
						if v := m.vals[i]; !isAbsent(v) {
							sr.samples = append(sr.samples, Sample{Time: t, Value: v})
						}
					} else if h := m.hists[i]; h != nil {
						sr.samples = append(sr.samples, Sample{Time: t, Hist: h})
					}
				}
				if i++; i == m.n {
					i = 0
				}
				if j++; j == s.gn {
					j = 0
				}
			}
			if len(sr.samples) > 0 {
				out = append(out, sr)
			}
		}
	} else {
		for _, m := range found {
			out = append(out, &series{lset: m.lset})
		}
	}
	s.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return labels.Compare(out[i].lset, out[j].lset) < 0 })
	list := make([]storage.Series, len(out))
	for i, sr := range out {
		list[i] = sr
	}
	return NewSeriesSet(list)
}

func (q *querier) LabelValues(ctx context.Context, name string, _ *storage.LabelHints, ms ...*labels.Matcher) ([]string, annotations.Annotations, error) {
	q.s.mu.RLock()
	defer q.s.mu.RUnlock()
	set := map[string]struct{}{}
	for _, m := range q.s.matchingLocked(ms) {
		if v := m.lset.Get(name); v != "" {
			set[v] = struct{}{}
		}
	}
	return sortedKeys(set), nil, nil
}

func (q *querier) LabelNames(ctx context.Context, _ *storage.LabelHints, ms ...*labels.Matcher) ([]string, annotations.Annotations, error) {
	q.s.mu.RLock()
	defer q.s.mu.RUnlock()
	set := map[string]struct{}{}
	for _, m := range q.s.matchingLocked(ms) {
		m.lset.Range(func(l labels.Label) { set[l.Name] = struct{}{} })
	}
	return sortedKeys(set), nil, nil
}

func sortedKeys(set map[string]struct{}) []string {
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
