package window

import (
	"math"
	"slices"
	"sync"
	"time"

	"github.com/bizra/vitals/metric"
)

// Stack is the rolling windows of one series at several lengths (say 1m,
// 5m, 15m and 1h), fed once per tick. Each window is a ring of slots as in
// Ring. When the windows nest (each slot length a multiple of the finer
// window's, and the finer window longer than one of the coarser slots, as
// with the defaults: 3 s, 15 s, 45 s and 3 min slots), a coarser window's
// histogram slot is built, when it closes, from the finer window's
// encoded slots instead of from the ticks: a tick then merges its delta
// into one accumulator instead of one per window, and a series holds one
// mutable bucket list instead of four. The windows' contents are the same
// as separate Rings' (TestStackMatchesRings).
//
// A clock that goes back by less than the longest window leaves the
// windows as they are (ticks count into the current slots until it
// catches up); one that goes back by more empties them.
//
// A Stack is not safe for concurrent use.
type Stack struct {
	levels  []level
	kind    metric.Kind
	last    float64
	hasLast bool
	schema  int32   // of the histogram's buckets, which encoded slots omit
	zt      float64 // its zero threshold
	phase   time.Duration
}

// SetPhase shifts the windows' slot boundaries by d (reduced modulo the
// longest slot, rounded down to a multiple of the shortest). Call it
// before the first Add. Stacks with different phases close their slots
// at different ticks: an Aggregator gives each series its own, so that
// the work of closing coarse slots — tens of microseconds a histogram —
// spreads over the ticks instead of landing on one (BenchmarkTick's p99
// in package history went from 3.4 ms to 1.2 ms with 100 histograms).
func (s *Stack) SetPhase(d time.Duration) {
	long, short := s.levels[len(s.levels)-1].slotDur, s.levels[0].slotDur
	d %= long
	if d < 0 {
		d += long
	}
	s.phase = d / short * short
}

// Phase returns the shift set by SetPhase.
func (s *Stack) Phase() time.Duration { return s.phase }

// align returns the start of the slot of length sd that holds t.
func (s *Stack) align(t time.Time, sd time.Duration) time.Time {
	return t.Add(-s.phase).Truncate(sd).Add(s.phase)
}

// slot is 32 bytes: a scalar window of 20 slots costs 640 bytes.
type slot struct {
	n        uint32  // ticks (counters, histograms) or samples (gauges)
	ms       uint32  // milliseconds the ticks cover (saturating)
	v        float64 // counter increase, or gauge samples' sum
	min, max float64 // see Stats.Min; NaN when empty
}

var emptySlot = slot{min: math.NaN(), max: math.NaN()}

type level struct {
	length  time.Duration
	slotDur time.Duration
	slots   []slot
	head    int
	start   time.Time // start of the current slot; zero before the first Add
	derived bool      // histogram slots are built from the finer level
	h       *levelHist
}

type levelHist struct {
	enc   [][]byte              // closed slots' observations (appendEncoded)
	total metric.HistogramValue // the closed slots' observations
	cur   metric.HistogramValue // the current slot's, when not derived
}

// NewStack returns the windows of the given lengths (0 or less means one
// minute; duplicates are dropped), each split into about slots sub-windows
// (clamped to [1, 3600]; a derived window may get up to twice as many, so
// that its slot length is a multiple of the finer window's).
func NewStack(lengths []time.Duration, slots int) *Stack {
	slots = min(max(slots, 1), 3600)
	ls := slices.Clone(lengths)
	for i := range ls {
		if ls[i] <= 0 {
			ls[i] = time.Minute
		}
	}
	slices.Sort(ls)
	ls = slices.Compact(ls)
	if len(ls) == 0 {
		ls = []time.Duration{time.Minute}
	}
	s := &Stack{levels: make([]level, len(ls)), last: math.NaN()}
	for k, length := range ls {
		sd := max(length/time.Duration(slots), time.Millisecond)
		derived := false
		if k > 0 {
			p := &s.levels[k-1]
			if m := sd / p.slotDur * p.slotDur; m > 0 && time.Duration(len(p.slots)-1)*p.slotDur >= m {
				sd, derived = m, true
			}
		}
		n := max(int(length/sd), 1)
		lv := &s.levels[k]
		lv.length, lv.slotDur, lv.derived = length, sd, derived
		lv.slots = make([]slot, n)
		for i := range lv.slots {
			lv.slots[i] = emptySlot
		}
	}
	return s
}

