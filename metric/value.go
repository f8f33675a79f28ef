package metric

import (
	"math"
	"slices"
)

// Bucket is one populated native bucket: Count observations in
// (2^((Key-1)/2^schema), 2^(Key/2^schema)].
type Bucket struct {
	Key   int32
	Count uint64
}

// HistogramValue is a histogram's state at one moment, or the difference
// between two moments (Sub). It is a plain value: copy it, keep it, merge it.
type HistogramValue struct {
	Count         uint64  // all observations, the zero bucket included
	Sum           float64 // sum of observed values
	Min, Max      float64 // exact extremes; 0 when Count is 0. A delta keeps the later value's
	ZeroCount     uint64  // observations at or below ZeroThreshold
	ZeroThreshold float64
	Schema        int32
	Buckets       []Bucket // populated native buckets, ascending by Key

	// ClassicBounds are the classic bucket upper bounds (shared; do not
	// modify); ClassicCounts the cumulative count at each. The +Inf bucket
	// is Count.
	ClassicBounds []float64
	ClassicCounts []uint64
}

// Clone returns a deep copy that shares nothing mutable with v.
func (v *HistogramValue) Clone() HistogramValue {
	c := *v
	c.Buckets = slices.Clone(v.Buckets)
	c.ClassicCounts = slices.Clone(v.ClassicCounts)
	return c
}

// Quantile returns the q-quantile (0 <= q <= 1) of the recorded values by
// the nearest-rank definition: the smallest recorded value with at least
// q*Count values at or below it. The answer is the geometric middle of the
// bucket holding that value, clamped to [Min, Max], so it is within
// 2^(2^-(schema+1))-1 of the exact quantile (0.54% at schema 6).
// It returns NaN when Count is 0 or q is outside [0, 1].
func (v *HistogramValue) Quantile(q float64) float64 {
	if v.Count == 0 || !(q >= 0 && q <= 1) {
		return math.NaN()
	}
	if q == 0 {
		return v.Min
	}
	if q == 1 {
		return v.Max
	}
	rank := uint64(math.Ceil(q * float64(v.Count)))
	if rank < 1 {
		rank = 1
	}
	if rank <= v.ZeroCount {
		return v.Min
	}
	run := v.ZeroCount
	for _, b := range v.Buckets {
		run += b.Count
		if run >= rank {
			return v.clamp(BucketMid(v.Schema, b.Key))
		}
	}
	return v.Max
}

func (v *HistogramValue) clamp(x float64) float64 {
	if v.Max > 0 && x > v.Max {
		x = v.Max
	}
	if x < v.Min {
		x = v.Min
	}
	return x
}

// Mean returns Sum/Count, or NaN when Count is 0.
func (v *HistogramValue) Mean() float64 {
	if v.Count == 0 {
		return math.NaN()
	}
	return v.Sum / float64(v.Count)
}

// Sub sets v to later minus earlier: the observations made between two
// reads of the same histogram. Min and Max cannot be subtracted; v takes
// later's, which bound the delta's values from outside. v may alias
// neither argument's bucket slice.
func (v *HistogramValue) Sub(later, earlier *HistogramValue) {
	v.Schema = later.Schema
	v.ZeroThreshold = later.ZeroThreshold
	v.Count = later.Count - min(earlier.Count, later.Count)
	v.ZeroCount = later.ZeroCount - min(earlier.ZeroCount, later.ZeroCount)
	v.Sum = later.Sum - earlier.Sum
	v.Min, v.Max = later.Min, later.Max
	v.Buckets = v.Buckets[:0]
	j := 0
	for _, b := range later.Buckets {
		for j < len(earlier.Buckets) && earlier.Buckets[j].Key < b.Key {
			j++
		}
		c := b.Count
		if j < len(earlier.Buckets) && earlier.Buckets[j].Key == b.Key {
			c -= min(earlier.Buckets[j].Count, c)
		}
		if c != 0 {
			v.Buckets = append(v.Buckets, Bucket{Key: b.Key, Count: c})
		}
	}
	v.ClassicBounds = later.ClassicBounds
	v.ClassicCounts = append(v.ClassicCounts[:0], later.ClassicCounts...)
	for i := range v.ClassicCounts {
		if i < len(earlier.ClassicCounts) {
			v.ClassicCounts[i] -= min(earlier.ClassicCounts[i], v.ClassicCounts[i])
		}
	}
}

