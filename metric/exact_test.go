package metric

import (
	"math"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// A classic bound of exactly 2^64 counts values up to 2^64, not the larger
// ones that share the last native bucket.
func TestClassicBoundTwoToThe64(t *testing.T) {
	for _, h := range []*Histogram{
		NewHistogram(&HistogramOpts{Buckets: PowersOfTwo(62, 64)}),  // derived from native buckets
		NewHistogram(&HistogramOpts{Buckets: []float64{3, 0x1p64}}), // counted per bucket
	} {
		for _, v := range []float64{0x1p63, 0x1p64, math.Nextafter(0x1p64, math.Inf(1)), 1e30, 1e300} {
			h.Observe(v)
		}
		var hv HistogramValue
		h.Read(&hv)
		if hv.Count != 5 {
			t.Fatalf("count %d, want 5", hv.Count)
		}
		last := len(hv.ClassicBounds) - 1
		if hv.ClassicBounds[last] != 0x1p64 || hv.ClassicCounts[last] != 2 {
			t.Errorf("bounds %v: le=2^64 counts %d, want 2 (2^63 and 2^64); counts %v", hv.ClassicBounds, hv.ClassicCounts[last], hv.ClassicCounts)
		}
		if hv.Max != 1e300 || hv.Sum != 0x1p63+0x1p64+math.Nextafter(0x1p64, math.Inf(1))+1e30+1e300 {
			t.Errorf("max %v sum %v", hv.Max, hv.Sum)
		}
	}
}

func TestCounterSaturates(t *testing.T) {
	check := func(name string, c *Counter) {
		t.Helper()
		c.Add(math.MaxUint64 - 3)
		c.Add(2)
		if got := c.Value(); got != math.MaxUint64-1 {
			t.Fatalf("%s: %d", name, got)
		}
		c.Add(10)
		c.Inc()
		if got := c.Value(); got != math.MaxUint64 {
			t.Fatalf("%s: %d after passing the top, want %d (saturated, not wrapped)", name, got, uint64(math.MaxUint64))
		}
	}
	check("one P", new(Counter))

	// Stripes of several Ps and the shared word each below the top, their
	// sum past it.
	prev := runtime.GOMAXPROCS(counterStripes + 4)
	defer runtime.GOMAXPROCS(prev)
	c := new(Counter)
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			for range 1000 {
				c.Add(math.MaxUint64 / 8)
			}
		})
	}
	wg.Wait()
	if got := c.Value(); got != math.MaxUint64 {
		t.Fatalf("sum of stripes %d, want saturation at %d", got, uint64(math.MaxUint64))
	}
}

// vitals_series_overflow_total counts label sets folded, once each, not
// lookups past the cap.
func TestOverflowCountsLabelSets(t *testing.T) {
	reg := NewRegistry()
	v := reg.CounterVec(Opts{Name: "req_total", Help: "r", Labels: []string{"path"}, MaxSeries: 2})
	v.With("/a").Inc()
	v.With("/b").Inc()
	for range 100 {
		v.With("/c").Inc() // one label set past the cap, asked for on every request
	}
	v.With("/d").Inc()
	v.With("/a").Inc() // under the cap: not folded
	f := v.Family()
	if got := f.Overflowed(); got != 2 {
		t.Fatalf("Overflowed %d, want 2 (/c and /d)", got)
	}
	if got := v.With(OverflowValue).Value(); got != 101 {
		t.Fatalf("overflow series %d, want 101 increments", got)
	}
	self := reg.Family(selfOverflowName)
	for _, s := range self.Series() {
		if s.Values[0] == "req_total" && s.Value() != 2+1 { // With(OverflowValue) above is a third folded set
			t.Fatalf("%s{metric=req_total} = %v, want 3", selfOverflowName, s.Value())
		}
	}
}

func TestRejectReasonString(t *testing.T) {
	for r, want := range map[RejectReason]string{RejectNaN: "nan", RejectInf: "inf", RejectNegative: "negative", 7: "unknown"} {
		if r.String() != want {
			t.Errorf("%d.String() = %q, want %q", r, r.String(), want)
		}
	}
	var h Histogram
	h.Observe(math.NaN())
	h.ObserveDuration(-1)
	if h.Rejected(RejectNaN) != 1 || h.Rejected(RejectNegative) != 1 || h.Rejected(99) != 0 {
		t.Fatal("Rejected")
	}
}

