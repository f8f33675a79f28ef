package vitals

import (
	"errors"
	"math"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/bizra/vitals/internal/testutil"
	"github.com/bizra/vitals/metric"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var quiet = testutil.Quiet

var t0 = testutil.T0

func TestStartStopIdempotent(t *testing.T) {
	m := New(nil)
	m.Stop() // before Start
	m.Start()
	m.Stop()
	m.Stop()
	m2 := New(&Options{Interval: time.Millisecond})
	m2.Start()
	m2.Start()
	sub := m2.Subscribe()
	if s := <-sub.C(); s == nil || s.Seq == 0 {
		t.Fatalf("no snapshot from the running loop: %v", s)
	}
	m2.Stop()
	for range sub.C() { // closed by Stop
	}
	sub.Close()
}

func TestSnapshotValues(t *testing.T) {
	clk := NewManualClock(t0)
	m := New(&Options{Clock: clk, Logger: quiet()})
	r := m.Registry()
	c := r.CounterVec(metric.Opts{Name: "jobs_total", Help: "Jobs.", Labels: []string{"queue"}})
	g := r.Gauge(metric.Opts{Name: "depth", Help: "Depth."})
	h := r.Histogram(metric.Opts{Name: "lat_seconds", Help: "Latency."})
	r.GaugeFunc(metric.Opts{Name: "answer", Help: "Answer."}, func() float64 { return 42 })
	r.GaugeFunc(metric.Opts{Name: "broken", Help: "Panics."}, func() float64 { panic("boom") })
	c.With("a").Add(3)
	c.With("b").Inc()
	g.Set(-5)
	h.Observe(0.25)
	h.Observe(0.5)

	s1 := m.Collect()
	clk.Advance(time.Second)
	h.Observe(1)
	s2 := m.Collect()

	if s1.Seq != 1 || s2.Seq != 2 || s2.Elapsed != time.Second || !s2.Time.Equal(t0.Add(time.Second)) {
		t.Fatalf("seq/time: %d %d %v %v", s1.Seq, s2.Seq, s2.Elapsed, s2.Time)
	}
	check := func(s *Snapshot, name string, want float64, labels ...string) {
		t.Helper()
		p, ok := s.Lookup(name, labels...)
		if !ok {
			t.Fatalf("%s%v missing", name, labels)
		}
		if p.Value != want && !(math.IsNaN(want) && math.IsNaN(p.Value)) {
			t.Fatalf("%s%v = %v, want %v", name, labels, p.Value, want)
		}
	}
	check(s2, "jobs_total", 3, "a")
	check(s2, "jobs_total", 1, "b")
	check(s2, "depth", -5)
	check(s2, "answer", 42)
	check(s2, "broken", math.NaN())
	p1, _ := s1.Lookup("lat_seconds")
	p2, _ := s2.Lookup("lat_seconds")
	if p1.Hist.Count != 2 || p2.Hist.Count != 3 || p2.Hist.Sum != 1.75 {
		t.Fatalf("histogram points %+v %+v", p1.Hist, p2.Hist)
	}
	// The first snapshot is immutable: the later observation is not in it.
	var n uint64
	for _, b := range p1.Hist.Buckets {
		n += b.Count
	}
	if n != 2 {
		t.Fatalf("snapshot 1 changed: %d bucket counts", n)
	}
	if p, _ := s2.Lookup("vitals_collector_panics_total"); p.Value < 1 {
		t.Fatalf("callback panics not counted: %v", p.Value)
	}
}

func TestOperationStats(t *testing.T) {
	clk := NewManualClock(t0)
	m := New(&Options{Clock: clk, Logger: quiet()})
	op := m.Operation("db.get")
	if m.Operation("db.get") != op {
		t.Fatal("Operation is not handle-first")
	}
	m.Collect()
	errBoom := errors.New("boom")
	// 60 ticks of 100 ops each: 1 ms to 100 ms, every 10th an error.
	for tick := 0; tick < 60; tick++ {
		clk.Advance(time.Second)
		for i := 1; i <= 100; i++ {
			var err error
			if i%10 == 0 {
				err = errBoom
			}
			op.Observe(time.Duration(i)*time.Millisecond, err)
		}
		m.Collect()
	}
	st, ok := m.OperationStats("db.get")
	if !ok {
		t.Fatal("no stats")
	}
	if st.Count != 6000 || st.Errors != 600 || math.Abs(st.ErrorRatio-0.1) > 1e-9 {
		t.Fatalf("count %d errors %d ratio %v", st.Count, st.Errors, st.ErrorRatio)
	}
	if math.Abs(st.Rate-100) > 1e-9 {
		t.Fatalf("rate %v, want 100/s", st.Rate)
	}
	near := func(name string, got, want time.Duration) {
		t.Helper()
		if rel := math.Abs(float64(got-want)) / float64(want); rel > 0.0055 {
			t.Errorf("%s = %v, want %v (±0.55%%)", name, got, want)
		}
	}
	near("p50", st.P50, 50*time.Millisecond)
	near("p95", st.P95, 95*time.Millisecond)
	near("p99", st.P99, 99*time.Millisecond)
	near("p99.9", st.P999, 100*time.Millisecond)
	near("max", st.Max, 100*time.Millisecond)

	// A minute of silence empties the window.
	for i := 0; i < 61; i++ {
		clk.Advance(time.Second)
		m.Collect()
	}
	st, _ = m.OperationStats("db.get")
	if st.Count != 0 || st.Rate != 0 {
		t.Fatalf("window did not expire: %+v", st)
	}
}

func TestSpanEnd(t *testing.T) {
	m := New(nil)
	op := m.Operation("x")
	func() (err error) {
		defer op.Start().End(&err)
		if op.inFlight() != 1 {
			t.Errorf("in flight %d, want 1", op.inFlight())
		}
		return errors.New("fail")
	}()
	op.Start().End(nil)
	if op.inFlight() != 0 || op.errs.Value() != 1 || op.dur.Count() != 2 {
		t.Fatalf("inflight %d errors %d count %d", op.inFlight(), op.errs.Value(), op.dur.Count())
	}
	op.Observe(-time.Second, nil)
	if op.dur.Rejected(metric.RejectNegative) != 1 || op.inFlight() != 0 {
		t.Fatal("negative duration not rejected cleanly")
	}
	if n := testing.AllocsPerRun(1000, func() {
		var err error
		op.Start().End(&err)
	}); n != 0 {
		t.Fatalf("a tracked operation allocates %v times", n)
	}
}

func TestOperationCap(t *testing.T) {
	m := New(&Options{MaxOperations: 3})
	if got := m.MaxOperations(); got != 3 {
		t.Fatalf("MaxOperations() = %d, want 3", got)
	}
	if got := New(nil).MaxOperations(); got != 500 {
		t.Fatalf("default MaxOperations() = %d, want 500", got)
	}
	for _, n := range []string{"a", "b", "c", "d", "e"} {
		m.Operation(n).Observe(time.Millisecond, nil)
	}
	s := m.Collect()
	if p, ok := s.Lookup("vitals_operation_duration_seconds", metric.OverflowValue); !ok || p.Hist.Count != 2 {
		t.Fatalf("overflow series missing or wrong: %v", p)
	}
	if p, _ := s.Lookup("vitals_series_overflow_total", "vitals_operation_duration_seconds"); p.Value != 2 {
		t.Fatalf("overflow not counted: %v", p.Value)
	}
}

type panicky struct{}

func (panicky) Consume(*Snapshot) { panic("consumer bug") }

func TestConsumersAndSubscribers(t *testing.T) {
	m := New(&Options{Clock: NewManualClock(t0), Logger: quiet()})
	defer m.Stop()
	var got []uint64
	m.AddConsumer(panicky{})
	m.AddConsumer(ConsumerFunc(func(s *Snapshot) { got = append(got, s.Seq) }))
	slow := m.Subscribe()
	for i := 0; i < 5; i++ {
		m.Collect()
	}
	if len(got) != 5 {
		t.Fatalf("consumer after a panicking one saw %v", got)
	}
	// The slow subscriber holds only the latest snapshot; the rest were dropped.
	s := <-slow.C()
	if s.Seq != 5 {
		t.Fatalf("slow subscriber got seq %d, want 5", s.Seq)
	}
	if m.drops.Value() != 4 {
		t.Fatalf("drops %d, want 4", m.drops.Value())
	}
	slow.Close()
	slow.Close()
	if m.subscribers.Value() != 0 {
		t.Fatalf("subscribers gauge %d", m.subscribers.Value())
	}
}

func TestConcurrentUse(t *testing.T) {
	m := New(&Options{Interval: time.Millisecond})
	m.Start()
	defer m.Stop()
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			op := m.Operation([]string{"a", "b", "c"}[g%3])
			for i := 0; i < 2000; i++ {
				op.Start().End(nil)
				if i%500 == 0 {
					m.Operations()
				}
			}
		}(g)
	}
	wg.Wait()
	s := m.Collect()
	var total uint64
	for _, p := range s.Points {
		if p.Name() == "vitals_operation_duration_seconds" {
			total += p.Hist.Count
		}
	}
	if total != 16000 {
		t.Fatalf("recorded %d operations, want 16000", total)
	}
}

// TestCollectAllocationsDoNotGrowWithSeries: a tick allocates a handful of
// slices, not one object per series.
func TestCollectAllocationsDoNotGrowWithSeries(t *testing.T) {
	m := New(&Options{Clock: NewManualClock(t0), Logger: quiet()})
	r := m.Registry()
	hv := r.HistogramVec(metric.Opts{Name: "a_seconds", Help: "a", Unit: "seconds", Labels: []string{"k"}})
	cv := r.CounterVec(metric.Opts{Name: "a_total", Help: "a", Labels: []string{"k"}})
	for i := 0; i < 200; i++ {
		hv.With(string(rune('a'+i%26)) + string(rune('a'+i/26))).Observe(float64(i) / 100)
		cv.With(string(rune('a'+i%26)) + string(rune('a'+i/26))).Inc()
	}
	m.Collect()
	if n := testing.AllocsPerRun(20, func() { m.Collect() }); n > 10 {
		t.Fatalf("a tick over 400 series allocates %v objects, want a handful", n)
	}
}
