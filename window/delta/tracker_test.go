package delta

import (
	"log/slog"
	"math"
	"testing"
	"time"

	"github.com/bizra/vitals"
	"github.com/bizra/vitals/metric"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func newMonitor() (*vitals.Monitor, *vitals.ManualClock) {
	clk := vitals.NewManualClock(t0)
	return vitals.New(&vitals.Options{Clock: clk, Logger: slog.New(slog.DiscardHandler)}), clk
}

type seen struct {
	inc   float64
	first bool
	hist  uint64
	el    time.Duration
}

func TestTrackerChanges(t *testing.T) {
	t.Parallel()
	m, clk := newMonitor()
	r := m.Registry()
	c := r.Counter(metric.Opts{Name: "jobs_total", Help: "Jobs."})
	var ext float64 = 1000
	r.CounterFunc(metric.Opts{Name: "ext_total", Help: "External."}, func() float64 { return ext })
	h := r.Histogram(metric.Opts{Name: "lat_seconds", Help: "Latency.", Unit: "seconds"})
	vec := r.GaugeVec(metric.Opts{Name: "depth", Help: "Depth.", Labels: []string{"q"}})
	vec.With("a").Set(3)

	var tr Tracker[int]
	got := map[string]seen{}
	gone := 0
	update := func() {
		got = map[string]seen{}
		tr.Update(m.Collect(), func(ch *Change, n *int) {
			*n++
			s := seen{inc: ch.Increase, first: ch.First, el: ch.Elapsed}
			if ch.Hist != nil {
				s.hist = ch.Hist.Count
			}
			got[ch.Point.Key()] = s
		}, func(n *int) { gone++ })
	}
	c.Add(5)
	h.Observe(1)
	update()
	if s := got["jobs_total"]; s.inc != 5 || !s.first {
		t.Fatalf("instrument counter on first sight: %+v", s)
	}
	if s := got["ext_total"]; s.inc != 0 || !s.first {
		t.Fatalf("callback counter on first sight: %+v", s)
	}
	if s := got["lat_seconds"]; s.hist != 1 {
		t.Fatalf("histogram on first sight: %+v", s)
	}
	clk.Advance(time.Second)
	c.Add(2)
	ext = 1010
	h.Observe(2)
	h.Observe(3)
	update()
	if s := got["jobs_total"]; s.inc != 2 || s.first || s.el != time.Second {
		t.Fatalf("counter: %+v", s)
	}
	if s := got["ext_total"]; s.inc != 10 {
		t.Fatalf("callback counter: %+v", s)
	}
	if s := got["lat_seconds"]; s.hist != 2 {
		t.Fatalf("histogram: %+v", s)
	}
	// A callback counter that resets, then reads NaN, then comes back.
	clk.Advance(time.Second)
	ext = 4
	update()
	if s := got["ext_total"]; s.inc != 4 {
		t.Fatalf("reset: %+v", s)
	}
	ext = math.NaN()
	update()
	if s := got["ext_total"]; !math.IsNaN(s.inc) {
		t.Fatalf("NaN: %+v", s)
	}
	ext = 9
	update()
	if s := got["ext_total"]; s.inc != 5 {
		t.Fatalf("after NaN: %+v", s)
	}
	// A deleted series is forgotten; a new one with the same labels is new.
	vec.Delete("a")
	update()
	if gone != 1 || tr.Len() != len(got) {
		t.Fatalf("gone %d, tracked %d, in snapshot %d", gone, tr.Len(), len(got))
	}
	vec.With("a").Set(1)
	update()
	if s := got[`depth{q="a"}`]; !s.first {
		t.Fatalf("re-created series: %+v", s)
	}
}

// Snapshots may be skipped (a Subscription drops stale ones): changes then
// span the gap.
func TestTrackerSkippedSnapshots(t *testing.T) {
	t.Parallel()
	m, clk := newMonitor()
	c := m.Registry().Counter(metric.Opts{Name: "jobs_total", Help: "Jobs."})
	var tr Tracker[struct{}]
	var inc float64
	var el time.Duration
	fn := func(ch *Change, _ *struct{}) {
		if ch.Point.Name() == "jobs_total" {
			inc, el = ch.Increase, ch.Elapsed
		}
	}
	tr.Update(m.Collect(), fn, nil)
	for i := 0; i < 3; i++ {
		clk.Advance(time.Second)
		c.Add(10)
		m.Collect() // not given to the tracker
	}
	clk.Advance(time.Second)
	tr.Update(m.Collect(), fn, nil)
	if inc != 30 || el != 4*time.Second {
		t.Fatalf("increase %v over %v", inc, el)
	}
}

func TestTrackerSteadyStateAllocations(t *testing.T) {
	m, clk := newMonitor()
	r := m.Registry()
	hs := r.HistogramVec(metric.Opts{Name: "lat_seconds", Help: "Latency.", Unit: "seconds", Labels: []string{"op"}})
	cs := r.CounterVec(metric.Opts{Name: "ops_total", Help: "Ops.", Labels: []string{"op"}})
	for _, op := range []string{"a", "b", "c"} {
		hs.With(op).Observe(0.1)
		cs.With(op).Inc()
	}
	var tr Tracker[float64]
	fn := func(ch *Change, v *float64) { *v += ch.Value }
	snaps := make([]*vitals.Snapshot, 0, 200)
	for i := 0; i < 200; i++ {
		clk.Advance(time.Second)
		hs.With("a").Observe(float64(i%7) / 10)
		snaps = append(snaps, m.Collect())
	}
	i := 0
	next := func() {
		tr.Update(snaps[i%len(snaps)], fn, nil)
		i++
	}
	for range 10 {
		next()
	}
	if n := testing.AllocsPerRun(100, next); n != 0 {
		t.Fatalf("Update allocates %v times per snapshot", n)
	}
}
