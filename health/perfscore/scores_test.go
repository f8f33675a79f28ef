package perfscore

import (
	"errors"
	"log/slog"
	"math"
	"runtime/metrics"
	"strings"
	"testing"
	"time"

	"github.com/bizra/vitals"
	"github.com/bizra/vitals/score"
)

func TestSLOScorer(t *testing.T) {
	t.Parallel()
	clk := vitals.NewManualClock(t0)
	m := vitals.New(&vitals.Options{Clock: clk, Logger: quiet()})
	get, put, rare := m.Operation("store.get"), m.Operation("store.put"), m.Operation("admin")
	m.Collect()
	fail := errors.New("x")
	for i := range 100 {
		d := 10 * time.Millisecond
		if i < 3 {
			d = 1200 * time.Millisecond
		}
		var err error
		if i < 5 {
			err = fail
		}
		get.Observe(d, err)
		put.Observe(20*time.Millisecond, nil)
	}
	rare.Observe(time.Hour, fail)
	clk.Advance(time.Second)
	m.Collect()

	s := NewSLOScorer(m, &SLOOptions{Operations: map[string]Objective{"store.put": {P99: 10 * time.Millisecond}}}).Score()
	byName := map[string]score.Factor{}
	for _, f := range s.Factors {
		byName[f.Name] = f
	}
	if f := byName["admin p99"]; !f.NoData {
		t.Fatalf("1 call is no data: %+v", f)
	}
	lat := byName["store.get p99"]
	if math.Abs(lat.Observed-1.2) > 0.01 || math.Abs(lat.Score-53.3) > 1 {
		t.Fatalf("get p99 %+v", lat)
	}
	if lat.Advice != "store.get p99 is 1.2 s against a 500 ms target: find its slowest step (pool wait, cache misses, a slow dependency), or raise the objective if this is expected" {
		t.Fatalf("advice %q", lat.Advice)
	}
	errs := byName["store.get errors"]
	if errs.Observed != 0.05 || errs.Score != 0 ||
		errs.Advice != "store.get failed 5% of 100 calls in the last minute against a 1% budget: check its errors in the logs and its dependencies' health" {
		t.Fatalf("get errors %+v", errs)
	}
	// The per-operation objective: 20 ms against 10 ms, limit 40 ms: 1/3 of the way.
	if f := byName["store.put p99"]; math.Abs(f.Score-66.7) > 0.1 || f.Target != 0.01 {
		t.Fatalf("put p99 %+v", f)
	}
	if f := byName["store.put errors"]; f.Score != 100 || f.Advice != "" {
		t.Fatalf("put errors %+v", f)
	}
	if s.Status != score.Fail || len(s.Recommendations) != 3 || !strings.HasPrefix(s.Recommendations[0], "store.get failed") {
		t.Fatalf("score %v %v %q", s.Value, s.Status, s.Recommendations)
	}
	if empty := NewSLOScorer(vitals.New(&vitals.Options{Logger: quiet()}), nil).Score(); empty.Value != 100 || empty.Status != score.Pass {
		t.Fatalf("no operations: %+v", empty)
	}
}

// fakeRuntime returns readings from a script, one per Score.
type fakeRuntime struct {
	i     int
	steps []reading
}

func (f *fakeRuntime) read() reading {
	r := f.steps[min(f.i, len(f.steps)-1)]
	f.i++
	return r
}

func hist(counts ...uint64) *metrics.Float64Histogram {
	// buckets: [0,1ms) [1ms,10ms) [10ms,100ms) [100ms,+Inf)
	return &metrics.Float64Histogram{Counts: counts, Buckets: []float64{0, 0.001, 0.01, 0.1, math.Inf(1)}}
}