// Lengths returns the windows' lengths, ascending.
func (s *Stack) Lengths() []time.Duration {
	out := make([]time.Duration, len(s.levels))
	for i := range s.levels {
		out[i] = s.levels[i].length
	}
	return out
}

var scratchPool = sync.Pool{New: func() any { return new(metric.HistogramValue) }}

// advance rotates every window so that now falls in its current slot.
func (s *Stack) advance(now time.Time) {
	l0 := &s.levels[0]
	if l0.start.IsZero() {
		for k := range s.levels {
			s.levels[k].start = s.align(now, s.levels[k].slotDur)
		}
		return
	}
	if now.Before(l0.start) {
		if l0.start.Sub(now) > s.levels[len(s.levels)-1].length {
			s.reset(now)
		}
		return
	}
	if now.Sub(l0.start) < l0.slotDur {
		return // the common case: nothing closes
	}
	// Close the current slots finest first (a coarse slot is built from
	// the finer level's slots, which must all be closed and not yet
	// expired), then rotate.
	for k := range s.levels {
		if lv := &s.levels[k]; now.Sub(lv.start) >= lv.slotDur {
			s.closeHead(k)
		}
	}
	for k := range s.levels {
		s.rotate(k, now)
	}
}

// closeHead moves level k's current histogram slot into its running
// total and keeps it, encoded, for when it expires.
func (s *Stack) closeHead(k int) {
	lv := &s.levels[k]
	h := lv.h
	if h == nil {
		return
	}
	src := &h.cur
	if lv.derived {
		src = scratchPool.Get().(*metric.HistogramValue)
		defer scratchPool.Put(src)
		resetHist(src)
		s.addFiner(src, k-1, lv.start, lv.start.Add(lv.slotDur), 0)
	}
	if src.Count != 0 || len(src.Buckets) != 0 {
		// Size the slot's buffer to fit: slots of one window hold similar
		// amounts, so a buffer is reused unless far too big or small.
		n := encodedSize(src)
		e := h.enc[lv.head][:0]
		if cap(e) < n || cap(e) > n+n/2+32 {
			e = make([]byte, 0, n+n/8)
		}
		h.enc[lv.head] = appendEncoded(e, src)
		addHist(&h.total, src)
	}
	resetHist(src)
}

// addFiner adds to acc the observations of level j's slots that start in
// [from, to), beginning with the slot `skip` places before the current
// one (0: the current slot, which must be closed).
func (s *Stack) addFiner(acc *metric.HistogramValue, j int, from, to time.Time, skip int) {
	p := &s.levels[j]
	n := len(p.slots)
	for d := skip; d < n; d++ {
		st := p.start.Add(-time.Duration(d) * p.slotDur)
		if st.Before(from) {
			break
		}
		if st.Before(to) {
			s.addEncoded(acc, p.h.enc[(p.head-d+n)%n])
		}
	}
}

func (s *Stack) rotate(k int, now time.Time) {
	lv := &s.levels[k]
	steps := int64(now.Sub(lv.start) / lv.slotDur)
	if steps <= 0 {
		return
	}
	if steps >= int64(len(lv.slots)) {
		lv.clear()
		lv.start = s.align(now, lv.slotDur)
		return
	}
	for ; steps > 0; steps-- {
		lv.head++
		if lv.head == len(lv.slots) {
			lv.head = 0
		}
		lv.slots[lv.head] = emptySlot
		if h := lv.h; h != nil && len(h.enc[lv.head]) != 0 {
			subEncoded(&h.total, h.enc[lv.head])
			h.enc[lv.head] = h.enc[lv.head][:0]
		}
		lv.start = lv.start.Add(lv.slotDur)
	}
}

// clear empties a level, keeping its memory.
func (lv *level) clear() {
	for i := range lv.slots {
		lv.slots[i] = emptySlot
	}
	if h := lv.h; h != nil {
		for i := range h.enc {
			h.enc[i] = h.enc[i][:0]
		}
		resetHist(&h.cur)
		resetHist(&h.total)
	}
	lv.head = 0
}

