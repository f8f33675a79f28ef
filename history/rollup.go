package history

import (
	"math"
	"time"

	"github.com/bizra/vitals/metric"
)

// rollup is one series' data over one step: a record of a frame, or a sum
// of records. Which fields mean what depends on the kind:
//
//	          counter                 gauge            histogram
//	a         increase                samples' sum     -
//	n         -                       samples          -
//	lo, hi    per-tick increase       samples          bucket bounds of the
//	          extremes (ticks that    extremes         observations, clamped
//	          covered time)                            to lifetime extremes
//	last      - (not stored)          latest sample    -
//	h         -                       -                observations
//
// ticks and ms are the collector ticks the step holds and the milliseconds
// they cover. Missing extremes and last values are NaN.
type rollup struct {
	kind   metric.Kind
	ticks  uint64
	ms     uint64
	n      uint64
	a      float64
	lo, hi float64
	last   float64
	h      metric.HistogramValue // Count, ZeroCount, Sum, Schema, ZeroThreshold, Buckets
}

func (r *rollup) reset(k metric.Kind) {
	b := r.h.Buckets[:0]
	*r = rollup{kind: k, lo: math.NaN(), hi: math.NaN(), last: math.NaN()}
	r.h.Buckets = b
}

// addTick counts one collector tick covering elapsed.
func (r *rollup) addTick(elapsed, step time.Duration) {
	r.ticks++
	r.ms += uint64(min(max(elapsed, 0), step) / time.Millisecond)
}

// addCounter adds a counter's change over one tick. A tick on first sight
// or covering no time carries an increase but no per-tick extreme.
func (r *rollup) addCounter(increase, value float64, elapsed time.Duration, first bool) {
	if !math.IsNaN(increase) {
		r.a += increase
		if elapsed > 0 && !first {
			r.lo = nanMin(r.lo, increase)
			r.hi = nanMax(r.hi, increase)
		}
	}
	if !math.IsNaN(value) {
		r.last = value
	}
}

func (r *rollup) addGauge(v float64) {
	if math.IsNaN(v) {
		return
	}
	r.n++
	r.a += v
	r.lo = nanMin(r.lo, v)
	r.hi = nanMax(r.hi, v)
	r.last = v
}

func (r *rollup) addHist(d *metric.HistogramValue) {
	if d.Count == 0 {
		return
	}
	lo, hi := d.Extremes()
	r.lo = nanMin(r.lo, lo)
	r.hi = nanMax(r.hi, hi)
	addHistValue(&r.h, d)
}

// merge adds o, a later step or the same step's late data, into r.
func (r *rollup) merge(o *rollup) {
	if r.kind == 0 {
		r.reset(o.kind)
	}
	r.ticks += o.ticks
	r.ms += o.ms
	r.n += o.n
	r.a += o.a
	r.lo = nanMin(r.lo, o.lo)
	r.hi = nanMax(r.hi, o.hi)
	if !math.IsNaN(o.last) {
		r.last = o.last
	}
	if o.h.Count != 0 || len(o.h.Buckets) != 0 {
		addHistValue(&r.h, &o.h)
	}
}

// addHistValue adds d's counts, sum and buckets to acc. Buckets of another
// schema are brought to the coarser of the two first: schemas nest, so
// that is an exact merge.
func addHistValue(acc, d *metric.HistogramValue) {
	if acc.Count == 0 && len(acc.Buckets) == 0 {
		acc.Schema, acc.ZeroThreshold = d.Schema, d.ZeroThreshold
	}
	src := d.Buckets
	if d.Schema != acc.Schema {
		if d.Schema > acc.Schema {
			c := d.Clone()
			c.Downscale(acc.Schema)
			src = c.Buckets
		} else {
			acc.Downscale(d.Schema)
		}
	}
	acc.Count += d.Count
	acc.ZeroCount += d.ZeroCount
	acc.Sum += d.Sum
	acc.ZeroThreshold = max(acc.ZeroThreshold, d.ZeroThreshold)
	acc.Buckets = metric.AddBuckets(acc.Buckets, src)
}

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
