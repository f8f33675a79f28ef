package window

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/bizra/vitals/internal/testutil"
	"github.com/bizra/vitals/metric"
)

var t0 = testutil.T0

// exactQuantile is the nearest-rank quantile of raw values.
func exactQuantile(vs []float64, q float64) float64 {
	s := slices.Clone(vs)
	slices.Sort(s)
	r := int(math.Ceil(q * float64(len(s))))
	return s[max(r, 1)-1]
}

// feeder produces per-tick deltas of a real histogram.
type feeder struct {
	h          *metric.Histogram
	cur, prev  metric.HistogramValue
	d          metric.HistogramValue
	rng        *rand.Rand
	ticks      [][]float64 // raw values per tick
	tickTimes  []time.Time
	tickDeltas []metric.HistogramValue
}

func newFeeder(seed uint64) *feeder {
	return &feeder{h: metric.NewHistogram(nil), rng: rand.New(rand.NewPCG(seed, 7))}
}

// tick observes n lognormal latencies and returns the delta.
func (f *feeder) tick(now time.Time, n int) *metric.HistogramValue {
	vals := make([]float64, n)
	for i := range vals {
		vals[i] = 0.02 * math.Exp(0.6*f.rng.NormFloat64())
		f.h.Observe(vals[i])
	}
	f.h.Read(&f.cur)
	f.d.Sub(&f.cur, &f.prev)
	f.cur, f.prev = f.prev, f.cur
	f.ticks = append(f.ticks, vals)
	f.tickTimes = append(f.tickTimes, now)
	f.tickDeltas = append(f.tickDeltas, f.d.Clone())
	return &f.d
}

// since returns the raw values and merged deltas of ticks at or after t.
func (f *feeder) since(t time.Time) ([]float64, metric.HistogramValue) {
	var vals []float64
	var m metric.HistogramValue
	for i, tt := range f.tickTimes {
		if !tt.Before(t) {
			vals = append(vals, f.ticks[i]...)
			m.Add(&f.tickDeltas[i])
		}
	}
	return vals, m
}

func TestRingHistogramQuantilesAreExactMerges(t *testing.T) {
	t.Parallel()
	r := New(time.Minute, 20) // 3 s slots
	f := newFeeder(1)
	now := t0
	for i := 0; i < 200; i++ {
		now = now.Add(time.Second)
		r.AddHistogram(now, time.Second, f.tick(now, 1+i%37))
		if i%13 != 0 {
			continue
		}
		st := r.Stats(now)
		// The window holds the current slot and the 19 before it.
		from := now.Truncate(3 * time.Second).Add(-19 * 3 * time.Second)
		raw, ref := f.since(from)
		if st.Count != float64(ref.Count) || math.Abs(st.Sum-ref.Sum) > 1e-9*ref.Sum {
			t.Fatalf("tick %d: count %v sum %v, want %d %v", i, st.Count, st.Sum, ref.Count, ref.Sum)
		}
		for _, c := range []struct {
			q   float64
			got float64
		}{{0.5, st.P50}, {0.9, st.P90}, {0.95, st.P95}, {0.99, st.P99}, {0.999, st.P999}} {
			if want := ref.Quantile(c.q); c.got != want {
				t.Fatalf("tick %d: q%v = %v, merged reference %v", i, c.q, c.got, want)
			}
			if exact := exactQuantile(raw, c.q); math.Abs(c.got-exact)/exact > 0.0055 {
				t.Fatalf("tick %d: q%v = %v, exact %v: off by more than 0.55%%", i, c.q, c.got, exact)
			}
		}
		lo, hi := exactQuantile(raw, 0), slices.Max(raw)
		if st.Min > lo || st.Min < lo/1.011 || st.Max < hi || st.Max > hi*1.011 {
			t.Fatalf("tick %d: min/max %v %v, exact %v %v", i, st.Min, st.Max, lo, hi)
		}
		if want := float64(ref.Count) / st.Covered.Seconds(); st.Rate != want {
			t.Fatalf("rate %v want %v", st.Rate, want)
		}
	}
}

func TestRingExpiresEverything(t *testing.T) {
	t.Parallel()
	r := New(time.Minute, 6)
	f := newFeeder(2)
	now := t0
	for i := 0; i < 90; i++ {
		now = now.Add(time.Second)
		r.AddHistogram(now, time.Second, f.tick(now, 10))
	}
	// A minute of empty ticks: every slot expires, and the running total
	// must be exactly empty (no leftover buckets, no float drift).
	for i := 0; i < 61; i++ {
		now = now.Add(time.Second)
		r.AddHistogram(now, time.Second, &metric.HistogramValue{})
	}
	st := r.Stats(now)
	if st.Count != 0 || st.Sum != 0 || !math.IsNaN(st.P99) || !math.IsNaN(st.Min) {
		t.Fatalf("expired window: %+v", st)
	}
	if n := len(r.s.levels[0].h.total.Buckets); n != 0 || r.s.levels[0].h.total.Count != 0 {
		t.Fatalf("running total kept %d buckets, count %d", n, r.s.levels[0].h.total.Count)
	}
	if st.Samples < 50 || st.Samples > 61 { // 5 to 6 slots of 10 s
		t.Fatalf("samples %d", st.Samples)
	}
}

