package aggregate

import (
	"fmt"
	"log/slog"
	"math"
	"testing"
	"time"

	"github.com/bizra/vitals"
	"github.com/bizra/vitals/internal/testutil"
	"github.com/bizra/vitals/metric"
	"github.com/bizra/vitals/window"
)

var t0 = testutil.T0

func newMonitor() (*vitals.Monitor, *vitals.ManualClock) {
	clk := vitals.NewManualClock(t0)
	return vitals.New(&vitals.Options{Clock: clk, Logger: slog.New(slog.DiscardHandler)}), clk
}

func TestAggregatorWindows(t *testing.T) {
	t.Parallel()
	m, clk := newMonitor()
	reg := m.Registry()
	agg := New(m, nil)
	c := reg.Counter(metric.Opts{Name: "jobs_total", Help: "Jobs."})
	g := reg.Gauge(metric.Opts{Name: "depth", Help: "Depth."})
	h := reg.Histogram(metric.Opts{Name: "lat_seconds", Help: "Latency.", Unit: "seconds"})
	// A reference: a Stack with the series' phase, fed the same deltas by
	// hand (window.TestStackMatchesRings relates Stacks to Rings).
	var ref *window.Stack
	var prev, cur, d metric.HistogramValue
	for i := 0; i < 2*3600; i++ {
		now := clk.Advance(time.Second)
		c.Add(uint64(i % 3))
		g.Set(int64(i % 100))
		for k := 0; k < i%5; k++ {
			h.Observe(float64(1+(i+k)%250) / 1000)
		}
		m.Collect()
		if ref == nil {
			ref = window.NewStack(agg.Windows(), 20)
			ref.SetPhase(agg.byKey["lat_seconds"].wins.Phase())
		}
		h.Read(&cur)
		d.Sub(&cur, &prev)
		ref.AddHistogram(now, time.Second, &d)
		prev, cur = cur, prev
	}
	now := clk.Now()
	for i, w := range agg.Windows() {
		st, ok := agg.Stats("lat_seconds", w)
		want := ref.Stats(now, i)
		if !ok || st.Count != want.Count || st.P99 != want.P99 || st.P50 != want.P50 || st.Max != want.Max {
			t.Fatalf("%v: %+v\nwant %+v", w, st, want)
		}
		if math.Abs(st.Covered.Seconds()-w.Seconds()) > w.Seconds()/20+1 {
			t.Fatalf("%v covers %v", w, st.Covered)
		}
		cs, _ := agg.Stats("jobs_total", w)
		if cs.Last != float64(c.Value()) || math.Abs(cs.Rate-1) > 0.05 {
			t.Fatalf("%v counter: %+v", w, cs)
		}
		gs, _ := agg.Stats("depth", w)
		if gs.Max != 99 || gs.Last != float64(g.Value()) || (w > 2*time.Minute && (gs.Min != 0 || math.Abs(gs.Avg-49.5) > 2.5)) {
			t.Fatalf("%v gauge: %+v", w, gs)
		}
	}
	all, ok := agg.StatsAll("lat_seconds")
	if !ok || len(all) != 4 || all[3].Window != time.Hour {
		t.Fatalf("StatsAll %v %v", ok, all)
	}
	if _, ok := agg.Stats("lat_seconds", 2*time.Minute); ok {
		t.Fatal("a window not kept")
	}
	if _, ok := agg.Stats("nope", time.Minute); ok {
		t.Fatal("an unknown series")
	}
	if in, ok := agg.Lookup("lat_seconds"); !ok || in.Kind != metric.KindHistogram || in.Unit != "seconds" {
		t.Fatalf("Lookup %+v", in)
	}
	if n := reg.Family("vitals_window_series").Series()[0].Value(); n < 3 {
		t.Fatalf("vitals_window_series %v", n)
	}
	if agg.MemBytes() <= 0 || !agg.Now().Equal(now) {
		t.Fatal("MemBytes or Now")
	}
}

func TestAggregatorSeriesLifecycle(t *testing.T) {
	t.Parallel()
	m, clk := newMonitor()
	reg := m.Registry()
	probe, _ := newMonitor() // the same self-metrics, the aggregator's included
	New(probe, nil)
	own := len(probe.Collect().Points) + 1 // and depth's vitals_series_overflow_total
	agg := New(m, &Options{MaxSeries: own + 3, Windows: []time.Duration{time.Minute}})
	vec := reg.GaugeVec(metric.Opts{Name: "depth", Help: "Depth.", Labels: []string{"q"}})
	for i := range 5 {
		vec.With(fmt.Sprint(i)).Set(int64(i))
	}
	clk.Advance(time.Second)
	m.Collect()
	var kept []string
	for _, s := range agg.Series() {
		if s.Name == "depth" {
			kept = append(kept, s.Key)
		}
	}
	if len(kept) != 3 || len(agg.Series()) != own+3 {
		t.Fatalf("kept %v of 5 with room for 3", kept)
	}
	if v := agg.dropped.Value(); v != 2 {
		t.Fatalf("%d dropped series counted, want 2", v)
	}
	// Deleted series are forgotten.
	for i := range 5 {
		vec.Delete(fmt.Sprint(i))
	}
	clk.Advance(time.Second)
	m.Collect()
	for _, s := range agg.Series() {
		if s.Name == "depth" {
			t.Fatalf("deleted series %s still has windows", s.Key)
		}
	}
}

// TestAggregatorClockJumps: windows stay consistent when the clock goes
// back a little (ticks count into the current slot), back a lot (the
// window starts over), or forward past the window (it empties).
func TestAggregatorClockJumps(t *testing.T) {
	t.Parallel()
	m, clk := newMonitor()
	agg := New(m, nil)
	c := m.Registry().Counter(metric.Opts{Name: "jobs_total", Help: "Jobs."})
	h := m.Registry().Histogram(metric.Opts{Name: "lat_seconds", Help: "Latency.", Unit: "seconds"})
	for i, step := range []time.Duration{1, 1, 1, -20, 1, 1, -7200, 1, 1, 86400, 1, -3, 1} {
		clk.Advance(step * time.Second)
		c.Inc()
		h.Observe(0.01 * float64(i+1))
		m.Collect()
		for _, w := range agg.Windows() {
			cs, _ := agg.Stats("jobs_total", w)
			hs, _ := agg.Stats("lat_seconds", w)
			if cs.Count < 1 || cs.Count > float64(i+1) || hs.Count != cs.Count || math.IsNaN(hs.P99) || hs.P99 <= 0 {
				t.Fatalf("step %d (%v) window %v: counter %+v histogram %+v", i, step, w, cs, hs)
			}
		}
	}
}

func TestNewPanicsOnBadWindows(t *testing.T) {
	t.Parallel()
	defer func() {
		if recover() == nil {
			t.Fatal("no panic")
		}
	}()
	New(vitals.New(nil), &Options{Windows: []time.Duration{-time.Second}})
}
