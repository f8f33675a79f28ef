package vitals

import (
	"bytes"
	"errors"
	"log/slog"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bizra/vitals/metric"
)

// TestPointChanges: the collector computes each series' change once per
// tick: counter increases (resets and callbacks included), histogram
// deltas, and which series are new.
func TestPointChanges(t *testing.T) {
	clk := NewManualClock(t0)
	m := New(&Options{Clock: clk, Logger: quiet()})
	r := m.Registry()
	c := r.Counter(metric.Opts{Name: "jobs_total", Help: "Jobs."})
	var fnVal float64 = 40
	r.CounterFunc(metric.Opts{Name: "driver_waits_total", Help: "Waits."}, func() float64 { return fnVal })
	h := r.Histogram(metric.Opts{Name: "lat_seconds", Help: "Latency.", Unit: "seconds"})
	g := r.Gauge(metric.Opts{Name: "depth", Help: "Depth."})

	c.Add(5)
	h.Observe(0.1)
	g.Set(3)
	s := m.Collect()
	jobs, _ := s.Lookup("jobs_total")
	waits, _ := s.Lookup("driver_waits_total")
	lat, _ := s.Lookup("lat_seconds")
	depth, _ := s.Lookup("depth")
	if !jobs.New || jobs.Increase != 5 {
		t.Fatalf("new counter: New %v, Increase %v; want true, 5 (its whole value)", jobs.New, jobs.Increase)
	}
	if waits.Increase != 0 {
		t.Fatalf("new callback counter: Increase %v, want 0 (its history is unknown)", waits.Increase)
	}
	if lat.Delta == nil || lat.Delta.Count != 1 {
		t.Fatalf("new histogram: delta %+v, want its one observation", lat.Delta)
	}
	if !math.IsNaN(depth.Increase) || depth.Delta != nil {
		t.Fatalf("gauge: Increase %v, Delta %v; want NaN, nil", depth.Increase, depth.Delta)
	}

	clk.Advance(time.Second)
	c.Add(2)
	fnVal = 45
	h.Observe(0.2)
	h.Observe(0.3)
	s = m.Collect()
	jobs, _ = s.Lookup("jobs_total")
	waits, _ = s.Lookup("driver_waits_total")
	lat, _ = s.Lookup("lat_seconds")
	if jobs.New || jobs.Increase != 2 || waits.Increase != 5 {
		t.Fatalf("second tick: jobs New %v Increase %v, waits %v; want false, 2, 5", jobs.New, jobs.Increase, waits.Increase)
	}
	if lat.Delta.Count != 2 || math.Abs(lat.Delta.Sum-0.5) > 1e-9 || lat.Hist.Count != 3 {
		t.Fatalf("second tick histogram: delta %d/%v, cumulative %d", lat.Delta.Count, lat.Delta.Sum, lat.Hist.Count)
	}
	if s.Elapsed != time.Second {
		t.Fatalf("Elapsed %v", s.Elapsed)
	}

	// A callback counter that went down was reset: the new value is the
	// increase. A failed callback (NaN) is unknown, and the next good value
	// is measured from the last good one.
	clk.Advance(time.Second)
	fnVal = 3
	if p, _ := m.Collect().Lookup("driver_waits_total"); p.Increase != 3 {
		t.Fatalf("reset: Increase %v, want 3", p.Increase)
	}
	clk.Advance(time.Second)
	fnVal = math.NaN()
	if p, _ := m.Collect().Lookup("driver_waits_total"); !math.IsNaN(p.Increase) {
		t.Fatalf("failed callback: Increase %v, want NaN", p.Increase)
	}
	clk.Advance(time.Second)
	fnVal = 10
	if p, _ := m.Collect().Lookup("driver_waits_total"); p.Increase != 7 {
		t.Fatalf("after a failed read: Increase %v, want 7", p.Increase)
	}
}