func TestRuntimeScorer(t *testing.T) {
	t.Parallel()
	clk := vitals.NewManualClock(t0)
	s := NewRuntimeScorer(clk, &RuntimeOptions{HeapGrowthWindow: 2 * time.Minute})
	num := func(g, gcCPU, cpu, live, limit, total, released float64) map[string]float64 {
		return map[string]float64{rmGoroutines: g, rmGCCPU: gcCPU, rmTotalCPU: cpu, rmHeapLive: live,
			rmMemLimit: limit, rmMemTotal: total, rmHeapReleased: released}
	}
	fake := &fakeRuntime{steps: []reading{
		{num: num(100, 1, 100, 100<<20, math.MaxInt64, 0, 0),
			hists: map[string]*metrics.Float64Histogram{rmSchedLat: hist(1000, 0, 0, 0), rmGCPauses: hist(10, 0, 0, 0)}},
		// 10 s later: 1000 scheduling waits, 2% of them 10-100 ms; GC took
		// 15% of CPU; the heap doubled; a 1 GiB limit 90% used.
		{num: num(50000, 4, 120, 200<<20, 1<<30, 0.95*(1<<30), 0.05*(1<<30)),
			hists: map[string]*metrics.Float64Histogram{rmSchedLat: hist(1980, 0, 20, 0), rmGCPauses: hist(10, 0, 0, 0)}},
		{num: num(100, 4, 140, 300<<20, math.MaxInt64, 0, 0),
			hists: map[string]*metrics.Float64Histogram{rmSchedLat: hist(2980, 0, 20, 0), rmGCPauses: hist(12, 0, 0, 0)}},
	}}
	s.read = fake.read

	first := s.Score()
	for _, f := range first.Factors {
		if f.Name != "goroutines" && !f.NoData {
			t.Fatalf("first Score: %s has data: %+v", f.Name, f)
		}
	}
	clk.Advance(time.Minute)
	second := s.Score()
	got := map[string]score.Factor{}
	for _, f := range second.Factors {
		got[f.Name] = f
	}
	check := func(name string, observed, scoreWant float64, advice string) {
		t.Helper()
		f := got[name]
		if f.NoData || math.Abs(f.Observed-observed) > 1e-9 || math.Abs(f.Score-scoreWant) > 0.1 || !strings.HasPrefix(f.Advice, advice) {
			t.Errorf("%s: %+v", name, f)
		}
	}
	check("goroutines", 50000, 55.6, "50000 goroutines against a target of 10000")
	check("sched latency p99", 0.055, 0, "runnable goroutines waited 55 ms (p99) for a CPU against a 5 ms target")
	check("gc cpu", 0.15, 50, "the GC used 15% of the CPU against a 5% target")
	check("memory limit use", 0.9, 44.4, "the runtime holds 90% of GOMEMLIMIT against a 80% target")
	check("heap growth", 2, 80, "the live heap grew 2.0x within 2m0s (from 100.0 MiB to 200.0 MiB)")
	if f := got["gc pause p99"]; !f.NoData {
		t.Errorf("no GC in the interval is no data: %+v", f)
	}
	if second.Status != score.Fail { // the scheduler factor is at 0
		t.Fatalf("status %v %v", second.Value, second.Status)
	}
	clk.Advance(2 * time.Minute) // the 100 MiB sample leaves the window
	third := s.Score()
	for _, f := range third.Factors {
		switch f.Name {
		case "memory limit use":
			if !f.NoData {
				t.Errorf("no limit set is no data: %+v", f)
			}
		case "gc pause p99":
			if f.NoData || f.Observed != 0.0005 {
				t.Errorf("gc pause %+v", f)
			}
		case "heap growth":
			if f.Observed != 1.5 {
				t.Errorf("heap growth over the window %+v", f)
			}
		}
	}
}

func TestRuntimeScorerReadsThisProcess(t *testing.T) {
	t.Parallel()
	s := NewRuntimeScorer(nil, nil)
	s.Score()
	sc := s.Score()
	if len(sc.Factors) != 6 || sc.Factors[0].NoData || sc.Factors[0].Observed < 1 {
		t.Fatalf("%+v", sc)
	}
}

func TestThresholdDefaults(t *testing.T) {
	t.Parallel()
	def := Threshold{Target: 10, Limit: 100}
	for in, want := range map[Threshold]Threshold{
		{}:                      def,
		{Target: 5}:             {5, 50},
		{Limit: 20}:             {2, 20},
		{Target: 1, Limit: 3}:   {1, 3},
		{Target: 0.9, Limit: 1}: {0.9, 1},
	} {
		if got := in.or(def); got != want {
			t.Errorf("%+v.or = %+v, want %+v", in, got, want)
		}
	}
}

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func quiet() *slog.Logger { return slog.New(slog.DiscardHandler) }