// The panic of a conflicting registration says what differs.
func TestRegistryShapeMessage(t *testing.T) {
	reg := NewRegistry()
	reg.CounterVec(Opts{Name: "x_total", Help: "x", Labels: []string{"a"}})
	reg.Histogram(Opts{Name: "h_seconds", Help: "h", Unit: "seconds"})
	for _, c := range []struct {
		f    func()
		want string
	}{
		{func() { reg.CounterVec(Opts{Name: "x_total", Help: "x", Labels: []string{"b"}}) }, `labels ["a"], asked with ["b"]`},
		{func() { reg.GaugeVec(Opts{Name: "x_total", Help: "x", Labels: []string{"a"}}) }, "registered as a Counter, asked for a Gauge"},
		{func() { reg.CounterVec(Opts{Name: "x_total", Help: "x", Labels: []string{"a"}, MaxSeries: 5}) }, "MaxSeries 1000, asked with 5"},
		{func() { reg.Histogram(Opts{Name: "h_seconds", Help: "h", Unit: "seconds", Buckets: PromDefBuckets()}) }, "buckets [], asked with [0.005"},
	} {
		func() {
			defer func() {
				msg, _ := recover().(string)
				if !strings.Contains(msg, c.want) {
					t.Errorf("panic %q, want it to contain %q", msg, c.want)
				}
			}()
			c.f()
		}()
	}
}

// A full 32-bit bucket sends further observations to the next level (a
// stripe's to the shared words, the shared words' to 64-bit buckets);
// counts stay exact.
func TestFullBucketsSpill(t *testing.T) {
	h := NewHistogram(nil)
	h.Observe(1) // claims a stripe (or, without procPin, the shared words)
	idx := bucketIndex(1)
	ci, j := idx>>chunkBits, idx&(chunkSize-1)
	var full []*chunk32
	for k := range h.stripes {
		if s := h.stripes[k].Load(); s != nil {
			s.install(ci)
			full = append(full, s.chunk(ci))
		}
	}
	full = append(full, installChunk(&h.sharedWords().tab, ci))
	var want uint64 = 1
	for _, c := range full {
		want += uint64(math.MaxUint32 - c[j].Load())
		c[j].Store(math.MaxUint32)
	}
	for range 3 {
		h.Observe(1)
	}
	want += 3
	var hv HistogramValue
	h.Read(&hv)
	if hv.Count != want || len(hv.Buckets) != 1 || hv.Buckets[0].Count != want || h.Count() != want {
		t.Fatalf("count %d (Count() %d), buckets %v, want %d in one bucket", hv.Count, h.Count(), hv.Buckets, want)
	}
	if big := h.shared.Load().big.Load(); big.get(ci) == nil || big.get(ci)[j].Load() != 3 {
		t.Fatal("the last three observations did not spill into 64-bit buckets")
	}
}

// Memory stays bounded however many Ps observe: the budget of issue 9
// (16 KB a histogram, 1 KB a counter at GOMAXPROCS=64) with the latency
// stream of bench/, checked here so that it cannot regress unnoticed.
func TestInstrumentMemoryBounded(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("allocates and runs 64 Ps; layout, not synchronisation (nothing for -race to check)")
	}
	prev := runtime.GOMAXPROCS(64)
	defer runtime.GOMAXPROCS(prev)
	measure := func(n int, build func() any) float64 {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		keep := build()
		runtime.GC()
		runtime.ReadMemStats(&after)
		runtime.KeepAlive(keep)
		return float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / float64(n)
	}
	fill := func(observe func(g, i int)) {
		for range 4 {
			var wg sync.WaitGroup
			start := make(chan struct{})
			for g := range 64 {
				wg.Go(func() {
					<-start
					for i := range 256 {
						observe(g, i)
					}
				})
			}
			close(start)
			wg.Wait()
		}
	}
	fill(func(g, i int) {}) // the runtime's own first-use allocations (goroutines) are not the instruments'
	hist := measure(200, func() any {
		hs := make([]*Histogram, 200)
		for i := range hs {
			hs[i] = NewHistogram(nil)
		}
		fill(func(g, i int) {
			// Log-normal latencies around 2 ms spanning 14 powers of two,
			// as bench/'s stream (a deterministic stand-in for its ring).
			x := float64((g*256+i)*2654435761%4096)/4096*2 - 1
			v := 0.002 * math.Exp(4.2*x*math.Abs(x))
			for _, h := range hs {
				h.Observe(v)
			}
		})
		return hs
	})
	ctr := measure(1000, func() any {
		cs := make([]*Counter, 1000)
		for i := range cs {
			cs[i] = new(Counter)
		}
		fill(func(g, i int) {
			for _, c := range cs {
				c.Inc()
			}
		})
		return cs
	})
	t.Logf("GOMAXPROCS=64: histogram %.0f B, counter %.0f B", hist, ctr)
	if hist > 16<<10 {
		t.Errorf("histogram holds %.0f B at GOMAXPROCS=64, budget 16 KB", hist)
	}
	if ctr > 1<<10 {
		t.Errorf("counter holds %.0f B at GOMAXPROCS=64, budget 1 KB", ctr)
	}
}
