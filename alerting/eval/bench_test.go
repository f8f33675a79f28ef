package eval

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/bizra/vitals"
	"github.com/bizra/vitals/alerting/store"
	"github.com/bizra/vitals/metric"
	"github.com/bizra/vitals/vitalstest"
)

// benchFixture is a Monitor with about `series` series spread over the
// families the rules read, and a store holding an hour of 5-s samples.
type benchFixture struct {
	st   *store.Store
	ev   *Evaluator
	now  time.Time
	hist int // histogram series
}

func newBenchFixture(b *testing.B, series int) *benchFixture {
	m, clk := vitalstest.NewMonitor(b)
	reg := m.Registry()
	ops := series * 6 / 10 / 3 // histogram, errors and started per operation: 60% of the series
	var opl []*vitals.Operation
	for i := range ops {
		opl = append(opl, m.Operation("op"+strconv.Itoa(i)))
	}
	rest := series - 3*ops
	hits := reg.CounterVec(metric.Opts{Name: "vitals_cache_hits_total", Help: "h", Labels: []string{"cache", "tier"}, MaxSeries: 10000})
	misses := reg.CounterVec(metric.Opts{Name: "vitals_cache_misses_total", Help: "h", Labels: []string{"cache", "tier"}, MaxSeries: 10000})
	waiters := reg.GaugeVec(metric.Opts{Name: "vitals_db_pool_waiters", Help: "h", Labels: []string{"pool"}, MaxSeries: 10000})
	state := reg.GaugeVec(metric.Opts{Name: "vitals_breaker_state", Help: "h", Labels: []string{"breaker", "state"}, MaxSeries: 10000})
	var counters []*metric.Counter
	for i := 0; i < rest/4; i++ {
		c := "c" + strconv.Itoa(i)
		counters = append(counters, hits.With(c, "l1"), misses.With(c, "l1"))
		waiters.With("p" + strconv.Itoa(i)).Set(0)
		state.With("b"+strconv.Itoa(i), "open").Set(0)
	}
	st := store.New(m, nil) // defaults: 5-s resolution, 1 h
	b.Cleanup(st.Close)
	var now time.Time
	for tick := range 720 { // one hour of 5-s ticks
		for i, o := range opl {
			o.Observe(time.Duration(1+(i+tick)%50)*time.Millisecond, nil)
		}
		for _, c := range counters {
			c.Add(3)
		}
		now = vitalstest.Tick(m, clk, 5*time.Second).Time
	}
	ev, err := New(st, nil)
	if err != nil {
		b.Fatal(err)
	}
	return &benchFixture{st: st, ev: ev, now: now, hist: ops}
}

// BenchmarkEvalAllRules evaluates every shipped rule (all five groups)
// once over a store of about 1,000 series holding an hour of samples. At
// Prometheus' usual 15 s interval, the cost in CPU is ns/op / 15 s;
// %core@15s reports it. bytes/series is the ring's memory per series.
func BenchmarkEvalAllRules1000Series(b *testing.B) {
	f := newBenchFixture(b, 1000)
	b.ReportAllocs()
	cpu0 := cpuTime()
	for b.Loop() {
		f.ev.Eval(context.Background(), f.now)
	}
	cpu := float64((cpuTime() - cpu0).Nanoseconds()) / float64(b.N)
	b.ReportMetric(cpu, "cpu-ns/op")
	b.ReportMetric(cpu/15e9*100, "%core@15s")
	b.ReportMetric(float64(f.st.Memory())/float64(f.st.Series()), "bytes/series")
	b.ReportMetric(float64(f.st.Series()), "series")
}

// BenchmarkQueryRange1h100Series measures the PromQL endpoint as Grafana
// calls it: a 1 h query_range at a 15 s step over 100 operations, for a
// rate of counters and for p99 from native histograms, through the HTTP
// handler.
func BenchmarkQueryRange1h100Series(b *testing.B) {
	f := newBenchFixture(b, 500) // 100 operations
	mux := http.NewServeMux()
	f.ev.Mount(mux)
	end := f.now.Unix()
	for _, c := range []struct{ name, q string }{
		{"rate", `sum by (operation) (rate(vitals_operations_started_total[1m]))`},
		{"p99", `histogram_quantile(0.99, sum by (operation) (rate(vitals_operation_duration_seconds[1m])))`},
	} {
		b.Run(c.name, func(b *testing.B) {
			target := "/promql/api/v1/query_range?query=" + url.QueryEscape(c.q) + "&start=" + strconv.FormatInt(end-3600, 10) +
				"&end=" + strconv.FormatInt(end, 10) + "&step=15"
			b.ReportAllocs()
			cpu0 := cpuTime()
			for b.Loop() {
				w := httptest.NewRecorder()
				mux.ServeHTTP(w, httptest.NewRequest("GET", target, nil))
				if w.Code != 200 {
					b.Fatalf("%d %s", w.Code, w.Body)
				}
			}
			b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op")
		})
	}
}

// cpuTime returns the process's user plus system CPU time: on a shared
// machine wall time per op overstates the cost, CPU time does not.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