func TestRingCounterAndGauge(t *testing.T) {
	t.Parallel()
	c := New(time.Minute, 60)
	g := New(time.Minute, 60)
	now := t0
	for i := 1; i <= 120; i++ {
		now = now.Add(time.Second)
		c.AddCounter(now, time.Second, float64(i%5))
		g.AddGauge(now, time.Second, float64(i))
	}
	// The last 60 ticks: i = 61..120.
	var inc float64
	for i := 61; i <= 120; i++ {
		inc += float64(i % 5)
	}
	cs := c.Stats(now)
	if cs.Count != inc || cs.Covered != time.Minute || cs.Rate != inc/60 || cs.Min != 0 || cs.Max != 4 || cs.Avg != cs.Rate {
		t.Fatalf("counter: %+v, want count %v", cs, inc)
	}
	if !math.IsNaN(cs.P50) || !math.IsNaN(cs.Last) {
		t.Fatalf("counter has quantiles or last: %+v", cs)
	}
	gs := g.Stats(now)
	if gs.Count != 60 || gs.Min != 61 || gs.Max != 120 || gs.Last != 120 || gs.Avg != 90.5 || !math.IsNaN(gs.Rate) {
		t.Fatalf("gauge: %+v", gs)
	}
	g.AddGauge(now, time.Second, math.NaN())
	if gs := g.Stats(now); !math.IsNaN(gs.Last) || gs.Count != 60 {
		t.Fatalf("NaN sample: %+v", gs)
	}
}

func TestRingClockJumps(t *testing.T) {
	t.Parallel()
	r := New(time.Minute, 12)
	now := t0
	for i := 0; i < 30; i++ {
		now = now.Add(time.Second)
		r.AddCounter(now, time.Second, 1)
	}
	// Back by 20 s: ticks count into the current slot, nothing is lost
	// and nothing expires.
	back := now.Add(-20 * time.Second)
	r.AddCounter(back, 0, 1)
	if st := r.Stats(back); st.Count != 31 {
		t.Fatalf("after a small step back: count %v", st.Count)
	}
	// Back by more than the window: the window starts over.
	far := now.Add(-2 * time.Minute)
	r.AddCounter(far, 0, 5)
	if st := r.Stats(far); st.Count != 5 {
		t.Fatalf("after a big step back: count %v", st.Count)
	}
	// Forward by a day: empty, then counting again.
	fwd := far.Add(24 * time.Hour)
	if st := r.Stats(fwd); st.Count != 0 {
		t.Fatalf("after a jump forward: count %v", st.Count)
	}
	r.AddCounter(fwd, 24*time.Hour, 3)
	st := r.Stats(fwd)
	if st.Count != 3 || st.Covered != time.Minute {
		t.Fatalf("after a jump forward and a tick: %+v", st)
	}
	// Histograms survive the same jumps with their totals consistent.
	h := New(time.Minute, 12)
	f := newFeeder(3)
	now = t0
	for i, step := range []time.Duration{1, 1, -30, 1, 1, -90, 1, 3600, 1, -5, 1} {
		now = now.Add(step * time.Second)
		h.AddHistogram(now, time.Second, f.tick(now, 5+i))
		st := h.Stats(now)
		var sum uint64
		for _, b := range h.s.levels[0].h.total.Buckets {
			sum += b.Count
		}
		for _, b := range h.s.levels[0].h.cur.Buckets {
			sum += b.Count
		}
		if sum+h.s.levels[0].h.total.ZeroCount+h.s.levels[0].h.cur.ZeroCount != uint64(st.Count) || st.Count == 0 {
			t.Fatalf("step %d: buckets hold %d, count %v", i, sum, st.Count)
		}
	}
}

func TestRingKindChangeStartsOver(t *testing.T) {
	t.Parallel()
	r := New(time.Minute, 6)
	r.AddCounter(t0, time.Second, 7)
	r.AddGauge(t0.Add(time.Second), time.Second, 3)
	if st := r.Stats(t0.Add(time.Second)); st.Count != 1 || st.Sum != 3 {
		t.Fatalf("%+v", st)
	}
}

