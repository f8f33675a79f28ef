package window

import (
	"math"
	"time"

	"github.com/bizra/vitals/metric"
)

// Ring is a rolling time window over one series, fed with per-tick deltas.
// It keeps Slots sub-windows of Length/Slots each and a running total:
// adding a delta touches the current slot and the total; a slot that
// expires is subtracted from the total. The cost of a tick is proportional
// to the delta's size (its populated buckets), never to the window length.
//
// Quantiles come from the merged bucket counts of the window, never from
// averaging per-slot percentiles, so they keep the histogram's 1% bound.
//
// A Ring is not safe for concurrent use; its owner (one consumer of the
// Monitor's snapshots) serialises access.
type Ring struct {
	length  time.Duration
	slotDur time.Duration
	slots   []slot
	head    int       // index of the current slot
	start   time.Time // start of the current slot
	total   agg
	last    float64
	hasLast bool
}

type slot struct {
	agg
	min, max float64 // gauge samples or histogram bucket extremes; NaN when empty
}

type agg struct {
	n     uint64        // ticks (samples) added
	dur   time.Duration // time the ticks cover
	count float64       // counter increase, or histogram observations
	sum   float64       // gauge samples' sum, or histogram values' sum
	hist  metric.HistogramValue
	isH   bool
}

// New returns a Ring of the given length split into slots sub-windows.
// slots is clamped to [1, 3600].
func New(length time.Duration, slots int) *Ring {
	slots = min(max(slots, 1), 3600)
	if length <= 0 {
		length = time.Minute
	}
	r := &Ring{length: length, slotDur: length / time.Duration(slots), slots: make([]slot, slots)}
	for i := range r.slots {
		r.slots[i].min, r.slots[i].max = math.NaN(), math.NaN()
	}
	return r
}

// Length returns the window's length.
func (r *Ring) Length() time.Duration { return r.length }

// advance rotates slots so that now falls in the current one. A clock that
// goes backwards leaves the window as it is; one that jumps forward by more
// than the window empties it.
func (r *Ring) advance(now time.Time) {
	if r.start.IsZero() {
		r.start = now.Truncate(r.slotDur)
		return
	}
	if now.Before(r.start) {
		return
	}
	steps := int64(now.Sub(r.start) / r.slotDur)
	if steps <= 0 {
		return
	}
	if steps >= int64(len(r.slots)) {
		for i := range r.slots {
			r.clearSlot(i)
		}
		r.total = agg{hist: metric.HistogramValue{Buckets: r.total.hist.Buckets[:0]}}
		r.start = now.Truncate(r.slotDur)
		return
	}
	for ; steps > 0; steps-- {
		r.head = (r.head + 1) % len(r.slots)
		r.expire(r.head)
		r.start = r.start.Add(r.slotDur)
	}
}

// expire subtracts slot i from the total and empties it.
func (r *Ring) expire(i int) {
	s := &r.slots[i]
	if s.n != 0 {
		r.total.n -= s.n
		r.total.dur -= s.dur
		r.total.count -= s.count
		r.total.sum -= s.sum
		if s.isH {
			subBuckets(&r.total.hist, &s.hist)
		}
		if r.total.n == 0 { // keep float drift from accumulating
			r.total.count, r.total.sum = 0, 0
		}
	}
	r.clearSlot(i)
}

func (r *Ring) clearSlot(i int) {
	s := &r.slots[i]
	b := s.hist.Buckets[:0]
	*s = slot{min: math.NaN(), max: math.NaN()}
	s.hist.Buckets = b
}

// The Add methods take the time of the tick and the time it covers
// (elapsed since the previous tick), which rates are computed from.

// AddCounter adds a counter's increase during one tick.
func (r *Ring) AddCounter(now time.Time, elapsed time.Duration, increase float64) {
	r.advance(now)
	s := &r.slots[r.head]
	s.n++
	s.dur += elapsed
	s.count += increase
	r.total.n++
	r.total.dur += elapsed
	r.total.count += increase
}

// AddGauge adds one gauge sample.
func (r *Ring) AddGauge(now time.Time, elapsed time.Duration, v float64) {
	r.advance(now)
	r.last, r.hasLast = v, true
	if math.IsNaN(v) {
		return
	}
	s := &r.slots[r.head]
	s.n++
	s.dur += elapsed
	s.sum += v
	s.min = nanMin(s.min, v)
	s.max = nanMax(s.max, v)
	r.total.n++
	r.total.dur += elapsed
	r.total.sum += v
}

// AddHistogram adds the observations of one tick (a delta from
// HistogramValue.Sub). d is not retained.
func (r *Ring) AddHistogram(now time.Time, elapsed time.Duration, d *metric.HistogramValue) {
	r.advance(now)
	s := &r.slots[r.head]
	s.isH, r.total.isH = true, true
	s.n++
	s.dur += elapsed
	r.total.n++
	r.total.dur += elapsed
	if d.Count == 0 {
		return
	}
	s.count += float64(d.Count)
	s.sum += d.Sum
	s.hist.Add(d)
	r.total.count += float64(d.Count)
	r.total.sum += d.Sum
	r.total.hist.Add(d)
	lo, hi := deltaExtremes(d)
	s.min = nanMin(s.min, lo)
	s.max = nanMax(s.max, hi)
}

