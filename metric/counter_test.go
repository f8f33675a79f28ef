package metric

import (
	"runtime"
	"sync"
	"testing"
)

// TestCounterConcurrentExact checks that no increment is lost with more
// goroutines than Ps, including after GOMAXPROCS grows past the shards.
func TestCounterConcurrentExact(t *testing.T) {
	reg := NewRegistry()
	c := reg.Counter(Opts{Name: "c_total", Help: "c"})
	var zero Counter
	run := func() {
		var wg sync.WaitGroup
		for g := 0; g < 16; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < 10000; i++ {
					c.Inc()
					zero.Add(2)
				}
			}()
		}
		wg.Wait()
	}
	run()
	prev := runtime.GOMAXPROCS(counterStripes + histStripes + 5) // Ps past the stripes use the shared word
	run()
	runtime.GOMAXPROCS(prev)
	if got := c.Value(); got != 2*16*10000 {
		t.Fatalf("counter %d, want %d", got, 2*16*10000)
	}
	if got := zero.Value(); got != 2*2*16*10000 {
		t.Fatalf("zero-value counter %d", got)
	}
}

func TestGauges(t *testing.T) {
	var g Gauge
	g.Set(5)
	g.Add(-7)
	g.Inc()
	g.Dec()
	if g.Value() != -2 {
		t.Fatalf("gauge %d", g.Value())
	}
	var f FloatGauge
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 1000; j++ {
				f.Add(0.5)
			}
		}()
	}
	wg.Wait()
	if f.Value() != 4000 {
		t.Fatalf("float gauge %v", f.Value())
	}
}

func TestHistogramMoreProcsThanStripes(t *testing.T) {
	h := NewRegistry().Histogram(Opts{Name: "h_seconds", Help: "h"})
	prev := runtime.GOMAXPROCS(counterStripes + histStripes + 5)
	defer runtime.GOMAXPROCS(prev)
	var wg sync.WaitGroup
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 5000; i++ {
				h.Observe(0.001 * float64(i%7))
			}
		}()
	}
	wg.Wait()
	if h.Count() != 16*5000 {
		t.Fatalf("count %d", h.Count())
	}
}

func TestRegistryShapes(t *testing.T) {
	reg := NewRegistry()
	a := reg.Counter(Opts{Name: "x_total", Help: "x"})
	if reg.Counter(Opts{Name: "x_total", Help: "x"}) != a {
		t.Fatal("registration is not idempotent")
	}
	mustPanic := func(name string, f func()) {
		t.Helper()
		defer func() {
			if recover() == nil {
				t.Errorf("%s did not panic", name)
			}
		}()
		f()
	}
	mustPanic("kind conflict", func() { reg.Gauge(Opts{Name: "x_total", Help: "x"}) })
	mustPanic("bad name", func() { reg.Counter(Opts{Name: "x-y", Help: "x"}) })
	mustPanic("bad label", func() { reg.CounterVec(Opts{Name: "y", Help: "y", Labels: []string{"le"}}) })
	mustPanic("dup label", func() { reg.CounterVec(Opts{Name: "y", Help: "y", Labels: []string{"a", "a"}}) })
	mustPanic("no help", func() { reg.Counter(Opts{Name: "z"}) })
	mustPanic("labels on single", func() { reg.Counter(Opts{Name: "z", Help: "z", Labels: []string{"a"}}) })
	mustPanic("bad buckets", func() { reg.Histogram(Opts{Name: "h", Help: "h", Buckets: []float64{2, 1}}) })
	v := reg.CounterVec(Opts{Name: "v_total", Help: "v", Labels: []string{"a"}})
	mustPanic("value count", func() { v.With("1", "2") })
	v.With("1").Inc()
	if !v.Delete("1") || v.Delete("1") || len(v.Family().Series()) != 0 {
		t.Fatal("Delete")
	}
	if !reg.Unregister("v_total") || reg.Family("v_total") != nil {
		t.Fatal("Unregister")
	}
	// Self-metrics exist from the start.
	h := reg.HistogramVec(Opts{Name: "lat_seconds", Help: "l", Labels: []string{"op"}})
	h.With("a").Observe(-1)
	rej := reg.Family("vitals_rejected_observations_total")
	found := false
	for _, s := range rej.Series() {
		if s.Values[0] == "lat_seconds" && s.Values[1] == "negative" {
			found = s.Value() == 1
		}
	}
	if !found {
		t.Fatal("rejection not counted in vitals_rejected_observations_total")
	}
}