func TestRingEmpty(t *testing.T) {
	t.Parallel()
	st := New(0, 0).Stats(t0)
	if st.Window != time.Minute || st.Count != 0 || !math.IsNaN(st.Rate) || st.Samples != 0 {
		t.Fatalf("%+v", st)
	}
	h := New(time.Minute, 3).Histogram(t0)
	if h.Count != 0 {
		t.Fatal(h)
	}
}

func TestRingHistogramCopy(t *testing.T) {
	t.Parallel()
	r := New(time.Minute, 6)
	f := newFeeder(4)
	now := t0
	for i := 0; i < 40; i++ {
		now = now.Add(time.Second)
		r.AddHistogram(now, time.Second, f.tick(now, 20))
	}
	h := r.Histogram(now)
	st := r.Stats(now)
	if float64(h.Count) != st.Count || h.Quantile(0.99) != st.P99 {
		t.Fatalf("Histogram %d p99 %v, Stats %v %v", h.Count, h.Quantile(0.99), st.Count, st.P99)
	}
}

func TestRingSteadyStateAllocations(t *testing.T) {
	r := New(time.Minute, 20)
	c := New(time.Minute, 20)
	f := newFeeder(5)
	now := t0
	var deltas []metric.HistogramValue
	for i := 0; i < 64; i++ {
		deltas = append(deltas, f.tick(now, 30).Clone())
	}
	i := 0
	step := func() {
		now = now.Add(time.Second)
		r.AddHistogram(now, time.Second, &deltas[i%len(deltas)])
		c.AddCounter(now, time.Second, 3)
		i++
	}
	for range 500 { // warm up: buckets and encoded slots reach their size
		step()
	}
	if n := testing.AllocsPerRun(300, step); n != 0 {
		t.Fatalf("Add allocates %v times per tick", n)
	}
	if n := testing.AllocsPerRun(100, func() { _ = r.Stats(now) }); n != 0 {
		t.Fatalf("Stats allocates %v times", n)
	}
}

func TestAddBuckets(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(9, 9))
	gen := func() []metric.Bucket {
		var out []metric.Bucket
		for k := int32(-20); k < 20; k++ {
			if rng.IntN(3) == 0 {
				out = append(out, metric.Bucket{Key: k, Count: uint64(1 + rng.IntN(5))})
			}
		}
		return out
	}
	for range 500 {
		a, b := gen(), gen()
		want := map[int32]uint64{}
		for _, x := range a {
			want[x.Key] += x.Count
		}
		for _, x := range b {
			want[x.Key] += x.Count
		}
		got := metric.AddBuckets(slices.Clone(a), b)
		if len(got) != len(want) || !slices.IsSortedFunc(got, func(x, y metric.Bucket) int { return int(x.Key - y.Key) }) {
			t.Fatalf("%v + %v = %v", a, b, got)
		}
		for _, x := range got {
			if want[x.Key] != x.Count {
				t.Fatalf("%v + %v = %v", a, b, got)
			}
		}
		// Subtracting the encoded b gives a back.
		h := metric.HistogramValue{Buckets: got}
		for _, x := range a {
			h.Count += x.Count
		}
		for _, x := range b {
			h.Count += x.Count
		}
		bv := metric.HistogramValue{Buckets: b}
		for _, x := range b {
			bv.Count += x.Count
		}
		subEncoded(&h, appendEncoded(nil, &bv))
		if !slices.Equal(h.Buckets, a) && !(len(a) == 0 && len(h.Buckets) == 0) {
			t.Fatalf("(%v + %v) - b = %v", a, b, h.Buckets)
		}
	}
}

func BenchmarkRingAddHistogram(b *testing.B) {
	r := New(time.Minute, 20)
	f := newFeeder(6)
	var deltas []metric.HistogramValue
	for i := 0; i < 64; i++ {
		deltas = append(deltas, f.tick(t0, 50).Clone())
	}
	now := t0
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		now = now.Add(time.Second)
		r.AddHistogram(now, time.Second, &deltas[i%len(deltas)])
	}
}

func BenchmarkRingAddCounter(b *testing.B) {
	r := New(time.Minute, 20)
	now := t0
	b.ReportAllocs()
	for b.Loop() {
		now = now.Add(time.Second)
		r.AddCounter(now, time.Second, 3)
	}
}

func BenchmarkRingStatsHistogram(b *testing.B) {
	r := New(time.Hour, 20)
	f := newFeeder(7)
	now := t0
	for i := 0; i < 3600; i++ {
		now = now.Add(time.Second)
		r.AddHistogram(now, time.Second, f.tick(now, 20))
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = r.Stats(now)
	}
}
