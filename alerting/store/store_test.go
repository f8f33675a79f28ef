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
