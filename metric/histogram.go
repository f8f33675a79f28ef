package metric

import (
	"math"
	"slices"
	"sort"
	"sync/atomic"
	"time"
)

// maxHistogramShards bounds the shard pointer table. Shards themselves are
// allocated on a P's first observation, so idle Ps cost 8 bytes each.
const maxHistogramShards = 256

// Reasons an observation is rejected, the values of the reason label of
// vitals_rejected_observations_total.
const (
	RejectNaN = iota
	RejectInf
	RejectNegative
	numRejectReasons
)

var rejectReasonNames = [numRejectReasons]string{"nan", "inf", "negative"}

type bucketChunk struct {
	_ [64]byte
	c [chunkSize]atomic.Uint64
	_ [64]byte
}

// histShard is the part of a histogram one P writes. Bucket chunks (64
// buckets, one power of two) are allocated on first use, so a histogram's
// memory follows the range its values actually span.
type histShard struct {
	_       cacheLinePad
	zero    atomic.Uint64
	sumBits atomic.Uint64
	minBits atomic.Uint64
	maxBits atomic.Uint64
	classic []atomic.Uint64               // per classic bucket, not cumulative; nil when derived
	used    [numChunks / 64]atomic.Uint64 // bitmap of allocated chunks: Read skips the rest
	chunks  [numChunks]atomic.Pointer[bucketChunk]
}

// installChunk allocates chunk ci if it is missing and marks it used.
func (s *histShard) installChunk(ci int) *bucketChunk {
	if c := s.chunks[ci].Load(); c != nil {
		return c
	}
	if s.chunks[ci].CompareAndSwap(nil, new(bucketChunk)) {
		s.used[ci/64].Or(1 << (ci % 64))
	}
	return s.chunks[ci].Load()
}

var posInfBits = math.Float64bits(math.Inf(1))

func newHistShard(nClassic int) *histShard {
	s := &histShard{}
	s.minBits.Store(posInfBits)
	if nClassic > 0 {
		s.classic = make([]atomic.Uint64, nClassic+1)
	}
	return s
}

// Histogram counts observations of a non-negative quantity (a latency in
// seconds, a size in bytes) in exponential buckets, and keeps their exact
// count, sum, min and max. Quantiles read from it are within 1% of the exact
// ones (see Schema). Observe never allocates in steady state, never locks,
// and goroutines on different cores never write the same cache line.
//
// NaN, infinities and negative values are not recorded: they are counted in
// vitals_rejected_observations_total{reason="nan"|"inf"|"negative"} and
// change nothing else.
//
// The zero value is ready to use with DefaultBuckets as classic buckets; it
// is not sharded, so prefer histograms from a Registry on hot paths.
type Histogram struct {
	shards  []atomic.Pointer[histShard]
	shared  atomic.Pointer[histShard] // written with read-modify-write atomics
	bounds  []float64                 // classic bucket upper bounds
	derived bool                      // classic counts come from native buckets
	custom  bool                      // bounds set (else DefaultBuckets)

	rejected [numRejectReasons]atomic.Uint64
}

// HistogramOpts configures a Histogram.
type HistogramOpts struct {
	// Buckets are the upper bounds of the classic (le) buckets, ascending
	// and finite. nil means DefaultBuckets; an empty non-nil slice means
	// only the +Inf bucket. Bounds that are all powers of two (PowersOfTwo)
	// are derived exactly from the native buckets and cost nothing on the
	// hot path; any other bounds add one comparison loop per observation.
	Buckets []float64
}

// NewHistogram returns an unregistered, sharded histogram. Most code gets
// histograms from a Registry instead, which also exports them.
func NewHistogram(opts *HistogramOpts) *Histogram {
	h := &Histogram{shards: make([]atomic.Pointer[histShard], shardCount(maxHistogramShards))}
	if opts != nil && opts.Buckets != nil {
		h.setBounds(opts.Buckets)
	}
	return h
}

func (h *Histogram) setBounds(b []float64) {
	for i, v := range b {
		if math.IsNaN(v) || math.IsInf(v, 0) || (i > 0 && v <= b[i-1]) {
			panic("vitals/metric: histogram buckets must be finite and strictly ascending")
		}
	}
	h.bounds = slices.Clone(b)
	h.custom = true
	h.derived = true
	for _, v := range b {
		if !isPowerOfTwo(v) {
			h.derived = false
		}
	}
}

func (h *Histogram) classicBounds() []float64 {
	if h.custom {
		return h.bounds
	}
	return DefaultBuckets
}

