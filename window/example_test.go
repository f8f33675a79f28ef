package window_test

import (
	"fmt"
	"time"

	"github.com/bizra/vitals/metric"
	"github.com/bizra/vitals/window"
)

func ExampleNew() {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	r := window.New(time.Minute, 20)
	h := metric.NewHistogram(nil)
	var prev, cur, d metric.HistogramValue
	for s := 1; s <= 90; s++ { // 90 one-second ticks
		h.Observe(float64(s) / 1000) // 1 ms, 2 ms, ... 90 ms
		h.Read(&cur)
		d.Sub(&cur, &prev)
		prev, cur = cur, prev
		r.AddHistogram(start.Add(time.Duration(s)*time.Second), time.Second, &d)
	}
	st := r.Stats(start.Add(90 * time.Second))
	fmt.Printf("%.0f observations in %v, min %.1f ms, p50 %.1f ms, max %.1f ms\n",
		st.Count, st.Covered, st.Min*1000, st.P50*1000, st.Max*1000)
	// Output:
	// 58 observations in 58s, min 33.0 ms, p50 60.8 ms, max 90.0 ms
}

func ExampleNewStack() {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s := window.NewStack([]time.Duration{time.Minute, time.Hour}, 20)
	for m := 1; m <= 120; m++ { // two hours, one tick a minute
		s.AddCounter(start.Add(time.Duration(m)*time.Minute), time.Minute, float64(60*m%7))
	}
	now := start.Add(120 * time.Minute)
	for i, length := range s.Lengths() {
		st := s.Stats(now, i)
		fmt.Printf("%v: %.0f events, %.3f/s\n", length, st.Count, st.Rate)
	}
	// Output:
	// 1m0s: 4 events, 0.067/s
	// 1h0m0s: 172 events, 0.049/s
}
