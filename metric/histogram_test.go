package metric

import (
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"
)

// refKey is the bucket key by the definition: the smallest k with
// v <= 2^(k/64), computed the slow way (frexp and a search over the bounds,
// as Prometheus does).
func refKey(v float64) int {
	frac, exp := math.Frexp(v) // v = frac * 2^exp, frac in [0.5, 1)
	bounds := make([]float64, subBuckets)
	for j := range bounds {
		bounds[j] = math.Exp2(float64(j)/subBuckets) / 2
	}
	j := sort.SearchFloat64s(bounds, frac)
	return j + (exp-1)*subBuckets
}

func TestBucketIndexMatchesDefinition(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	check := func(v float64) {
		t.Helper()
		got, ok := BucketKey(v)
		want := refKey(v)
		if want > maxKey {
			want = maxKey
		}
		if !ok {
			t.Fatalf("BucketKey(%g) in zero bucket, want key %d", v, want)
		}
		if int(got) != want {
			t.Fatalf("BucketKey(%g) = %d, want %d", v, got, want)
		}
		lo, hi := BucketBounds(Schema, got)
		if got < maxKey && !(v > lo*(1-1e-15) && v <= hi*(1+1e-15)) {
			t.Fatalf("%g outside its bucket (%g, %g]", v, lo, hi)
		}
	}
	for i := 0; i < 200000; i++ {
		check(math.Exp2(rng.Float64()*120 - 60))
	}
	for e := -63; e < 64; e++ {
		p := math.Ldexp(1, e)
		check(p)
		check(math.Nextafter(p, 0))
		check(math.Nextafter(p, math.Inf(1)))
	}
	for j := 0; j <= subBuckets; j++ {
		b := math.Exp2(float64(j) / subBuckets)
		check(b)
		check(math.Nextafter(b, 0))
		check(math.Nextafter(b, 3))
	}
	if _, ok := BucketKey(0); ok {
		t.Fatal("0 not in the zero bucket")
	}
	if _, ok := BucketKey(ZeroThreshold); ok {
		t.Fatal("ZeroThreshold not in the zero bucket")
	}
	if k, _ := BucketKey(1e30); k != maxKey {
		t.Fatalf("1e30 in bucket %d, want the last (%d)", k, maxKey)
	}
}

func exactQuantile(sorted []float64, q float64) float64 {
	rank := int(math.Ceil(q * float64(len(sorted))))
	if rank < 1 {
		rank = 1
	}
	return sorted[rank-1]
}

// TestQuantileAccuracy checks every reported quantile against the exact
// nearest-rank quantile of the same data, for the distributions latencies
// actually have.
func TestQuantileAccuracy(t *testing.T) {
	t.Parallel()
	const bound = 0.0055 // 2^(1/128)-1 = 0.542%, plus float slack
	rng := rand.New(rand.NewPCG(3, 4))
	dists := map[string]func() float64{
		"uniform":   func() float64 { return rng.Float64() * 10 },
		"lognormal": func() float64 { return math.Exp(rng.NormFloat64()*1.5 - 5) },
		"pareto":    func() float64 { return 0.001 * math.Pow(1-rng.Float64(), -1/1.2) },
		"bimodal": func() float64 {
			if rng.IntN(10) < 8 {
				return 0.002 + rng.NormFloat64()*0.0002
			}
			return 0.2 + rng.NormFloat64()*0.02
		},
	}
	for name, gen := range dists {
		h := NewHistogram(nil)
		data := make([]float64, 100000)
		for i := range data {
			v := math.Abs(gen())
			data[i] = v
			h.Observe(v)
		}
		slices.Sort(data)
		var hv HistogramValue
		h.Read(&hv)
		if hv.Count != uint64(len(data)) {
			t.Fatalf("%s: count %d, want %d", name, hv.Count, len(data))
		}
		if hv.Min != data[0] || hv.Max != data[len(data)-1] {
			t.Fatalf("%s: min/max %g/%g, want %g/%g", name, hv.Min, hv.Max, data[0], data[len(data)-1])
		}
		for _, q := range []float64{0.001, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 0.9999} {
			got, want := hv.Quantile(q), exactQuantile(data, q)
			if rel := math.Abs(got-want) / want; rel > bound {
				t.Errorf("%s q=%g: got %g, exact %g, relative error %.4f%% > %.2f%%", name, q, got, want, rel*100, bound*100)
			}
		}
	}
}