func (h *Histogram) nClassic() int {
	if h.derived || !h.custom {
		return 0
	}
	return len(h.bounds)
}

// Observe records v.
func (h *Histogram) Observe(v float64) {
	if !(v >= 0 && v <= math.MaxFloat64) {
		h.reject(v)
		return
	}
	idx := bucketIndex(v)
	pid := procPin()
	if pid < len(h.shards) {
		if s := h.shards[pid].Load(); s != nil {
			// Single writer: this goroutine is pinned to P pid, and only
			// goroutines running on P pid write shard pid.
			if idx < 0 {
				plainAdd(&s.zero, 1)
			} else if c := s.chunks[idx>>chunkBits].Load(); c != nil {
				plainAdd(&c.c[idx&(chunkSize-1)], 1)
			} else {
				procUnpin()
				h.observeSlow(v, idx)
				return
			}
			plainStore(&s.sumBits, math.Float64bits(math.Float64frombits(s.sumBits.Load())+v))
			if v < math.Float64frombits(s.minBits.Load()) {
				plainStore(&s.minBits, math.Float64bits(v))
			}
			if v > math.Float64frombits(s.maxBits.Load()) {
				plainStore(&s.maxBits, math.Float64bits(v))
			}
			if s.classic != nil {
				ci := classicIndex(h.bounds, v)
				plainAdd(&s.classic[ci], 1)
			}
			procUnpin()
			return
		}
	}
	procUnpin()
	h.observeSlow(v, idx)
}

// observeSlow handles a P's first observation (allocating its shard), a
// power of two seen for the first time, Ps beyond the shard table, and
// unsharded zero-value histograms.
func (h *Histogram) observeSlow(v float64, idx int) {
	pid := procPin()
	procUnpin()
	if pid < len(h.shards) {
		s := h.shards[pid].Load()
		if s == nil {
			h.shards[pid].CompareAndSwap(nil, newHistShard(h.nClassic()))
		} else if idx >= 0 {
			s.installChunk(idx >> chunkBits)
		}
		// Back through the pinned path: we may be on another P by now.
		h.Observe(v)
		return
	}
	s := h.shared.Load()
	if s == nil {
		h.shared.CompareAndSwap(nil, newHistShard(h.nClassic()))
		s = h.shared.Load()
	}
	if idx < 0 {
		s.zero.Add(1)
	} else {
		s.installChunk(idx >> chunkBits).c[idx&(chunkSize-1)].Add(1)
	}
	for {
		old := s.sumBits.Load()
		if s.sumBits.CompareAndSwap(old, math.Float64bits(math.Float64frombits(old)+v)) {
			break
		}
	}
	for {
		old := s.minBits.Load()
		if v >= math.Float64frombits(old) || s.minBits.CompareAndSwap(old, math.Float64bits(v)) {
			break
		}
	}
	for {
		old := s.maxBits.Load()
		if v <= math.Float64frombits(old) || s.maxBits.CompareAndSwap(old, math.Float64bits(v)) {
			break
		}
	}
	if s.classic != nil {
		s.classic[classicIndex(h.bounds, v)].Add(1)
	}
}

func classicIndex(bounds []float64, v float64) int {
	if len(bounds) <= 16 {
		for i, b := range bounds {
			if v <= b {
				return i
			}
		}
		return len(bounds)
	}
	return sort.SearchFloat64s(bounds, v)
}

func (h *Histogram) reject(v float64) {
	switch {
	case math.IsNaN(v):
		h.rejected[RejectNaN].Add(1)
	case math.IsInf(v, 0):
		h.rejected[RejectInf].Add(1)
	default:
		h.rejected[RejectNegative].Add(1)
	}
}

// Rejected returns how many observations were rejected for reason
// (RejectNaN, RejectInf or RejectNegative).
func (h *Histogram) Rejected(reason int) uint64 {
	if reason < 0 || reason >= numRejectReasons {
		return 0
	}
	return h.rejected[reason].Load()
}

// ObserveDuration records d in seconds. A negative d is rejected.
func (h *Histogram) ObserveDuration(d time.Duration) {
	if d < 0 {
		h.rejected[RejectNegative].Add(1)
		return
	}
	h.Observe(d.Seconds())
}

// Timer measures one duration into a histogram, in seconds.
//
//	t := h.StartTimer()
//	work()
//	t.ObserveDuration()
type Timer struct {
	h     *Histogram
	start int64
}

// StartTimer starts a Timer. It reads the runtime's monotonic clock, which
// is cheaper than time.Now.
func (h *Histogram) StartTimer() Timer { return Timer{h: h, start: nanotime()} }

