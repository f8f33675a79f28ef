package metric

import (
	"fmt"
	"hash/maphash"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"
)

// Kind is the type of a metric family.
type Kind uint8

// The kinds of metric families.
const (
	KindCounter Kind = iota + 1
	KindGauge
	KindHistogram
)

// String returns the kind as the Prometheus text format names it.
func (k Kind) String() string {
	switch k {
	case KindCounter:
		return "counter"
	case KindGauge:
		return "gauge"
	case KindHistogram:
		return "histogram"
	}
	return "unknown"
}

// DefaultMaxSeries is the cardinality cap of a family whose Opts leave
// MaxSeries at 0.
const DefaultMaxSeries = 1000

// OverflowValue is the value of every label of a family's overflow series:
// the one series that takes the observations of label sets past the cap.
const OverflowValue = "__overflow__"

// Opts describes a metric family. Name and Help are required.
type Opts struct {
	// Name is the metric name (see ValidateName). Counters should end in
	// _total and carry their unit before it: http_request_bytes_total.
	Name string
	// Help is one line that says what is measured, in what unit.
	Help string
	// Unit is the base unit ("seconds", "bytes", "ratio", ...), shown in
	// OpenMetrics and in the series list. Optional.
	Unit string
	// Labels are the label names of a Vec; empty for a single series.
	Labels []string
	// MaxSeries caps the number of label sets of a Vec. Label sets past it
	// are folded into one overflow series whose label values are all
	// OverflowValue, and counted, once each, in
	// vitals_series_overflow_total (see Family.Overflowed). 0 means
	// DefaultMaxSeries; the overflow series does not count toward it.
	MaxSeries int
	// Buckets are the classic bucket bounds of a histogram; see
	// HistogramOpts.Buckets. nil means DefaultBuckets (powers of two);
	// PromDefBuckets gives client_golang's. Ignored for other kinds.
	Buckets []float64
}

// Series is one labelled series of a family. Exactly one of its instrument
// fields is set, according to the family's kind. A Series is immutable
// apart from its instrument's value.
type Series struct {
	// ID is unique within the registry and never reused.
	ID uint64
	// Values are the label values, in the order of Family.Labels.
	Values []string
	// Text is the label set rendered for the text formats, without braces:
	// `op="get",tier="l1"`; "" for a family without labels.
	Text string
	// Overflow marks the series that collects label sets past the cap.
	Overflow bool

	Counter    *Counter
	Gauge      *Gauge
	FloatGauge *FloatGauge
	Histogram  *Histogram

	fn atomic.Pointer[func() float64] // CounterFunc and GaugeFunc series
}

// IsFunc reports whether the series' value comes from a callback.
func (s *Series) IsFunc() bool {
	return s.Counter == nil && s.Gauge == nil && s.FloatGauge == nil && s.Histogram == nil
}

// Value returns a counter or gauge series' current value.
func (s *Series) Value() float64 {
	switch {
	case s.Counter != nil:
		return float64(s.Counter.Value())
	case s.Gauge != nil:
		return float64(s.Gauge.Value())
	case s.FloatGauge != nil:
		return s.FloatGauge.Value()
	}
	// Callbacks run at read time, on the reader's goroutine, never under a
	// vitals lock.
	if fn := s.fn.Load(); fn != nil {
		return (*fn)()
	}
	return math.NaN()
}

// Family is a named metric and its series.
type Family struct {
	Name      string
	Help      string
	Unit      string
	Kind      Kind
	Labels    []string
	MaxSeries int

	variant  variant
	buckets  []float64
	reg      *Registry
	overflow atomic.Uint64 // distinct label sets folded into the overflow series

	mu       sync.RWMutex
	index    map[string]*Series
	overS    *Series
	folded   map[uint64]struct{}       // fingerprints of the label sets counted in overflow
	series   atomic.Pointer[[]*Series] // copy on write, creation order
	rejected [numRejectReasons]atomic.Uint64
}