func (s *Stack) reset(now time.Time) {
	for k := range s.levels {
		lv := &s.levels[k]
		lv.clear()
		lv.start = s.align(now, lv.slotDur)
	}
}

// use prepares the stack for a kind of series. Fed a different kind than
// before, it starts over: mixing kinds is a caller's bug, and a window
// must not mix meanings.
func (s *Stack) use(k metric.Kind, now time.Time) {
	if s.kind == k {
		return
	}
	if s.kind != 0 {
		s.reset(now)
		s.last, s.hasLast = math.NaN(), false
	}
	s.kind = k
	if k == metric.KindHistogram && s.levels[0].h == nil {
		for i := range s.levels {
			s.levels[i].h = &levelHist{enc: make([][]byte, len(s.levels[i].slots))}
		}
	}
}

// addTime adds a tick's coverage to a slot. A tick covers at most the
// window: the part of a long gap before the window is not in it.
func (lv *level) addTime(sl *slot, elapsed time.Duration) {
	elapsed = min(max(elapsed, 0), lv.length)
	ms := uint64(sl.ms) + uint64(elapsed/time.Millisecond)
	sl.ms = uint32(min(ms, math.MaxUint32))
	sl.n++
}

// AddCounter adds a counter's increase during one tick (see
// Ring.AddCounter).
func (s *Stack) AddCounter(now time.Time, elapsed time.Duration, increase float64) {
	s.use(metric.KindCounter, now)
	s.advance(now)
	if math.IsNaN(increase) {
		return
	}
	rate := math.NaN()
	if elapsed > 0 {
		rate = increase / elapsed.Seconds()
	}
	for k := range s.levels {
		lv := &s.levels[k]
		sl := &lv.slots[lv.head]
		lv.addTime(sl, elapsed)
		sl.v += increase
		sl.min = nanMin(sl.min, rate)
		sl.max = nanMax(sl.max, rate)
	}
}

// AddGauge adds one gauge sample (see Ring.AddGauge).
func (s *Stack) AddGauge(now time.Time, elapsed time.Duration, v float64) {
	s.use(metric.KindGauge, now)
	s.advance(now)
	s.last, s.hasLast = v, true
	if math.IsNaN(v) {
		return
	}
	for k := range s.levels {
		lv := &s.levels[k]
		sl := &lv.slots[lv.head]
		lv.addTime(sl, elapsed)
		sl.v += v
		sl.min = nanMin(sl.min, v)
		sl.max = nanMax(sl.max, v)
	}
}

// AddHistogram adds the observations of one tick (see Ring.AddHistogram).
func (s *Stack) AddHistogram(now time.Time, elapsed time.Duration, d *metric.HistogramValue) {
	s.use(metric.KindHistogram, now)
	s.advance(now)
	if d.Count != 0 {
		h0 := s.levels[0].h
		if layout := &h0.total; (h0.cur.Count != 0 || len(h0.cur.Buckets) != 0) && (d.Schema != h0.cur.Schema || d.ZeroThreshold != h0.cur.ZeroThreshold) ||
			layout.Count != 0 && (d.Schema != layout.Schema || d.ZeroThreshold != layout.ZeroThreshold) {
			// A histogram that changed its layout: its old buckets do
			// not merge with the new ones.
			s.reset(now)
		}
	}
	lo, hi := math.NaN(), math.NaN()
	if d.Count != 0 {
		lo, hi = d.Extremes()
		s.schema, s.zt = d.Schema, d.ZeroThreshold
	}
	for k := range s.levels {
		lv := &s.levels[k]
		sl := &lv.slots[lv.head]
		lv.addTime(sl, elapsed)
		if d.Count == 0 {
			continue
		}
		sl.min = nanMin(sl.min, lo)
		sl.max = nanMax(sl.max, hi)
		if !lv.derived {
			addHist(&lv.h.cur, d)
		}
	}
}