// TestFindAndFamily: consumers find their series by pointer, and a
// family's points as one slice; the index is shared while the series stay
// the same and rebuilt when they change.
func TestFindAndFamily(t *testing.T) {
	m := New(&Options{Clock: NewManualClock(t0), Logger: quiet()})
	vec := m.Registry().CounterVec(metric.Opts{Name: "hits_total", Help: "Hits.", Labels: []string{"tier"}})
	vec.With("l1").Add(3)
	vec.With("l2").Add(4)
	s1 := m.Collect()
	ser := vec.Family().Find("l2")
	if p := s1.Find(ser); p == nil || p.Value != 4 || p.LabelValue("tier") != "l2" || !p.Is(ser) {
		t.Fatalf("Find(l2) = %+v", p)
	}
	if pts := s1.Family(vec.Family()); len(pts) != 2 || pts[0].LabelValues()[0] != "l1" {
		t.Fatalf("Family: %d points", len(pts))
	}
	if s1.Find(nil) != nil {
		t.Fatal("Find(nil) must be nil")
	}
	s2 := m.Collect()
	if s2.index != s1.index {
		t.Fatal("the index must be shared while the series are the same")
	}
	vec.With("l3").Inc()
	s3 := m.Collect()
	if s3.index == s2.index || s3.Find(vec.Family().Find("l3")) == nil {
		t.Fatal("a new series must be in a new index")
	}
	if p := s3.Find(vec.Family().Find("l3")); !p.New || p.Increase != 1 {
		t.Fatalf("new series: %+v", p)
	}
}

// TestOperationFirstIntervalCounted: calls made before an operation's
// first tick count in its durations and its errors alike.
func TestOperationFirstIntervalCounted(t *testing.T) {
	clk := NewManualClock(t0)
	m := New(&Options{Clock: clk, Logger: quiet()})
	op := m.Operation("checkout")
	fail := errors.New("declined")
	for range 100 {
		err := fail
		op.Start().End(&err)
	}
	m.Collect()
	clk.Advance(time.Second)
	for range 100 {
		op.Start().End(nil)
	}
	m.Collect()
	st, ok := m.OperationStats("checkout")
	if !ok || st.Count != 200 || st.Errors != 100 || st.ErrorRatio != 0.5 {
		t.Fatalf("stats %+v: want 200 calls, 100 errors, ratio 0.5", st)
	}
}

// panickyWithState is a consumer of a type that is not comparable: a map
// keyed by it would itself panic.
type panickyWithState struct{ seen []uint64 }

func (p panickyWithState) Consume(*Snapshot) { panic("stateful consumer bug") }

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestPanickingConsumersNeverStopTheCollector: a ConsumerFunc and a
// consumer holding a slice panic on every tick for a minute of ticks. Each
// panic is counted, each consumer is logged once, every other consumer is
// fed every tick, and the running loop keeps ticking.
func TestPanickingConsumersNeverStopTheCollector(t *testing.T) {
	var logs lockedBuffer
	clk := NewManualClock(t0)
	m := New(&Options{Clock: clk, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	m.AddConsumer(ConsumerFunc(func(*Snapshot) { panic("func consumer bug") }))
	m.AddConsumer(panickyWithState{seen: []uint64{1}})
	fed := 0
	m.AddConsumer(ConsumerFunc(func(*Snapshot) { fed++ }))
	for range 60 {
		clk.Advance(time.Second)
		m.Collect()
	}
	if fed != 60 {
		t.Fatalf("healthy consumer fed %d times, want 60", fed)
	}
	if n := m.panics.Value(); n != 120 {
		t.Fatalf("%d panics counted, want 120", n)
	}
	if n := strings.Count(logs.String(), "snapshot consumer panicked"); n != 2 {
		t.Fatalf("%d panic log lines, want one per consumer (2):\n%s", n, logs.String())
	}

	// The same through the running loop.
	m2 := New(&Options{Interval: time.Millisecond, Logger: quiet()})
	m2.AddConsumer(ConsumerFunc(func(*Snapshot) { panic("bug") }))
	sub := m2.Subscribe()
	m2.Start()
	for range 5 {
		<-sub.C()
	}
	m2.Stop()
	if m2.panics.Value() < 5 {
		t.Fatalf("loop: %d panics", m2.panics.Value())
	}
}

// TestRemoveConsumer: the function AddConsumer returns detaches the
// consumer, idempotently, even from inside Consume.
func TestRemoveConsumer(t *testing.T) {
	m := New(&Options{Clock: NewManualClock(t0), Logger: quiet()})
	var a, b int
	removeA := m.AddConsumer(ConsumerFunc(func(*Snapshot) { a++ }))
	var removeB func()
	removeB = m.AddConsumer(ConsumerFunc(func(*Snapshot) { b++; removeB() }))
	m.Collect()
	removeA()
	removeA()
	m.Collect()
	if a != 1 || b != 1 {
		t.Fatalf("fed a %d, b %d times; want 1, 1", a, b)
	}
}
