package metric

import (
	"math"
	"slices"
)

// Bucket layout.
//
// Histograms use the bucket scheme of Prometheus native histograms at
// schema 6: bucket k holds values in (2^((k-1)/64), 2^(k/64)], so 64
// buckets per doubling. Reporting the geometric middle of a bucket is off
// by at most 2^(1/128)-1 = 0.54% from any value inside it, which keeps every
// reported quantile within 1% of the exact one. Coarser schemas (down to -4)
// are exact merges of these buckets (HistogramValue.Downscale).
//
// Keys run from -4095 to 4096, values from 2^-64 to 2^64. Values at or below
// ZeroThreshold go to the zero bucket; values above 2^64 are counted in the
// last bucket (Sum and Max stay exact), and a classic bound of 2^64 does
// not count them.
const (
	// Schema is the native-histogram schema of every vitals histogram.
	Schema = 6

	subBuckets = 1 << Schema // buckets per power of two
	minKey     = -64*subBuckets + 1
	maxKey     = 64 * subBuckets
	numBuckets = maxKey - minKey + 1 // 8192
	chunkBits  = 6
	chunkSize  = 1 << chunkBits
	numChunks  = numBuckets / chunkSize // 128
)

// ZeroThreshold is the upper bound (inclusive) of the zero bucket: 2^-64.
const ZeroThreshold = 0x1p-64

const mantBits = 52

// subBound[j] is the mantissa of 2^(j/64) for j in [0,64); subBound[64]
// stands for 2.0. subTable[s] is the smallest j whose bound is at or above
// the start of the s-th 1/256 slice of the mantissa. A bucket is at least
// 1.09% wide and a slice 0.39%, so a slice contains at most one bound and a
// single comparison finishes the lookup: about 2 ns, against 8 ns for a
// binary search over the 64 bounds.
var (
	subBound [subBuckets + 1]uint64
	subTable [256]uint8
)

func init() {
	for j := 0; j < subBuckets; j++ {
		subBound[j] = math.Float64bits(math.Exp2(float64(j)/subBuckets)) & (1<<mantBits - 1)
	}
	subBound[subBuckets] = 1 << mantBits
	j := 0
	for s := 0; s < 256; s++ {
		start := uint64(s) << (mantBits - 8)
		for subBound[j] < start {
			j++
		}
		subTable[s] = uint8(j)
	}
}

// bucketIndex returns the storage index (key - minKey) of v's bucket, or -1
// for the zero bucket. v must be finite and not negative.
func bucketIndex(v float64) int {
	if v <= ZeroThreshold {
		return -1
	}
	bits := math.Float64bits(v)
	exp := int(bits>>mantBits) - 1023
	if exp >= 64 {
		return numBuckets - 1
	}
	m := bits & (1<<mantBits - 1)
	j := int(subTable[m>>(mantBits-8)])
	if m > subBound[j] {
		j++
	}
	key := exp*subBuckets + j
	if key > maxKey {
		key = maxKey
	}
	return key - minKey
}

// BucketKey returns the schema-6 bucket key for v, and false when v falls in
// the zero bucket. v must be finite and not negative.
func BucketKey(v float64) (int32, bool) {
	i := bucketIndex(v)
	if i < 0 {
		return 0, false
	}
	return int32(i + minKey), true
}

// BucketBounds returns the lower (exclusive) and upper (inclusive) bound of
// bucket key at the given schema.
func BucketBounds(schema int32, key int32) (lower, upper float64) {
	f := math.Ldexp(1, -int(schema))
	return math.Exp2(float64(key-1) * f), math.Exp2(float64(key) * f)
}

// BucketMid is the value a quantile reports for bucket key at schema: the
// geometric middle, within 2^(2^-(schema+1))-1 of any value in the bucket.
func BucketMid(schema int32, key int32) float64 {
	f := math.Ldexp(1, -int(schema))
	return math.Exp2((float64(key) - 0.5) * f)
}

// PowersOfTwo returns the bounds 2^from, 2^(from+1), ..., 2^to: classic
// buckets that a vitals histogram derives exactly from its native buckets,
// at no cost when observing.
func PowersOfTwo(from, to int) []float64 {
	if to < from {
		return nil
	}
	b := make([]float64, 0, to-from+1)
	for e := from; e <= to; e++ {
		b = append(b, math.Ldexp(1, e))
	}
	return b
}

// defaultBuckets are the classic bounds of a histogram whose options name
// none; DefaultBuckets returns a copy.
var defaultBuckets = PowersOfTwo(-14, 5)

// DefaultBuckets returns the classic buckets of a histogram whose options
// name none: powers of two from 2^-14 (61 µs) to 2^5 (32 s), a latency
// range in seconds. They are derived from the native buckets, so they cost
// nothing on the hot path and their counts are exact. Their le values
// (6.103515625e-05, ..., 0.125, 0.25, 0.5, 1, 2, 4, ...) are not
// client_golang's: for dashboards written against prometheus.DefBuckets
// (le="0.1"), use PromDefBuckets. Each call returns a new slice.
func DefaultBuckets() []float64 { return slices.Clone(defaultBuckets) }

// PromDefBuckets returns client_golang's default bounds (prometheus.DefBuckets):
// 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10 seconds, for
// histograms whose le series must match dashboards and alerts written for
// client_golang:
//
//	reg.Histogram(metric.Opts{Name: "http_request_duration_seconds", Unit: "seconds",
//		Help: "Request latency.", Buckets: metric.PromDefBuckets()})
//
// They are not powers of two, so they cost what any such bounds cost: one
// comparison loop per observation (about 2-4 ns) and 12 more counters per
// stripe. Their counts are exact. Quantiles do not use them: they come
// from the native buckets whatever the classic bounds. Each call returns
// a new slice.
func PromDefBuckets() []float64 {
	return []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}
}

// isPowerOfTwo reports whether b is 2^e with e in the histogram's range.
func isPowerOfTwo(b float64) bool {
	if b <= ZeroThreshold || b > math.Ldexp(1, 64) {
		return false
	}
	return math.Float64bits(b)&(1<<mantBits-1) == 0
}