type variant uint8

const (
	varCounter variant = iota
	varGauge
	varFloatGauge
	varHistogram
	varCounterFunc
	varGaugeFunc
)

// Series returns the family's series in creation order. The slice is
// shared and must not be modified; it does not change after the call.
func (f *Family) Series() []*Series {
	if p := f.series.Load(); p != nil {
		return *p
	}
	return nil
}

// Overflowed returns how many distinct label sets were folded into the
// overflow series because the family was at its cap: asking for the same
// label set again, as a handler does on every request, counts once. The
// family remembers a 64-bit fingerprint of each folded set, at most
// maxFoldedTracked of them (about 600 KB); a family that folds more than
// that counts every lookup of a set it no longer tracks, so the number
// keeps rising (an upper bound) instead of stopping.
func (f *Family) Overflowed() uint64 { return f.overflow.Load() }

// maxFoldedTracked bounds the fingerprints a family keeps of folded label
// sets: a label explosion must not grow memory through its own counter.
const maxFoldedTracked = 1 << 15

var foldSeed = maphash.MakeSeed()

// Rejected returns the observations rejected for reason across the
// family's histograms, deleted series included.
func (f *Family) Rejected(reason RejectReason) uint64 {
	if reason >= numRejectReasons {
		return 0
	}
	n := f.rejected[reason].Load()
	for _, s := range f.Series() {
		if s.Histogram != nil {
			n += s.Histogram.Rejected(reason)
		}
	}
	return n
}

func (f *Family) newSeries(values []string, overflow bool) *Series {
	s := &Series{ID: f.reg.nextID.Add(1), Values: values, Overflow: overflow}
	s.Text = renderLabels(f.Labels, values)
	switch f.variant {
	case varCounter:
		s.Counter = newCounter()
	case varGauge:
		s.Gauge = new(Gauge)
	case varFloatGauge:
		s.FloatGauge = new(FloatGauge)
	case varHistogram:
		s.Histogram = NewHistogram(&HistogramOpts{Buckets: f.buckets})
	}
	return s
}

// get returns the series for values, creating it (or folding it into the
// overflow series) when it does not exist.
func (f *Family) get(values []string) *Series { return f.getInit(values, nil) }

