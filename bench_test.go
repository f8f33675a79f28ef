package vitals

import (
	"log/slog"
	"strconv"
	"testing"
	"time"

	"github.com/bizra/vitals/metric"
)

// BenchmarkCollect1000Series measures one collector tick over 1,000 series
// (900 counters, 100 histograms with a spread of latencies): the read
// side that every consumer then shares.
func BenchmarkCollect1000Series(b *testing.B) {
	clk := NewManualClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	m := New(&Options{Clock: clk, Logger: slog.New(slog.DiscardHandler)})
	r := m.Registry()
	cv := r.CounterVec(metric.Opts{Name: "b_requests_total", Help: "b", Labels: []string{"route"}})
	hv := r.HistogramVec(metric.Opts{Name: "b_duration_seconds", Help: "b", Unit: "seconds", Labels: []string{"route"}})
	for i := 0; i < 900; i++ {
		cv.With("r" + strconv.Itoa(i)).Add(uint64(i))
	}
	for i := 0; i < 100; i++ {
		h := hv.With("r" + strconv.Itoa(i))
		for v := 0.0005; v < 2; v *= 1.05 {
			h.Observe(v)
		}
	}
	m.Collect()
	b.ReportAllocs()
	for b.Loop() {
		clk.Advance(time.Second)
		m.Collect()
	}
}