// ObserveDuration records the time since StartTimer and returns it.
func (t Timer) ObserveDuration() time.Duration {
	d := time.Duration(nanotime() - t.start)
	t.h.ObserveDuration(d)
	return d
}

// Read fills dst with the histogram's current state, reusing dst's slices.
// Reads run concurrently with observations: a value read during Observe
// calls may count an observation in Count but not yet in Sum.
func (h *Histogram) Read(dst *HistogramValue) {
	dst.Schema = Schema
	dst.ZeroThreshold = ZeroThreshold
	dst.ZeroCount = 0
	dst.Sum = 0
	dst.Count = 0
	dst.Buckets = dst.Buckets[:0]
	dst.ClassicBounds = h.classicBounds()
	minV, maxV := math.Inf(1), 0.0
	var shards [maxHistogramShards + 1]*histShard
	n := 0
	for i := range h.shards {
		if s := h.shards[i].Load(); s != nil {
			shards[n] = s
			n++
		}
	}
	if s := h.shared.Load(); s != nil {
		shards[n] = s
		n++
	}
	for _, s := range shards[:n] {
		dst.ZeroCount += s.zero.Load()
		dst.Sum += math.Float64frombits(s.sumBits.Load())
		minV = math.Min(minV, math.Float64frombits(s.minBits.Load()))
		maxV = math.Max(maxV, math.Float64frombits(s.maxBits.Load()))
	}
	dst.Count = dst.ZeroCount
	var used [numChunks / 64]uint64
	for _, s := range shards[:n] {
		for w := range used {
			used[w] |= s.used[w].Load()
		}
	}
	for ci := 0; ci < numChunks; ci++ {
		if used[ci/64]&(1<<(ci%64)) == 0 {
			continue
		}
		var sums [chunkSize]uint64
		for _, s := range shards[:n] {
			c := s.chunks[ci].Load()
			if c == nil {
				continue
			}
			for j := range sums {
				sums[j] += c.c[j].Load()
			}
		}
		for j, cnt := range sums {
			if cnt != 0 {
				dst.Buckets = append(dst.Buckets, Bucket{Key: int32(ci*chunkSize + j + minKey), Count: cnt})
				dst.Count += cnt
			}
		}
	}
	if dst.Count == 0 {
		minV = 0
	}
	dst.Min, dst.Max = minV, maxV
	// Classic counts, cumulative.
	nb := len(dst.ClassicBounds)
	if cap(dst.ClassicCounts) < nb {
		dst.ClassicCounts = make([]uint64, nb)
	}
	dst.ClassicCounts = dst.ClassicCounts[:nb]
	clear(dst.ClassicCounts)
	if nc := h.nClassic(); nc > 0 {
		var run uint64
		for i := 0; i < nb; i++ {
			for _, s := range shards[:n] {
				run += s.classic[i].Load()
			}
			dst.ClassicCounts[i] = run
		}
		// Classic counters are read after the native buckets, so they may
		// hold a few newer observations; clamp to Count to keep le="+Inf"
		// the largest bucket. The next read catches up.
		for i := range dst.ClassicCounts {
			dst.ClassicCounts[i] = min(dst.ClassicCounts[i], dst.Count)
		}
		return
	}
	dst.fillDerivedClassic()
}

// fillDerivedClassic computes cumulative classic counts for power-of-two
// bounds from the native buckets: bound 2^e is the upper bound of key 64e.
func (v *HistogramValue) fillDerivedClassic() {
	run := v.ZeroCount
	bi := 0
	for i, b := range v.ClassicBounds {
		limit := int32(maxKey)
		if e := math.Ilogb(b); e < 64 {
			limit = int32(e * subBuckets)
		}
		for bi < len(v.Buckets) && v.Buckets[bi].Key <= limit {
			run += v.Buckets[bi].Count
			bi++
		}
		v.ClassicCounts[i] = run
	}
}

// Count returns the number of observations recorded. It sums the shards'
// buckets without allocating; Read is the way to get everything at once.
func (h *Histogram) Count() uint64 {
	var n uint64
	add := func(s *histShard) {
		if s == nil {
			return
		}
		n += s.zero.Load()
		for ci := range s.chunks {
			if c := s.chunks[ci].Load(); c != nil {
				for j := range c.c {
					n += c.c[j].Load()
				}
			}
		}
	}
	for i := range h.shards {
		add(h.shards[i].Load())
	}
	add(h.shared.Load())
	return n
}
