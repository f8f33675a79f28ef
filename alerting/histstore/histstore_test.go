package histstore

import (
	"context"
	"log/slog"
	"math"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/storage"
	"go.uber.org/goleak"

	"github.com/bizra/vitals"
	"github.com/bizra/vitals/alerting/store"
	"github.com/bizra/vitals/history"
	"github.com/bizra/vitals/metric"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// t0 is "now" in the tests: an hour boundary.
var t0 = time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)

// rig is a Monitor on a manual clock feeding a history and a one-hour
// ring of 5-s samples (the defaults), with a counter, a gauge and a
// histogram, and a counter only yesterday had.
type rig struct {
	clk  *vitals.ManualClock
	mon  *vitals.Monitor
	hist *history.Store
	ring *store.Store
	reqs *metric.Counter
	gone *metric.Counter
	temp *metric.Gauge
	lat  *metric.Histogram
	reg  *metric.Registry
	vec  *metric.Vec[*metric.Counter]
}

func newRig(t *testing.T, start time.Time) *rig {
	t.Helper()
	clk := vitals.NewManualClock(start)
	quiet := slog.New(slog.DiscardHandler)
	mon := vitals.New(&vitals.Options{Clock: clk, Logger: quiet})
	hist, err := history.Open(mon, &history.Options{Dir: t.TempDir(), Logger: quiet, NoSync: true, MaxPending: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	ring := store.New(mon, &store.Options{Labels: map[string]string{"job": "vitals", "instance": "host:1"}})
	t.Cleanup(func() {
		ring.Close()
		mon.Stop()
		if err := hist.Close(); err != nil {
			t.Error(err)
		}
	})
	reg := mon.Registry()
	// "job" clashes with the ring's label: the ring renames it
	// exported_job, and so must the history.
	reqs := reg.CounterVec(metric.Opts{Name: "test_requests_total", Help: "Requests.", Labels: []string{"route", "job"}})
	return &rig{
		clk: clk, mon: mon, hist: hist, ring: ring, reg: reg, vec: reqs,
		reqs: reqs.With("/a", "web"),
		gone: reqs.With("/gone", "web"),
		temp: reg.Gauge(metric.Opts{Name: "test_temperature_celsius", Help: "Temperature.", Unit: "celsius"}),
		lat:  reg.Histogram(metric.Opts{Name: "test_latency_seconds", Help: "Latency.", Unit: "seconds"}),
	}
}

func (r *rig) tick() { r.clk.Advance(5 * time.Second); r.mon.Collect() }

// fill runs the rig's two phases: 30 minutes ending a day before t0 at
// 0.2 requests a second (and /gone at 0.4), ten latencies of 10, 20, ...
// 100 ms a tick, the gauge counting ticks; then /gone is deleted, and the
// two hours before t0 run at 0.1 requests a second, one latency of 1 ms a
// tick, the gauge at 1000 + ticks. Ticks every 5 s, so the ring holds the
// last hour.
func (r *rig) fill(t *testing.T) {
	t.Helper()
	for i := range 360 {
		r.reqs.Inc()
		r.gone.Add(2)
		for k := 1; k <= 10; k++ {
			r.lat.Observe(float64(k) / 100)
		}
		r.temp.Set(int64(i))
		r.tick()
	}
	r.vec.Delete("/gone", "web")
	r.clk.Set(t0.Add(-2 * time.Hour))
	for i := range 1440 {
		if i%2 == 0 {
			r.reqs.Inc()
		}
		r.lat.Observe(0.001)
		r.temp.Set(int64(1000 + i))
		r.tick()
	}
	if err := r.hist.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !r.clk.Now().Equal(t0) {
		t.Fatalf("clock at %v", r.clk.Now())
	}
	if b, _ := r.ring.Oldest(); b != t0.Add(-time.Hour).UnixMilli() {
		t.Fatalf("ring starts at %v", time.UnixMilli(b).UTC())
	}
}

func newEngine() *promql.Engine {
	return promql.NewEngine(promql.EngineOpts{MaxSamples: 5e7, Timeout: time.Minute, LookbackDelta: 5 * time.Minute, EnableNegativeOffset: true})
}

// instant evaluates expr at t0 and returns its vector.
func instant(t *testing.T, q storage.Queryable, expr string) (promql.Vector, []string) {
	t.Helper()
	qry, err := newEngine().NewInstantQuery(context.Background(), q, nil, expr, t0)
	if err != nil {
		t.Fatal(err)
	}
	defer qry.Close()
	res := qry.Exec(context.Background())
	if res.Err != nil {
		t.Fatalf("%s: %v", expr, res.Err)
	}
	v, err := res.Vector()
	if err != nil {
		t.Fatalf("%s: %v", expr, err)
	}
	var warns []string
	for _, w := range res.Warnings {
		warns = append(warns, w.Error())
	}
	return v, warns
}

func one(t *testing.T, q storage.Queryable, expr string) promql.Sample {
	t.Helper()
	v, warns := instant(t, q, expr)
	if len(v) != 1 {
		t.Fatalf("%s: %d series %v (warnings %v)", expr, len(v), v, warns)
	}
	return v[0]
}

func near(got, want, tol float64) bool { return math.Abs(got-want) <= tol*math.Abs(want) }

// TestCounter: a rate a day back is the rate history recorded, and a
// range across the ring's start holds no reset.
func TestCounter(t *testing.T) {
	r := newRig(t, t0.Add(-24*time.Hour-30*time.Minute))
	r.fill(t)
	q := New(r.ring, r.hist)

	// Without history nothing is a day back.
	if v, _ := instant(t, r.ring, `rate(test_requests_total[10m] offset 1d)`); len(v) != 0 {
		t.Fatalf("the ring alone: %v", v)
	}
	// (T0-1d-10m, T0-1d] holds the ends of two 5-minute steps of 60
	// requests each: 0.2 a second, extrapolated over the 10 minutes.
	s := one(t, q, `rate(test_requests_total{route="/a"}[10m] offset 1d)`)
	if !near(s.F, 0.2, 1e-12) {
		t.Fatalf("rate a day back %v, want 0.2", s.F)
	}
	want := labels.FromStrings("__name__", "test_requests_total", "exported_job", "web", "instance", "host:1", "job", "vitals", "route", "/a")
	if got := one(t, q, `test_requests_total{route="/a"}`).Metric; !labels.Equal(got, want) {
		t.Fatalf("ring labels %v, want %v", got, want)
	}
	if got := one(t, q, `last_over_time(test_requests_total{route="/a"}[10m] offset 1d)`).Metric; !labels.Equal(got, want) {
		t.Fatalf("history labels %v, want %v", got, want)
	}
	// A series only history has counts from 0.
	if s := one(t, q, `rate(test_requests_total{route="/gone"}[10m] offset 1d)`); !near(s.F, 0.4, 1e-12) {
		t.Fatalf("gone series: rate %v, want 0.4", s.F)
	}
	// Across the ring's start: minutes from history, 5-s samples from the
	// ring, one series, no reset; 0.1 a second throughout.
	if s := one(t, q, `resets(test_requests_total{route="/a"}[2h])`); s.F != 0 {
		t.Fatalf("%v resets across the boundary", s.F)
	}
	// (The engine extrapolates only half a sample interval past the first
	// sample, a minute after the range starts: 0.1 * 119/120.)
	if s := one(t, q, `rate(test_requests_total{route="/a"}[2h])`); !near(s.F, 0.1, 0.01) {
		t.Fatalf("rate over 2h %v, want 0.1", s.F)
	}
	// The history's last minutes join the ring's first value: 54 requests
	// in the 9 minutes from the fourth-last history sample to 5 minutes
	// into the ring (within the tick that may fall on either side).
	if s := one(t, q, `test_requests_total{route="/a"} offset 55m - test_requests_total{route="/a"} offset 64m`); math.Abs(s.F-54) > 1 {
		t.Fatalf("increase across the boundary %v, want 54", s.F)
	}
	// The value a minute before the boundary is the ring's first less the
	// minute's 6 requests.
	first := one(t, q, `test_requests_total{route="/a"} offset 1h`).F
	if s := one(t, q, `test_requests_total{route="/a"} offset 61m`); s.F != first-6 {
		t.Fatalf("value a minute before the ring %v, ring's first %v", s.F, first)
	}
}

// TestHistogram: the p99 a day back comes from the stored buckets; across
// the ring's start the histogram neither resets nor jumps.
func TestHistogram(t *testing.T) {
	r := newRig(t, t0.Add(-24*time.Hour-30*time.Minute))
	r.fill(t)
	q := New(r.ring, r.hist)
	// Yesterday's latencies: 10, 20, ... 100 ms, two a second each. The
	// quantiles are within the native buckets' 1.09% (schema 6).
	s := one(t, q, `histogram_quantile(0.99, rate(test_latency_seconds[10m] offset 1d))`)
	if !near(s.F, 0.1, 0.011) {
		t.Fatalf("p99 a day back %v, want 0.1", s.F)
	}
	if s := one(t, q, `histogram_count(rate(test_latency_seconds[10m] offset 1d))`); !near(s.F, 2, 1e-12) {
		t.Fatalf("observations a second a day back %v, want 2", s.F)
	}
	if s := one(t, q, `histogram_quantile(0.45, rate(test_latency_seconds[10m] offset 1d))`); !near(s.F, 0.050, 0.011) {
		t.Fatalf("p45 a day back %v, want 0.05", s.F)
	}
	if s := one(t, q, `resets(test_latency_seconds[2h])`); s.F != 0 {
		t.Fatalf("%v resets across the boundary", s.F)
	}
	if s := one(t, q, `histogram_count(rate(test_latency_seconds[2h]))`); !near(s.F, 0.2, 0.01) {
		t.Fatalf("observation rate over 2h %v, want 0.2", s.F)
	}
	if s := one(t, q, `histogram_count(test_latency_seconds offset 55m - test_latency_seconds offset 64m)`); math.Abs(s.F-108) > 1 {
		t.Fatalf("observations across the boundary %v, want 108", s.F)
	}
	// The last hour before the ring: 1 ms only.
	if s := one(t, q, `histogram_quantile(0.99, rate(test_latency_seconds[30m] offset 70m))`); !near(s.F, 0.001, 0.011) {
		t.Fatalf("p99 before the ring %v, want 0.001", s.F)
	}
}

// TestGauge: a gauge's samples are the steps' last values.
func TestGauge(t *testing.T) {
	r := newRig(t, t0.Add(-24*time.Hour-30*time.Minute))
	r.fill(t)
	q := New(r.ring, r.hist)
	// The last sample before T0-1d was set at tick 358 (tick 359, at
	// T0-1d itself, opens the next step).
	if s := one(t, q, `max_over_time(test_temperature_celsius[10m] offset 1d)`); s.F != 358 {
		t.Fatalf("max a day back %v, want 358", s.F)
	}
	if s := one(t, q, `test_temperature_celsius offset 1d`); s.F != 358 {
		t.Fatalf("a day back %v, want 358", s.F)
	}
	// The minute ending 90 minutes before t0: its last tick, 5 s before,
	// is tick 359 of the second phase.
	if s := one(t, q, `test_temperature_celsius offset 90m`); s.F != 1000+358 {
		t.Fatalf("90 minutes back %v, want 1358", s.F)
	}
}

// TestHistoryErrors: a history that cannot answer is a warning; the ring
// still answers.
func TestHistoryErrors(t *testing.T) {
	r := newRig(t, t0.Add(-24*time.Hour-30*time.Minute))
	r.fill(t)
	q := New(r.ring, r.hist)
	if err := r.hist.Close(); err != nil {
		t.Fatal(err)
	}
	v, warns := instant(t, q, `rate(test_requests_total{route="/a"}[2h])`)
	if len(v) != 1 || len(warns) == 0 {
		t.Fatalf("%v, warnings %v", v, warns)
	}
	if !near(v[0].F, 0.05, 0.01) { // the ring's hour over two
		t.Fatalf("ring-only rate %v", v[0].F)
	}
}

// TestSeriesAndLabels: the series and label APIs see history's series
// when the range reaches before the ring, and not otherwise.
func TestSeriesAndLabels(t *testing.T) {
	r := newRig(t, t0.Add(-24*time.Hour-30*time.Minute))
	r.fill(t)
	q := New(r.ring, r.hist)
	ctx := context.Background()
	routes := func(mint int64) []string {
		qr, err := q.Querier(mint, t0.UnixMilli())
		if err != nil {
			t.Fatal(err)
		}
		defer qr.Close()
		vals, _, err := qr.LabelValues(ctx, "route", nil, labels.MustNewMatcher(labels.MatchEqual, "__name__", "test_requests_total"))
		if err != nil {
			t.Fatal(err)
		}
		return vals
	}
	if got := routes(t0.Add(-2 * time.Hour).UnixMilli()); len(got) != 2 {
		t.Fatalf("routes over 2h: %v", got)
	}
	if got := routes(t0.Add(-30 * time.Minute).UnixMilli()); len(got) != 1 {
		t.Fatalf("routes over 30m: %v", got)
	}
}

func TestParseKey(t *testing.T) {
	name, names, values, err := parseKey(`x_total{a="b",c="q\"u\\o\nte",d=""}`)
	if err != nil || name != "x_total" || len(names) != 3 || names[1] != "c" || values[1] != "q\"u\\o\nte" || values[2] != "" {
		t.Fatalf("%q %q %q %v", name, names, values, err)
	}
	if name, names, _, err := parseKey("plain"); err != nil || name != "plain" || names != nil {
		t.Fatal(name, names, err)
	}
	for _, bad := range []string{`x{a="b"`, `x{a=b}`, `x{a="b"c="d"}`, `x{="b"}`} {
		if _, _, _, err := parseKey(bad); err == nil {
			t.Errorf("%s parsed", bad)
		}
	}
}