// Stats returns window i's statistics as of now (i indexes Lengths). It
// does not allocate in steady state.
func (s *Stack) Stats(now time.Time, i int) Stats {
	lv := &s.levels[i]
	nan := math.NaN()
	st := Stats{Window: lv.length, Rate: nan, Min: nan, Max: nan, Avg: nan, Last: nan,
		P50: nan, P90: nan, P95: nan, P99: nan, P999: nan}
	if s.kind == 0 {
		return st
	}
	s.advance(now)
	var n, ms uint64
	var v float64
	for j := range lv.slots {
		sl := &lv.slots[j]
		n += uint64(sl.n)
		ms += uint64(sl.ms)
		v += sl.v
		st.Min = nanMin(st.Min, sl.min)
		st.Max = nanMax(st.Max, sl.max)
	}
	st.Samples = n
	st.Covered = min(time.Duration(ms)*time.Millisecond, lv.length)
	sec := st.Covered.Seconds()
	switch s.kind {
	case metric.KindCounter:
		st.Count, st.Sum = v, v
		if sec > 0 {
			st.Rate = v / sec
			st.Avg = st.Rate
		}
	case metric.KindGauge:
		st.Count, st.Sum = float64(n), v
		if n > 0 {
			st.Avg = v / float64(n)
		}
		if s.hasLast {
			st.Last = s.last
		}
	case metric.KindHistogram:
		head := s.headHist(i)
		if head != &lv.h.cur {
			defer scratchPool.Put(head)
		}
		count := lv.h.total.Count + head.Count
		st.Count = float64(count)
		st.Sum = lv.h.total.Sum + head.Sum
		if count == 0 {
			st.Sum = 0
			st.Min, st.Max = nan, nan
		} else {
			st.Avg = st.Sum / float64(count)
			var q [5]float64
			quantiles(&lv.h.total, head, statQuantiles, st.Min, st.Max, q[:])
			st.P50, st.P90, st.P95, st.P99, st.P999 = q[0], q[1], q[2], q[3], q[4]
		}
		if sec > 0 {
			st.Rate = float64(count) / sec
		}
	}
	return st
}

// headHist returns the observations of level i's current slot: its own
// accumulator, or (derived) a pooled value holding the finer levels'
// slots since the slot started, down to a level with its own.
func (s *Stack) headHist(i int) *metric.HistogramValue {
	lv := &s.levels[i]
	if !lv.derived {
		return &lv.h.cur
	}
	acc := scratchPool.Get().(*metric.HistogramValue)
	resetHist(acc)
	j := i
	for s.levels[j].derived {
		// Level j-1's closed slots from level j's slot start up to its
		// own current slot.
		s.addFiner(acc, j-1, s.levels[j].start, s.levels[j-1].start, 1)
		j--
	}
	addHist(acc, &s.levels[j].h.cur)
	return acc
}

// Histogram returns window i's merged histogram as of now: a copy. Its Min
// and Max are the window's bucket-bound extremes.
func (s *Stack) Histogram(now time.Time, i int) metric.HistogramValue {
	lv := &s.levels[i]
	if lv.h == nil {
		return metric.HistogramValue{Schema: metric.Schema, ZeroThreshold: metric.ZeroThreshold}
	}
	st := s.Stats(now, i)
	out := lv.h.total.Clone()
	head := s.headHist(i)
	addHist(&out, head)
	if head != &lv.h.cur {
		scratchPool.Put(head)
	}
	if out.Count > 0 {
		out.Min, out.Max = st.Min, st.Max
	}
	return out
}

// addEncoded adds an encoded slot's observations to acc.
func (s *Stack) addEncoded(acc *metric.HistogramValue, enc []byte) {
	if len(enc) == 0 {
		return
	}
	tmp := scratchPool.Get().(*metric.HistogramValue)
	decodeEncoded(tmp, enc)
	tmp.Schema, tmp.ZeroThreshold = s.schema, s.zt
	addHist(acc, tmp)
	scratchPool.Put(tmp)
}

// MemBytes estimates the stack's heap footprint in bytes.
func (s *Stack) MemBytes() int {
	n := 64
	for k := range s.levels {
		lv := &s.levels[k]
		n += 96 + cap(lv.slots)*32
		if h := lv.h; h != nil {
			n += 24*len(h.enc) + 3*120 + 16*(cap(h.cur.Buckets)+cap(h.total.Buckets))
			for _, e := range h.enc {
				n += cap(e)
			}
		}
	}
	return n
}
