package aggregate_test

import (
	"fmt"
	"time"

	"github.com/bizra/vitals"
	"github.com/bizra/vitals/aggregate"
	"github.com/bizra/vitals/metric"
)

func ExampleNew() {
	clk := vitals.NewManualClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	m := vitals.New(&vitals.Options{Clock: clk})
	agg := aggregate.New(m, nil) // 1m, 5m, 15m and 1h windows

	lat := m.Registry().Histogram(metric.Opts{Name: "http_request_duration_seconds",
		Help: "Time to serve a request.", Unit: "seconds"})
	for i := 0; i < 300; i++ { // five minutes of 1-second ticks
		clk.Advance(time.Second)
		lat.Observe(float64(i%100+1) / 1000) // 1 ms to 100 ms
		m.Collect()                          // Monitor.Start does this each Interval
	}

	// A window moves in steps of 1/20 of its length, so it covers between
	// 19/20 and all of it.
	for _, w := range agg.Windows()[:2] {
		st, _ := agg.Stats("http_request_duration_seconds", w)
		fmt.Printf("%v: %.0f requests in %v, %.2f/s, p50 %.1f ms, p99 %.1f ms\n",
			w, st.Count, st.Covered, st.Rate, st.P50*1000, st.P99*1000)
	}
	// Output:
	// 1m0s: 58 requests in 58s, 1.00/s, p50 70.8 ms, p99 100.0 ms
	// 5m0s: 292 requests in 4m52s, 1.00/s, p50 52.3 ms, p99 100.0 ms
}
