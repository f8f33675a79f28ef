package histstore

import (
	"context"
	"log/slog"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/prometheus/storage"

	"github.com/bizra/vitals"
	"github.com/bizra/vitals/alerting/eval"
	"github.com/bizra/vitals/alerting/store"
	"github.com/bizra/vitals/history"
	"github.com/bizra/vitals/metric"
)

// BenchmarkEvalAllRulesWithHistory evaluates every shipped rule once, as
// alerting/eval's BenchmarkEvalAllRules1000Series does (200 operations,
// cache counters, pool and breaker gauges: about 1,000 series), over the
// ring alone and over the ring joined to a history of the 25 hours
// before it (a tick a minute, then the ring's hour of 5-s ticks). The
// difference is what reading history costs the rules (the `offset 1d`,
// `offset 1h` and 6-h selections).
func BenchmarkEvalAllRulesWithHistory(b *testing.B) {
	quiet := slog.New(slog.DiscardHandler)
	clk := vitals.NewManualClock(t0.Add(-26 * time.Hour))
	m := vitals.New(&vitals.Options{Clock: clk, Logger: quiet})
	b.Cleanup(m.Stop)
	hist, err := history.Open(m, &history.Options{Dir: b.TempDir(), Logger: quiet, NoSync: true, MaxPending: 1 << 20})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = hist.Close() })
	ring := store.New(m, nil)
	b.Cleanup(ring.Close)
	reg := m.Registry()
	var ops []*vitals.Operation
	for i := range 200 {
		ops = append(ops, m.Operation("op"+strconv.Itoa(i)))
	}
	hits := reg.CounterVec(metric.Opts{Name: "vitals_cache_hits_total", Help: "h", Labels: []string{"cache", "tier"}, MaxSeries: 10000})
	misses := reg.CounterVec(metric.Opts{Name: "vitals_cache_misses_total", Help: "h", Labels: []string{"cache", "tier"}, MaxSeries: 10000})
	waiters := reg.GaugeVec(metric.Opts{Name: "vitals_db_pool_waiters", Help: "h", Labels: []string{"pool"}, MaxSeries: 10000})
	state := reg.GaugeVec(metric.Opts{Name: "vitals_breaker_state", Help: "h", Labels: []string{"breaker", "state"}, MaxSeries: 10000})
	var counters []*metric.Counter
	for i := range 100 {
		c := "c" + strconv.Itoa(i)
		counters = append(counters, hits.With(c, "l1"), misses.With(c, "l1"))
		waiters.With("p" + strconv.Itoa(i)).Set(0)
		state.With("b"+strconv.Itoa(i), "open").Set(0)
	}
	tick := func(n int, d time.Duration) {
		for i, o := range ops {
			o.Observe(time.Duration(1+(i+n)%50)*time.Millisecond, nil)
		}
		for _, c := range counters {
			c.Add(3)
		}
		clk.Advance(d)
		m.Collect()
	}
	for n := range 25 * 60 {
		tick(n, time.Minute)
	}
	for n := range 720 {
		tick(n, 5*time.Second)
	}
	if err := hist.Flush(context.Background()); err != nil {
		b.Fatal(err)
	}
	now := clk.Now()
	for _, c := range []struct {
		name string
		q    storage.Queryable
	}{{"ring", ring}, {"history", New(ring, hist)}} {
		b.Run(c.name, func(b *testing.B) {
			ev, err := eval.New(c.q, &eval.Options{Logger: quiet})
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			cpu0 := cpuTime()
			for b.Loop() {
				ev.Eval(context.Background(), now)
			}
			cpu := float64((cpuTime() - cpu0).Nanoseconds()) / float64(b.N)
			b.ReportMetric(cpu, "cpu-ns/op")
			b.ReportMetric(float64(ring.Series()), "series")
		})
	}
}

// cpuTime returns the process's user plus system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