func TestHistogramRejectsBadValues(t *testing.T) {
	t.Parallel()
	h := NewHistogram(nil)
	h.Observe(1)
	for _, v := range []float64{math.NaN(), math.Inf(1), math.Inf(-1), -1, -1e-300} {
		h.Observe(v)
	}
	h.ObserveDuration(-time.Second)
	var hv HistogramValue
	h.Read(&hv)
	if hv.Count != 1 || hv.Sum != 1 || hv.Min != 1 || hv.Max != 1 {
		t.Fatalf("bad values changed the histogram: %+v", hv)
	}
	if h.Rejected(RejectNaN) != 1 || h.Rejected(RejectInf) != 2 || h.Rejected(RejectNegative) != 3 {
		t.Fatalf("rejected nan=%d inf=%d neg=%d, want 1 2 3", h.Rejected(RejectNaN), h.Rejected(RejectInf), h.Rejected(RejectNegative))
	}
}

func TestHistogramZeroValue(t *testing.T) {
	t.Parallel()
	var h Histogram
	h.Observe(0)
	h.Observe(0.5)
	h.Observe(3)
	var hv HistogramValue
	h.Read(&hv)
	if hv.Count != 3 || hv.ZeroCount != 1 || hv.Sum != 3.5 || hv.Min != 0 || hv.Max != 3 {
		t.Fatalf("got %+v", hv)
	}
	// le=0.5 (2^-1) holds 0 and 0.5; le=2 holds both; le=4 all three.
	for i, b := range hv.ClassicBounds {
		want := uint64(0)
		switch {
		case b >= 4:
			want = 3
		case b >= 0.5:
			want = 2
		default:
			want = 1
		}
		if hv.ClassicCounts[i] != want {
			t.Errorf("le=%g: %d, want %d", b, hv.ClassicCounts[i], want)
		}
	}
}

func TestClassicBucketsExact(t *testing.T) {
	t.Parallel()
	for _, bounds := range [][]float64{
		{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10},
		PowersOfTwo(-10, 3),
		{},
	} {
		h := NewHistogram(&HistogramOpts{Buckets: bounds})
		rng := rand.New(rand.NewPCG(5, 6))
		data := make([]float64, 20000)
		for i := range data {
			data[i] = math.Exp(rng.NormFloat64()*2 - 3)
			if i%100 == 0 {
				data[i] = bounds0(bounds, i) // exactly on a bound: le is inclusive
			}
			h.Observe(data[i])
		}
		var hv HistogramValue
		h.Read(&hv)
		for i, b := range bounds {
			var want uint64
			for _, v := range data {
				if v <= b {
					want++
				}
			}
			if hv.ClassicCounts[i] != want {
				t.Errorf("bounds %v le=%g: %d, want %d", bounds, b, hv.ClassicCounts[i], want)
			}
		}
		if hv.Count != uint64(len(data)) {
			t.Errorf("count %d", hv.Count)
		}
	}
}

func bounds0(b []float64, i int) float64 {
	if len(b) == 0 {
		return 1
	}
	return b[i%len(b)]
}

