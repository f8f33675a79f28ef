package history_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/bizra/vitals"
	"github.com/bizra/vitals/history"
	"github.com/bizra/vitals/metric"
)

func ExampleOpen() {
	dir, _ := os.MkdirTemp("", "vitals-history")
	defer os.RemoveAll(dir)
	start := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	clk := vitals.NewManualClock(start.Add(-time.Second))
	m := vitals.New(&vitals.Options{Clock: clk})
	st, err := history.Open(m, &history.Options{Dir: dir, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		panic(err)
	}
	lat := m.Registry().Histogram(metric.Opts{Name: "http_request_duration_seconds", Help: "Latency.", Unit: "seconds"})
	m.Collect()
	for s := 0; s < 15*60; s++ { // 15 minutes of 1-second ticks
		clk.Advance(time.Second)
		for i := 1; i <= 100; i++ {
			lat.Observe(float64(i) / 1000) // 1 ms ... 100 ms
		}
		m.Collect()
	}
	_ = st.Close() // writes the open minute too

	// A restart: the history is there.
	st, _ = history.Open(nil, &history.Options{Dir: dir, Logger: slog.New(slog.DiscardHandler)})
	defer st.Close()
	res, err := st.Query(context.Background(), history.QueryRequest{
		Series: "http_request_duration_seconds", Stat: history.StatP99,
		From: start, To: start.Add(15 * time.Minute), Step: 5 * time.Minute,
	})
	if err != nil {
		panic(err)
	}
	fmt.Println("tier read:", res.Tier)
	for _, p := range res.Points {
		fmt.Printf("%s p99 %.1f ms\n", p.T.Format("15:04"), p.V*1000)
	}
	// Output:
	// tier read: 5m0s
	// 00:00 p99 99.0 ms
	// 00:05 p99 99.0 ms
	// 00:10 p99 99.0 ms
}
