package store

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"go.uber.org/goleak"

	"github.com/bizra/vitals/metric"
	"github.com/bizra/vitals/vitalstest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func engine() *promql.Engine {
	return promql.NewEngine(promql.EngineOpts{MaxSamples: 1e7, Timeout: time.Minute, LookbackDelta: 5 * time.Minute})
}

func instant(t *testing.T, st *Store, q string, ts time.Time) promql.Vector {
	t.Helper()
	qry, err := engine().NewInstantQuery(context.Background(), st, nil, q, ts)
	if err != nil {
		t.Fatal(err)
	}
	defer qry.Close()
	res := qry.Exec(context.Background())
	if res.Err != nil {
		t.Fatalf("%s: %v", q, res.Err)
	}
	v, err := res.Vector()
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return v
}

// TestEngineOverRing feeds a Monitor for two minutes and checks that
// Prometheus' engine reads counters, gauges and native histograms from
// the ring with the labels a scrape would add.
func TestEngineOverRing(t *testing.T) {
	m, clk := vitalstest.NewMonitor(t)
	reg := m.Registry()
	c := reg.CounterVec(metric.Opts{Name: "test_requests_total", Help: "h", Labels: []string{"op"}}).With("get")
	g := reg.Gauge(metric.Opts{Name: "test_in_flight", Help: "h"})
	h := reg.HistogramVec(metric.Opts{Name: "test_duration_seconds", Help: "h", Unit: "seconds", Labels: []string{"op"}}).With("get")
	gath := prometheus.NewRegistry()
	rc := prometheus.NewCounter(prometheus.CounterOpts{Name: "runtime_things_total", Help: "h"})
	gath.MustRegister(rc)
	st := New(m, &Options{Labels: map[string]string{"job": "shop", "instance": "a:1"}, Gatherer: gath})
	defer st.Close()
	var now time.Time
	for i := range 120 {
		c.Add(10)
		g.Set(int64(i))
		rc.Add(2)
		for j := range 10 {
			h.Observe(0.1 + float64(j)*0.01) // 0.10 .. 0.19 s
		}
		now = vitalstest.Tick(m, clk, time.Second).Time
	}
	if st.Series() == 0 || st.Memory() <= 0 {
		t.Fatalf("series %d memory %d", st.Series(), st.Memory())
	}
	v := instant(t, st, `rate(test_requests_total{job="shop",op="get"}[1m])`, now)
	if len(v) != 1 || math.Abs(v[0].F-10) > 1e-9 || v[0].Metric.Get("instance") != "a:1" {
		t.Fatalf("rate: %v", v)
	}
	v = instant(t, st, `test_in_flight`, now)
	if len(v) != 1 || v[0].F < 115 { // the last kept tick is at most 5 s old
		t.Fatalf("gauge: %v", v)
	}
	v = instant(t, st, `histogram_quantile(0.5, sum by (op) (rate(test_duration_seconds[1m])))`, now)
	if len(v) != 1 || v[0].F < 0.13 || v[0].F > 0.16 {
		t.Fatalf("p50 of 0.10..0.19: %v", v)
	}
	v = instant(t, st, `histogram_count(rate(test_duration_seconds[1m]))`, now)
	if len(v) != 1 || math.Abs(v[0].F-10) > 1e-9 {
		t.Fatalf("histogram_count rate: %v", v)
	}
	v = instant(t, st, `rate(runtime_things_total[1m])`, now)
	if len(v) != 1 || math.Abs(v[0].F-2) > 1e-9 {
		t.Fatalf("gathered counter: %v", v)
	}
	q, _ := st.Querier(0, math.MaxInt64)
	names, _, err := q.LabelValues(context.Background(), "__name__", nil)
	if err != nil || len(names) < 4 {
		t.Fatalf("names %v %v", names, err)
	}
	ops, _, _ := q.LabelValues(context.Background(), "op", nil, labels.MustNewMatcher(labels.MatchEqual, "__name__", "test_requests_total"))
	if len(ops) != 1 || ops[0] != "get" {
		t.Fatalf("op values %v", ops)
	}
}

// TestRetentionAndStaleness checks that the ring keeps Retention, marks a
// vanished series stale at once, and forgets it after Retention.
func TestRetentionAndStaleness(t *testing.T) {
	m, clk := vitalstest.NewMonitor(t)
	vec := m.Registry().GaugeVec(metric.Opts{Name: "test_g", Help: "h", Labels: []string{"k"}})
	vec.With("a").Set(1)
	st := New(m, &Options{Retention: time.Minute, Resolution: time.Second})
	defer st.Close()
	var now time.Time
	for range 30 {
		now = vitalstest.Tick(m, clk, time.Second).Time
	}
	if v := instant(t, st, `count_over_time(test_g[10m])`, now); len(v) != 1 || v[0].F != 30 {
		t.Fatalf("samples in the ring: %v", v)
	}
	for range 90 {
		now = vitalstest.Tick(m, clk, time.Second).Time
	}
	if v := instant(t, st, `count_over_time(test_g[10m])`, now); len(v) != 1 || v[0].F != 61 {
		t.Fatalf("samples after a wrap (retention 1m at 1s = 61 ticks): %v", v)
	}
	vec.Delete("a")
	now = vitalstest.Tick(m, clk, time.Second).Time
	if v := instant(t, st, `test_g`, now); len(v) != 0 {
		t.Fatalf("a vanished series is still returned: %v", v)
	}
	for range 70 {
		vitalstest.Tick(m, clk, time.Second)
	}
	st.mu.RLock()
	kept := len(st.byName["test_g"])
	st.mu.RUnlock()
	if kept != 0 {
		t.Fatalf("%d test_g series kept after retention", kept)
	}
}