// Add merges o into v: counts, sums and buckets add; Min and Max widen.
// Both must have the same schema (Downscale the finer one first).
func (v *HistogramValue) Add(o *HistogramValue) {
	if o.Count == 0 {
		return
	}
	if v.Count == 0 {
		v.Min, v.Max = o.Min, o.Max
	} else {
		v.Min, v.Max = math.Min(v.Min, o.Min), math.Max(v.Max, o.Max)
	}
	v.Schema = o.Schema
	v.ZeroThreshold = o.ZeroThreshold
	v.Count += o.Count
	v.ZeroCount += o.ZeroCount
	v.Sum += o.Sum
	v.Buckets = AddBuckets(v.Buckets, o.Buckets)
	if v.ClassicBounds == nil {
		v.ClassicBounds = o.ClassicBounds
	}
	if len(v.ClassicCounts) < len(o.ClassicCounts) {
		v.ClassicCounts = append(v.ClassicCounts, make([]uint64, len(o.ClassicCounts)-len(v.ClassicCounts))...)
	}
	for i, c := range o.ClassicCounts {
		v.ClassicCounts[i] += c
	}
}

// AddBuckets adds src into dst, both ascending by Key, and returns dst.
// It merges in place from the back, so it allocates only when dst must
// grow past its capacity: running totals (windows, rollups) stop
// allocating once they have seen the keys their series uses.
func AddBuckets(dst, src []Bucket) []Bucket {
	if len(src) == 0 {
		return dst
	}
	newKeys := 0
	i := 0
	for _, s := range src {
		i = SeekBucket(dst, i, s.Key)
		if i < len(dst) && dst[i].Key == s.Key {
			dst[i].Count += s.Count
		} else {
			newKeys++
		}
	}
	if newKeys == 0 {
		return dst
	}
	n := len(dst)
	if need := n + newKeys; need > cap(dst) {
		// An eighth to spare rather than append's doubling: totals settle
		// at a size, and doubling would leave up to half of each unused.
		nd := make([]Bucket, need, need+need/8+4)
		copy(nd, dst)
		dst = nd
	} else {
		dst = dst[:need]
	}
	i, j, k := n-1, len(src)-1, n+newKeys-1
	for j >= 0 {
		switch {
		case i >= 0 && dst[i].Key > src[j].Key:
			dst[k] = dst[i]
			i--
		case i >= 0 && dst[i].Key == src[j].Key: // summed in the first pass
			dst[k] = dst[i]
			i--
			j--
		default:
			dst[k] = src[j]
			j--
		}
		k--
	}
	return dst
}

// SeekBucket returns the first index at or after i whose key is at least
// key. It gallops (1, 2, 4, ... ahead, then bisects): a tick's delta
// touches a few dozen of a window's hundreds of buckets, usually near
// each other, so this beats a linear walk (BenchmarkRingAddHistogram in
// window: 1.9 µs to 1.0 µs).
func SeekBucket(b []Bucket, i int, key int32) int {
	if i >= len(b) || b[i].Key >= key {
		return i
	}
	lo, step := i, 1 // b[lo].Key < key
	hi := lo + step
	for hi < len(b) && b[hi].Key < key {
		lo = hi
		step <<= 1
		hi = lo + step
	}
	hi = min(hi, len(b))
	for lo+1 < hi { // b[lo].Key < key <= b[hi].Key (or hi == len)
		mid := int(uint(lo+hi) >> 1)
		if b[mid].Key < key {
			lo = mid
		} else {
			hi = mid
		}
	}
	return hi
}

// Downscale merges buckets in place so that v has the given, coarser
// schema (-4 <= schema <= v.Schema). Schemas nest, so the merge is exact:
// bucket k at schema s lies inside bucket ceil(k / 2^(s-schema)).
func (v *HistogramValue) Downscale(schema int32) {
	if schema >= v.Schema || schema < -4 {
		return
	}
	shift := uint(v.Schema - schema)
	out := v.Buckets[:0]
	for _, b := range v.Buckets {
		k := (b.Key + (1 << shift) - 1) >> shift
		if n := len(out); n > 0 && out[n-1].Key == k {
			out[n-1].Count += b.Count
		} else {
			out = append(out, Bucket{Key: k, Count: b.Count})
		}
	}
	v.Buckets = out
	v.Schema = schema
}

// Extremes bounds the smallest and largest value v holds: by its lowest
// and highest populated bucket (within one bucket's width), clamped to Min
// and Max. For a delta from Sub, whose Min and Max are the later state's
// lifetime extremes, that is exact whenever the delta holds the lifetime
// minimum or maximum, and within one bucket (1.09%) otherwise.
func (v *HistogramValue) Extremes() (lo, hi float64) {
	lo, hi = v.Min, v.Max
	if v.ZeroCount == 0 && len(v.Buckets) > 0 {
		l, _ := BucketBounds(v.Schema, v.Buckets[0].Key)
		lo = math.Max(lo, l)
	}
	if n := len(v.Buckets); n > 0 {
		_, u := BucketBounds(v.Schema, v.Buckets[n-1].Key)
		hi = math.Min(hi, u)
	} else if v.ZeroCount > 0 {
		hi = math.Min(hi, v.ZeroThreshold)
	}
	return lo, hi
}