// TestHistogramConcurrent checks that no observation is lost when many
// goroutines observe one histogram while another reads it.
func TestHistogramConcurrent(t *testing.T) {
	t.Parallel()
	reg := NewRegistry()
	h := reg.Histogram(Opts{Name: "t_seconds", Help: "t", Buckets: []float64{0.001, 0.1, 1}})
	const goroutines, each = 8, 20000
	var wg sync.WaitGroup
	stop := make(chan struct{})
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		var hv HistogramValue
		var last uint64
		for {
			select {
			case <-stop:
				return
			default:
			}
			h.Read(&hv)
			if hv.Count < last {
				t.Errorf("count went backwards: %d after %d", hv.Count, last)
				return
			}
			last = hv.Count
			var sum uint64 = hv.ZeroCount
			for _, b := range hv.Buckets {
				sum += b.Count
			}
			if sum != hv.Count {
				t.Errorf("buckets sum to %d, count %d", sum, hv.Count)
				return
			}
		}
	}()
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < each; i++ {
				h.Observe(float64(i%1000) / 1000)
			}
		}(g)
	}
	wg.Wait()
	close(stop)
	<-readerDone
	var hv HistogramValue
	h.Read(&hv)
	if hv.Count != goroutines*each {
		t.Fatalf("count %d, want %d", hv.Count, goroutines*each)
	}
	wantSum := 0.0
	for i := 0; i < each; i++ {
		wantSum += float64(i%1000) / 1000
	}
	wantSum *= goroutines
	if math.Abs(hv.Sum-wantSum) > 1e-6*wantSum {
		t.Fatalf("sum %g, want %g", hv.Sum, wantSum)
	}
	if last := hv.ClassicCounts[len(hv.ClassicCounts)-1]; last != hv.Count {
		t.Fatalf("le=1 holds %d of %d", last, hv.Count)
	}
}

func TestHistogramObserveDoesNotAllocate(t *testing.T) {
	h := NewHistogram(nil)
	h.Observe(0.01) // first use allocates the shard and chunk
	if n := testing.AllocsPerRun(1000, func() { h.Observe(0.01) }); n != 0 {
		t.Fatalf("Observe allocates %v times", n)
	}
	var c Counter
	c.Inc()
	rc := NewRegistry().Counter(Opts{Name: "c_total", Help: "c"})
	if n := testing.AllocsPerRun(1000, func() { c.Inc(); rc.Inc() }); n != 0 {
		t.Fatalf("Counter.Inc allocates %v times", n)
	}
}

func TestDownscaleIsExactMerge(t *testing.T) {
	t.Parallel()
	h := NewHistogram(nil)
	rng := rand.New(rand.NewPCG(7, 8))
	for i := 0; i < 10000; i++ {
		h.Observe(math.Exp(rng.NormFloat64() * 3))
	}
	var hv HistogramValue
	h.Read(&hv)
	for s := int32(5); s >= -4; s-- {
		c := hv.Clone()
		c.Downscale(s)
		var total uint64
		for _, b := range c.Buckets {
			total += b.Count
			lo, hi := BucketBounds(s, b.Key)
			// every fine bucket merged into b lies inside b's bounds
			var inside uint64
			for _, fb := range hv.Buckets {
				flo, fhi := BucketBounds(Schema, fb.Key)
				if flo >= lo*(1-1e-12) && fhi <= hi*(1+1e-12) {
					inside += fb.Count
				}
			}
			if inside != b.Count {
				t.Fatalf("schema %d bucket %d: %d, fine buckets inside hold %d", s, b.Key, b.Count, inside)
			}
		}
		if total+c.ZeroCount != hv.Count {
			t.Fatalf("schema %d lost observations", s)
		}
	}
}

func TestSubAndAdd(t *testing.T) {
	t.Parallel()
	h := NewHistogram(nil)
	for i := 1; i <= 100; i++ {
		h.Observe(float64(i))
	}
	var a, b, d HistogramValue
	h.Read(&a)
	a = a.Clone()
	for i := 101; i <= 200; i++ {
		h.Observe(float64(i))
	}
	h.Read(&b)
	d.Sub(&b, &a)
	if d.Count != 100 || d.Sum != 15050 {
		t.Fatalf("delta count %d sum %g", d.Count, d.Sum)
	}
	if q := d.Quantile(0.5); math.Abs(q-150)/150 > 0.0055 {
		t.Fatalf("median of delta %g, want 150", q)
	}
	var m HistogramValue
	m.Add(&a)
	m.Add(&d)
	if m.Count != b.Count || !slices.Equal(m.Buckets, b.Buckets) {
		t.Fatalf("a + (b-a) != b")
	}
}