// getInit is get with a function that completes a new series before it is
// published (a callback series must never be seen without its callback).
func (f *Family) getInit(values []string, init func(*Series)) *Series {
	if len(values) != len(f.Labels) {
		panic(fmt.Sprintf("vitals/metric: %s has %d labels %v, got %d values", f.Name, len(f.Labels), f.Labels, len(values)))
	}
	for i, v := range values {
		if !utf8.ValidString(v) {
			clean := make([]string, len(values))
			copy(clean, values)
			clean[i] = strings.ToValidUTF8(v, "\uFFFD")
			for j := i + 1; j < len(clean); j++ {
				clean[j] = strings.ToValidUTF8(clean[j], "\uFFFD")
			}
			values = clean
			break
		}
	}
	var buf [256]byte
	key := appendKey(buf[:0], values)
	f.mu.RLock()
	s := f.index[string(key)]
	f.mu.RUnlock()
	if s != nil {
		return s
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if s = f.index[string(key)]; s != nil {
		return s
	}
	if len(f.index) >= f.MaxSeries {
		fp := maphash.Bytes(foldSeed, key)
		if _, seen := f.folded[fp]; !seen {
			f.overflow.Add(1)
			if f.folded == nil {
				f.folded = make(map[uint64]struct{})
			}
			if len(f.folded) < maxFoldedTracked {
				f.folded[fp] = struct{}{}
			}
		}
		if f.overS == nil {
			vals := make([]string, len(f.Labels))
			for i := range vals {
				vals[i] = OverflowValue
			}
			f.overS = f.newSeries(vals, true)
			if init != nil {
				init(f.overS)
			}
			f.appendLocked(f.overS)
		}
		return f.overS
	}
	s = f.newSeries(append([]string(nil), values...), false)
	if init != nil {
		init(s)
	}
	if f.index == nil {
		f.index = make(map[string]*Series)
	}
	f.index[string(key)] = s
	f.appendLocked(s)
	return s
}

func (f *Family) appendLocked(s *Series) {
	old := f.Series()
	next := make([]*Series, len(old), len(old)+1)
	copy(next, old)
	next = append(next, s)
	f.series.Store(&next)
}

// delete removes the series for values. Handles to it keep working but are
// no longer exported.
func (f *Family) delete(values []string) bool {
	if len(values) != len(f.Labels) {
		return false
	}
	var buf [256]byte
	key := appendKey(buf[:0], values)
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.index[string(key)]
	if s == nil {
		return false
	}
	delete(f.index, string(key))
	if s.Histogram != nil {
		for r := range f.rejected {
			f.rejected[r].Add(s.Histogram.Rejected(RejectReason(r)))
		}
	}
	old := f.Series()
	next := make([]*Series, 0, len(old))
	for _, o := range old {
		if o != s {
			next = append(next, o)
		}
	}
	f.series.Store(&next)
	return true
}

// appendKey joins values with 0xff, a byte that valid UTF-8 never holds.
func appendKey(b []byte, values []string) []byte {
	for i, v := range values {
		if i > 0 {
			b = append(b, 0xff)
		}
		b = append(b, v...)
	}
	return b
}

func renderLabels(names, values []string) string {
	if len(names) == 0 {
		return ""
	}
	var b []byte
	for i, n := range names {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, n...)
		b = append(b, '=')
		b = AppendQuoted(b, values[i])
	}
	return string(b)
}

// AppendQuoted appends v as a quoted label value of the Prometheus text
// formats: backslash, double quote and newline escaped.
func AppendQuoted(b []byte, v string) []byte {
	b = append(b, '"')
	for i := 0; i < len(v); i++ {
		switch c := v[i]; c {
		case '\\':
			b = append(b, '\\', '\\')
		case '"':
			b = append(b, '\\', '"')
		case '\n':
			b = append(b, '\\', 'n')
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

// Vec is a family with labels, handing out one instrument per label set.
// Look a series up once and keep the handle: With takes a read lock and a
// map lookup, too much for a hot path.
type Vec[T any] struct {
	f   *Family
	get func(*Series) T
}

// With returns the instrument for the label values, in the order of the
// family's label names. It creates the series on first use; past the
// family's cap it returns the overflow series. It panics when the number
// of values does not match the number of labels.
func (v *Vec[T]) With(values ...string) T { return v.get(v.f.get(values)) }

// Delete removes the series for the label values and reports whether it
// existed. Handles to it keep working but are no longer exported.
func (v *Vec[T]) Delete(values ...string) bool { return v.f.delete(values) }

// Family returns the family behind v.
func (v *Vec[T]) Family() *Family { return v.f }

// FuncVec is a family of CounterFunc or GaugeFunc series: values computed
// by a callback when read, for numbers that live elsewhere (pool stats,
// runtime metrics).
type FuncVec struct{ f *Family }

// Bind sets the callback for a label set, replacing an earlier one. fn is
// called at read time from the reading goroutine; it must be safe for
// concurrent use and must not block.
func (v *FuncVec) Bind(fn func() float64, values ...string) {
	if fn == nil {
		panic("vitals/metric: Bind with a nil func on " + v.f.Name)
	}
	// A new series gets fn before it is published; an existing one (or the
	// overflow series) has it replaced.
	v.f.getInit(values, func(s *Series) { s.fn.Store(&fn) }).fn.Store(&fn)
}

// Delete removes the series for the label values.
func (v *FuncVec) Delete(values ...string) bool { return v.f.delete(values) }

// Family returns the family behind v.
func (v *FuncVec) Family() *Family { return v.f }
