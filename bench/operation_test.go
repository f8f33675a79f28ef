package bench

import (
	"testing"
	"time"

	vm "github.com/VictoriaMetrics/metrics"
	"github.com/bizra/vitals"
	"github.com/prometheus/client_golang/prometheus"
)

// A tracked operation is what a service does around every handler or
// query: take the time, run, record the latency, count the error if any.
// Each variant below is a function that returns its outcome through a
// named result, instrumented the way that library's users write it, and
// kept out of line so that the instrumentation cannot be folded into the
// benchmark loop.
//
// vitals does one thing more than the anchors: Start also counts the
// operation as started, which gives the in-flight gauge.

//go:noinline
func vitalsOperation(op *vitals.Operation, outcome error) (err error) {
	defer op.Start().End(&err)
	return outcome
}

//go:noinline
func promOperation(h prometheus.Histogram, errs prometheus.Counter, outcome error) (err error) {
	start := time.Now()
	defer func() {
		h.Observe(time.Since(start).Seconds())
		if err != nil {
			errs.Inc()
		}
	}()
	return outcome
}

//go:noinline
func vmOperation(h *vm.Histogram, errs *vm.Counter, outcome error) (err error) {
	start := time.Now()
	defer func() {
		h.UpdateDuration(start)
		if err != nil {
			errs.Inc()
		}
	}()
	return outcome
}

// BenchmarkOperation times one tracked call per op, 2% of them failing.
func BenchmarkOperation(b *testing.B) {
	ring := outcomes

	// vitals: the Monitor is never started; the collector is not part of
	// the hot path.
	op := vitals.New(nil).Operation("x")

	// client_golang: a histogram with DefBuckets and an error counter, the
	// pair promhttp's middleware keeps per handler.
	ph := prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "bench_op_duration_seconds", Help: "Benchmark operation duration.", Buckets: prometheus.DefBuckets,
	})
	pe := prometheus.NewCounter(prometheus.CounterOpts{Name: "bench_op_errors_total", Help: "Benchmark operation errors."})

	set := vm.NewSet()
	vh := set.NewHistogram(`bench_op_duration_seconds{operation="x"}`)
	ve := set.NewCounter(`bench_op_errors_total{operation="x"}`)

	for _, e := range ring {
		_ = vitalsOperation(op, e)
		_ = promOperation(ph, pe, e)
		_ = vmOperation(vh, ve, e)
	}

	b.Run("serial/vitals", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			_ = vitalsOperation(op, ring[i&ringMask])
			i++
		}
	})
	b.Run("parallel/vitals", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			i := startOffset()
			for pb.Next() {
				_ = vitalsOperation(op, ring[i&ringMask])
				i++
			}
		})
	})

	b.Run("serial/prom", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			_ = promOperation(ph, pe, ring[i&ringMask])
			i++
		}
	})
	b.Run("parallel/prom", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			i := startOffset()
			for pb.Next() {
				_ = promOperation(ph, pe, ring[i&ringMask])
				i++
			}
		})
	})

	b.Run("serial/vm", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			_ = vmOperation(vh, ve, ring[i&ringMask])
			i++
		}
	})
	b.Run("parallel/vm", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			i := startOffset()
			for pb.Next() {
				_ = vmOperation(vh, ve, ring[i&ringMask])
				i++
			}
		})
	})
}