// TestGathererRetention: the Gatherer's series are kept
// GathererRetention (2h by default), the vitals series Retention (1h), so
// `avg_over_time(g[10m] offset 1h)` over a gathered gauge averages the
// 120 samples of that window, as Prometheus would, where a one-hour ring
// holds one; and the extra hour costs 8 bytes a tick of every gathered
// series (and of the timestamps), in the memory estimate too.
func TestGathererRetention(t *testing.T) {
	m, clk := vitalstest.NewMonitor(t)
	v := m.Registry().Gauge(metric.Opts{Name: "test_v", Help: "h"})
	gath := prometheus.NewRegistry()
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "test_runtime_g", Help: "h"})
	gath.MustRegister(g)
	st := New(m, &Options{Gatherer: gath})
	defer st.Close()
	// The same samples with the gathered series kept as long as the rest.
	short := NewDetached(&Options{Gatherer: gath, GathererRetention: time.Hour})
	if st.n != 721 || st.gn != 1441 || short.gn != short.n || NewDetached(&Options{Retention: 3 * time.Hour, GathererRetention: time.Hour}).gn != 2161 {
		t.Fatalf("ring lengths %d %d %d", st.n, st.gn, short.gn)
	}
	vals := map[int64]float64{} // the gathered gauge's value by tick time (ms)
	var now time.Time
	for k := range 1500 {
		x := float64((k * 7919) % 1000) // distinct, not monotonic
		g.Set(x)
		v.Set(int64(k))
		snap := vitalstest.Tick(m, clk, 5*time.Second)
		short.Consume(snap)
		now = snap.Time
		vals[now.UnixMilli()] = x
	}
	// Prometheus' ranges are left-open: (now-70m, now-60m].
	var sum, n float64
	for ts, x := range vals {
		if ts > now.Add(-70*time.Minute).UnixMilli() && ts <= now.Add(-time.Hour).UnixMilli() {
			sum += x
			n++
		}
	}
	if n != 120 {
		t.Fatalf("%v ticks in the window", n)
	}
	if r := instant(t, st, `avg_over_time(test_runtime_g[10m] offset 1h)`, now); len(r) != 1 || r[0].F != sum/n {
		t.Fatalf("avg_over_time offset 1h: %v, want %v", r, sum/n)
	}
	if r := instant(t, short, `count_over_time(test_runtime_g[10m] offset 1h)`, now); len(r) != 1 || r[0].F != 1 {
		t.Fatalf("a one-hour ring holds one sample of that window: %v", r)
	}
	for q, want := range map[string]float64{
		`count_over_time(test_runtime_g[10m] offset 1h)`: 120,
		`count_over_time(test_runtime_g[3h])`:            1441, // now-2h .. now
		`count_over_time(test_v[3h])`:                    721,  // now-1h .. now
		`count_over_time(test_v[10m] offset 1h)`:         1,
		`test_runtime_g offset 2h`:                       vals[now.Add(-2*time.Hour).UnixMilli()],
	} {
		if r := instant(t, st, q, now); len(r) != 1 || r[0].F != want {
			t.Fatalf("%s: %v, want %v", q, r, want)
		}
	}
	if r := instant(t, st, `test_v offset 2h`, now); len(r) != 0 {
		t.Fatalf("a vitals sample older than Retention: %v", r)
	}
	if b, _ := st.Oldest(); b != now.Add(-time.Hour).UnixMilli() {
		t.Fatalf("Oldest %v", time.UnixMilli(b))
	}
	oldest, heads, _ := st.Heads(labels.MustNewMatcher(labels.MatchRegexp, "__name__", "test_.*"))
	if oldest != now.Add(-time.Hour).UnixMilli() || len(heads) != 2 ||
		heads[0].T != now.Add(-2*time.Hour).UnixMilli() || heads[1].T != oldest {
		t.Fatalf("heads %v %+v", oldest, heads)
	}
	// The extra 720 ticks of the one gathered series and of the
	// timestamps.
	if d := st.Memory() - short.Memory(); d != 2*8*720 {
		t.Fatalf("memory %d - %d = %d, want %d", st.Memory(), short.Memory(), d, 2*8*720)
	}
	// A gathered series that vanishes is kept until its last sample
	// leaves its ring, then forgotten.
	gath.Unregister(g)
	for range 1440 {
		now = vitalstest.Tick(m, clk, 5*time.Second).Time
	}
	if r := instant(t, st, `count_over_time(test_runtime_g[3h])`, now); len(r) != 1 || r[0].F != 1 || gathered(st) != 1 {
		t.Fatalf("the last sample, 2h old: %v (%d gathered series)", r, gathered(st))
	}
	now = vitalstest.Tick(m, clk, 5*time.Second).Time
	if r := instant(t, st, `count_over_time(test_runtime_g[3h])`, now); len(r) != 0 || gathered(st) != 0 {
		t.Fatalf("forgotten: %v (%d gathered series)", r, gathered(st))
	}
}

func gathered(st *Store) int {
	st.mu.RLock()
	defer st.mu.RUnlock()
	return len(st.byHash)
}
