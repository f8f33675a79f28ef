package metric

import (
	"math"
	"slices"
	"sort"
	"sync/atomic"
	"time"
)

// RejectReason says why an observation was not recorded: the reason label
// of vitals_rejected_observations_total.
type RejectReason uint8

// The reasons an observation is rejected.
const (
	RejectNaN      RejectReason = iota // the value was NaN
	RejectInf                          // the value was +Inf or -Inf
	RejectNegative                     // the value (or duration) was negative
	numRejectReasons
)

var rejectReasonNames = [numRejectReasons]string{"nan", "inf", "negative"}

// String returns the reason's label value: "nan", "inf" or "negative".
func (r RejectReason) String() string {
	if r < numRejectReasons {
		return rejectReasonNames[r]
	}
	return "unknown"
}

// histStripe is the part of a histogram one P writes, with plain stores
// (stripe.go). 128 bytes, a size class aligned to 128, so the words every
// observation writes share no cache line with another stripe.
type histStripe struct {
	zero    atomic.Uint64
	sumBits atomic.Uint64
	minBits atomic.Uint64
	maxBits atomic.Uint64
	tab     atomic.Pointer[chunkTab[chunk32]]
	classic []atomic.Uint64 // per classic bucket, not cumulative; nil when derived
	_       [128 - 5*8 - 24]byte
}

// chunk returns the stripe's chunk ci, or nil.
func (s *histStripe) chunk(ci int) *chunk32 { return s.tab.Load().get(ci) }

// install allocates chunk ci of the stripe if missing.
func (s *histStripe) install(ci int) { installChunk(&s.tab, ci) }

// histShared takes the observations of Ps without a stripe, of stripe
// buckets that are full, and of values above 2^64, with atomic
// read-modify-write. Its buckets are 32-bit too, which halves what a
// histogram holds at high GOMAXPROCS; a full one spills into 64-bit
// buckets (big), allocated only then.
type histShared struct {
	zero    atomic.Uint64
	sumBits atomic.Uint64
	minBits atomic.Uint64
	maxBits atomic.Uint64
	above   atomic.Uint64 // values above 2^64 (also counted in the last bucket)
	tab     atomic.Pointer[chunkTab[chunk32]]
	big     atomic.Pointer[chunkTab[chunk64]]
	classic []atomic.Uint64
}

var posInfBits = math.Float64bits(math.Inf(1))

// newClassic allocates per-bucket classic counters, rounded up to whole
// 128-byte blocks so that two stripes' counters never share a line.
func newClassic(nClassic int) []atomic.Uint64 {
	if nClassic == 0 {
		return nil
	}
	n := (nClassic + 1 + 15) &^ 15
	return make([]atomic.Uint64, n)[:nClassic+1]
}