// deltaExtremes bounds the smallest and largest value of a delta by its
// lowest and highest populated bucket, clamped to the lifetime extremes
// (exact when the delta holds the lifetime minimum or maximum).
func deltaExtremes(d *metric.HistogramValue) (lo, hi float64) {
	lo, hi = d.Min, d.Max
	if d.ZeroCount == 0 && len(d.Buckets) > 0 {
		l, _ := metric.BucketBounds(d.Schema, d.Buckets[0].Key)
		lo = math.Max(lo, l)
	}
	if n := len(d.Buckets); n > 0 {
		_, u := metric.BucketBounds(d.Schema, d.Buckets[n-1].Key)
		hi = math.Min(hi, u)
	} else if d.ZeroCount > 0 {
		hi = math.Min(hi, d.ZeroThreshold)
	}
	return lo, hi
}

// subBuckets removes b's observations from a, dropping emptied buckets.
func subBuckets(a, b *metric.HistogramValue) {
	a.Count -= min(a.Count, b.Count)
	a.ZeroCount -= min(a.ZeroCount, b.ZeroCount)
	a.Sum -= b.Sum
	j := 0
	out := a.Buckets[:0]
	for _, x := range a.Buckets {
		for j < len(b.Buckets) && b.Buckets[j].Key < x.Key {
			j++
		}
		if j < len(b.Buckets) && b.Buckets[j].Key == x.Key {
			x.Count -= min(x.Count, b.Buckets[j].Count)
		}
		if x.Count != 0 {
			out = append(out, x)
		}
	}
	a.Buckets = out
	for i := range a.ClassicCounts {
		if i < len(b.ClassicCounts) {
			a.ClassicCounts[i] -= min(a.ClassicCounts[i], b.ClassicCounts[i])
		}
	}
}

// nanMin and nanMax treat NaN as "no value yet".
func nanMin(a, b float64) float64 {
	if math.IsNaN(b) {
		return a
	}
	if math.IsNaN(a) || b < a {
		return b
	}
	return a
}

func nanMax(a, b float64) float64 {
	if math.IsNaN(b) {
		return a
	}
	if math.IsNaN(a) || b > a {
		return b
	}
	return a
}

// Stats are a window's statistics at one moment. Fields that do not apply
// to the series' kind, or that have no data, are NaN.
type Stats struct {
	Window  time.Duration // the window's length
	Covered time.Duration // how much of it holds data (less just after start)
	Samples uint64        // ticks in the window
	Count   float64       // counter increase, or histogram observations
	Sum     float64       // histogram values' sum, or gauge samples' sum
	Rate    float64       // Count per second over Covered
	Min     float64       // gauge: exact; histogram: within one bucket (0.54%)
	Max     float64
	Avg     float64 // gauge: mean sample; histogram: Sum/Count
	Last    float64 // gauge: latest sample
	P50     float64
	P90     float64
	P95     float64
	P99     float64
	P999    float64
}

// Stats returns the window's statistics as of now.
func (r *Ring) Stats(now time.Time) Stats {
	r.advance(now)
	nan := math.NaN()
	st := Stats{Window: r.length, Samples: r.total.n, Count: r.total.count, Sum: r.total.sum,
		Rate: nan, Min: nan, Max: nan, Avg: nan, Last: nan, P50: nan, P90: nan, P95: nan, P99: nan, P999: nan}
	if r.start.IsZero() {
		return st
	}
	st.Covered = min(r.total.dur, r.length)
	if r.hasLast {
		st.Last = r.last
	}
	for i := range r.slots {
		st.Min = nanMin(st.Min, r.slots[i].min)
		st.Max = nanMax(st.Max, r.slots[i].max)
	}
	if r.total.isH {
		st.Sum = r.total.hist.Sum
		if r.total.hist.Count > 0 {
			h := &r.total.hist
			st.Avg = h.Sum / float64(h.Count)
			st.P50, st.P90, st.P95 = h.Quantile(0.5), h.Quantile(0.9), h.Quantile(0.95)
			st.P99, st.P999 = h.Quantile(0.99), h.Quantile(0.999)
		}
	} else if r.total.n > 0 && r.hasLast {
		st.Avg = r.total.sum / float64(r.total.n)
	}
	if sec := st.Covered.Seconds(); sec > 0 {
		st.Rate = st.Count / sec
	}
	return st
}

// Histogram returns the window's merged histogram. The value is a copy.
func (r *Ring) Histogram(now time.Time) metric.HistogramValue {
	r.advance(now)
	return r.total.hist.Clone()
}