// Histogram counts observations of a non-negative quantity (a latency in
// seconds, a size in bytes) in exponential buckets, and keeps their exact
// count, sum, min and max. Quantiles read from it are within 1% of the exact
// ones (see Schema). Observe never allocates in steady state and never
// locks. It is striped like Counter (stripe.go): up to two Ps each get a
// private stripe, so two cores observing at once never write the same
// cache line; further Ps share one set of atomic words. A histogram of
// latencies stays under 16 KB however many Ps observe it.
//
// NaN, infinities and negative values are not recorded: they are counted in
// vitals_rejected_observations_total{reason="nan"|"inf"|"negative"} and
// change nothing else.
//
// The zero value is ready to use with DefaultBuckets as classic buckets.
type Histogram struct {
	owners  atomic.Uint64 // stripe owners, see ownedStripe
	stripes [histStripes]atomic.Pointer[histStripe]
	shared  atomic.Pointer[histShared]
	bounds  []float64 // classic bucket upper bounds
	derived bool      // classic counts come from native buckets
	custom  bool      // bounds set (else DefaultBuckets)

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

// NewHistogram returns an unregistered histogram. Most code gets
// histograms from a Registry instead, which also exports them.
func NewHistogram(opts *HistogramOpts) *Histogram {
	h := &Histogram{}
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
	return defaultBuckets
}

func (h *Histogram) nClassic() int {
	if h.derived || !h.custom {
		return 0
	}
	return len(h.bounds)
}

// maxNative is the upper bound of the last native bucket. Larger values
// are counted in that bucket too (Sum and Max stay exact), and apart, so
// that a classic bound of exactly 2^64 does not count them.
const maxNative = 0x1p64

// Observe records v.
func (h *Histogram) Observe(v float64) {
	if !(v >= 0 && v <= maxNative) {
		h.observeOdd(v)
		return
	}
	idx := bucketIndex(v)
	pid := procPin()
	if k := ownedStripe(h.owners.Load(), pid, histStripes); k >= 0 {
		// Single writer: this goroutine is pinned to P pid, and only
		// goroutines running on P pid write stripe k.
		s := h.stripes[k].Load()
		if idx < 0 {
			plainAdd(&s.zero, 1)
		} else if c := s.chunk(idx >> chunkBits); c == nil || !plainInc32(&c[idx&(chunkSize-1)]) {
			procUnpin()
			h.observeSlow(v, idx)
			return
		}
		// finishStripe, written out: the call would not inline.
		plainStore(&s.sumBits, math.Float64bits(math.Float64frombits(s.sumBits.Load())+v))
		if v < math.Float64frombits(s.minBits.Load()) {
			plainStore(&s.minBits, math.Float64bits(v))
		}
		if v > math.Float64frombits(s.maxBits.Load()) {
			plainStore(&s.maxBits, math.Float64bits(v))
		}
		if s.classic != nil {
			plainAdd(&s.classic[classicIndex(h.bounds, v)], 1)
		}
		procUnpin()
		return
	}
	procUnpin()
	h.observeSlow(v, idx)
}

// finishStripe records v's sum, extremes and classic bucket in the
// caller's own stripe.
func (h *Histogram) finishStripe(s *histStripe, v float64) {
	plainStore(&s.sumBits, math.Float64bits(math.Float64frombits(s.sumBits.Load())+v))
	if v < math.Float64frombits(s.minBits.Load()) {
		plainStore(&s.minBits, math.Float64bits(v))
	}
	if v > math.Float64frombits(s.maxBits.Load()) {
		plainStore(&s.maxBits, math.Float64bits(v))
	}
	if s.classic != nil {
		plainAdd(&s.classic[classicIndex(h.bounds, v)], 1)
	}
}

// observeOdd rejects NaN, infinities and negatives, and records finite
// values above 2^64 in the shared words.
func (h *Histogram) observeOdd(v float64) {
	if v > maxNative && v <= math.MaxFloat64 {
		h.observeShared(v, numBuckets-1)
		return
	}
	h.reject(v)
}

// observeSlow handles a P's first observation (claiming a stripe), a
// power of two seen for the first time in a stripe (allocating its
// chunk), full stripe buckets, and Ps without a stripe.
func (h *Histogram) observeSlow(v float64, idx int) {
	for try := 0; try < 4; try++ {
		pid := procPin()
		o := h.owners.Load()
		if k := ownedStripe(o, pid, histStripes); k >= 0 {
			s := h.stripes[k].Load()
			if idx < 0 {
				plainAdd(&s.zero, 1)
				h.finishStripe(s, v)
				procUnpin()
				return
			}
			ci := idx >> chunkBits
			if c := s.chunk(ci); c != nil {
				if plainInc32(&c[idx&(chunkSize-1)]) {
					h.finishStripe(s, v)
					procUnpin()
					return
				}
				// Present, so the bucket is full: count it in the shared words.
				procUnpin()
				break
			}
			procUnpin()
			s.install(ci)
			continue // back through the pinned path: we may be on another P by now
		}
		if !canClaim(pid) || freeStripe(o, histStripes) < 0 {
			procUnpin()
			break
		}
		procUnpin()
		h.claimStripe()
	}
	h.observeShared(v, idx)
}

// claimStripe gives the caller's P a free stripe, if one is left.
func (h *Histogram) claimStripe() {
	ns := &histStripe{classic: newClassic(h.nClassic())}
	ns.minBits.Store(posInfBits)
	pid := procPin()
	defer procUnpin()
	for canClaim(pid) {
		o := h.owners.Load()
		if ownedStripe(o, pid, histStripes) >= 0 {
			return
		}
		k := freeStripe(o, histStripes)
		if k < 0 {
			return
		}
		// A stripe installed by a claimant that then lost the owner race
		// was never written; whoever owns the slot uses it.
		h.stripes[k].CompareAndSwap(nil, ns)
		if h.owners.CompareAndSwap(o, o|uint64(pid+1)<<(8*k)) {
			return
		}
	}
}

func (h *Histogram) sharedWords() *histShared {
	if s := h.shared.Load(); s != nil {
		return s
	}
	s := &histShared{classic: newClassic(h.nClassic())}
	s.minBits.Store(posInfBits)
	h.shared.CompareAndSwap(nil, s)
	return h.shared.Load()
}

// observeShared records v with atomic read-modify-write.
func (h *Histogram) observeShared(v float64, idx int) {
	s := h.sharedWords()
	if idx < 0 {
		s.zero.Add(1)
	} else {
		// Compare-and-swap, not add: a 32-bit add that wrapped would
		// read as 2^32 observations lost until the spill caught up.
		b := &installChunk(&s.tab, idx>>chunkBits)[idx&(chunkSize-1)]
		for {
			old := b.Load()
			if old == math.MaxUint32 {
				installChunk(&s.big, idx>>chunkBits)[idx&(chunkSize-1)].Add(1)
				break
			}
			if b.CompareAndSwap(old, old+1) {
				break
			}
		}
	}
	if v > maxNative {
		s.above.Add(1)
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

// Rejected returns how many observations were rejected for reason.
func (h *Histogram) Rejected(reason RejectReason) uint64 {
	if reason >= numRejectReasons {
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

// Timer measures one duration into a histogram, in seconds. It follows
// the timing-handle shape of every vitals package: a value returned by a
// Start method, finished by End.
//
//	t := h.StartTimer()
//	work()
//	t.End()
type Timer struct {
	h     *Histogram
	start int64
}

// StartTimer starts a Timer. It reads the runtime's monotonic clock, which
// is cheaper than time.Now.
func (h *Histogram) StartTimer() Timer { return Timer{h: h, start: nanotime()} }

// End records the time since StartTimer. Call it once.
func (t Timer) End() { t.h.ObserveDuration(time.Duration(nanotime() - t.start)) }

// ObserveDuration records the time since StartTimer and returns it.
//
// Deprecated: use End, the one way every vitals timing handle finishes;
// measure with Nanotime where the duration itself is needed.
func (t Timer) ObserveDuration() time.Duration {
	d := time.Duration(nanotime() - t.start)
	t.h.ObserveDuration(d)
	return d
}

// Read fills dst with the histogram's current state, reusing dst's slices.
// Reads run concurrently with observations: a value read during Observe
// calls may count an observation in Count but not yet in Sum. Its cost
// grows with the stripes in use (at most histStripes), never with the
// number of Ps.
func (h *Histogram) Read(dst *HistogramValue) {
	dst.Schema = Schema
	dst.ZeroThreshold = ZeroThreshold
	dst.ZeroCount = 0
	dst.Sum = 0
	dst.Count = 0
	dst.Buckets = dst.Buckets[:0]
	dst.ClassicBounds = h.classicBounds()
	minV, maxV := math.Inf(1), 0.0
	var stripes [histStripes]*histStripe
	var tabs [histStripes + 1]*chunkTab[chunk32] // the stripes', then the shared words'
	ns := 0
	n := 0
	lo, hi := numChunks, 0
	for i := range h.stripes {
		s := h.stripes[i].Load()
		if s == nil {
			continue
		}
		stripes[ns], tabs[n] = s, s.tab.Load()
		l, u := tabs[n].span()
		lo, hi = min(lo, l), max(hi, u)
		n++
		ns++
		dst.ZeroCount += s.zero.Load()
		dst.Sum += math.Float64frombits(s.sumBits.Load())
		minV = math.Min(minV, math.Float64frombits(s.minBits.Load()))
		maxV = math.Max(maxV, math.Float64frombits(s.maxBits.Load()))
	}
	sh := h.shared.Load()
	var bigTab *chunkTab[chunk64]
	var above uint64
	if sh != nil {
		tabs[n] = sh.tab.Load()
		l, u := tabs[n].span()
		lo, hi = min(lo, l), max(hi, u)
		n++
		bigTab = sh.big.Load()
		l, u = bigTab.span()
		lo, hi = min(lo, l), max(hi, u)
		dst.ZeroCount += sh.zero.Load()
		dst.Sum += math.Float64frombits(sh.sumBits.Load())
		minV = math.Min(minV, math.Float64frombits(sh.minBits.Load()))
		maxV = math.Max(maxV, math.Float64frombits(sh.maxBits.Load()))
	}
	dst.Count = dst.ZeroCount
	for ci := lo; ci < hi; ci++ {
		var sums [chunkSize]uint64
		any := false
		for _, t := range tabs[:n] {
			if c := t.get(ci); c != nil {
				any = true
				for j := range sums {
					sums[j] += uint64(c[j].Load())
				}
			}
		}
		if c := bigTab.get(ci); c != nil {
			any = true
			for j := range sums {
				sums[j] += c[j].Load()
			}
		}
		if !any {
			continue
		}
		for j, cnt := range sums {
			if cnt != 0 {
				dst.Buckets = append(dst.Buckets, Bucket{Key: int32(ci*chunkSize + j + minKey), Count: cnt})
				dst.Count += cnt
			}
		}
	}
	if sh != nil {
		// Read after the buckets, so it never exceeds what they hold.
		above = sh.above.Load()
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
			for _, s := range stripes[:ns] {
				run += s.classic[i].Load()
			}
			if sh != nil {
				run += sh.classic[i].Load()
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
	dst.fillDerivedClassic(above)
}

// fillDerivedClassic computes cumulative classic counts for power-of-two
// bounds from the native buckets: bound 2^e is the upper bound of key 64e.
// The last bucket also holds the above values larger than 2^64, which a
// bound of 2^64 must not count.
func (v *HistogramValue) fillDerivedClassic(above uint64) {
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
		if b >= maxNative {
			v.ClassicCounts[i] = run - min(above, run)
		}
	}
}

// Count returns the number of observations recorded. It sums the stripes'
// buckets without allocating; Read is the way to get everything at once.
func (h *Histogram) Count() uint64 {
	var n uint64
	for i := range h.stripes {
		s := h.stripes[i].Load()
		if s == nil {
			continue
		}
		n += s.zero.Load()
		if t := s.tab.Load(); t != nil {
			for _, c := range t.c {
				if c != nil {
					for j := range c {
						n += uint64(c[j].Load())
					}
				}
			}
		}
	}
	if s := h.shared.Load(); s != nil {
		n += s.zero.Load()
		if t := s.tab.Load(); t != nil {
			for _, c := range t.c {
				if c != nil {
					for j := range c {
						n += uint64(c[j].Load())
					}
				}
			}
		}
		if t := s.big.Load(); t != nil {
			for _, c := range t.c {
				if c != nil {
					for j := range c {
						n += c[j].Load()
					}
				}
			}
		}
	}
	return n
}
