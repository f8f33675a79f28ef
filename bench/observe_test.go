package bench

import (
	"context"
	"testing"

	vm "github.com/VictoriaMetrics/metrics"
	"github.com/bizra/vitals/metric"
	"github.com/prometheus/client_golang/prometheus"
	otelmetric "go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
)

// Histogram configurations under comparison. Each is the library's
// recommended way to get a latency histogram; where a resolution must be
// chosen, the note says which and why.

func newVitalsHistogram() *metric.Histogram {
	// Schema-6 native buckets (0.54% worst-case error) plus DefaultBuckets
	// (powers of two, derived from the native buckets at read time).
	return metric.NewRegistry().Histogram(metric.Opts{
		Name: "bench_latency_seconds", Unit: "seconds", Help: "Benchmark latencies.",
	})
}

// newVitalsPromDef is a vitals histogram with client_golang's default
// bounds as classic buckets (metric.PromDefBuckets): what a service pays
// to keep dashboards that query le="0.1".
func newVitalsPromDef() *metric.Histogram {
	return metric.NewRegistry().Histogram(metric.Opts{
		Name: "bench_latency_seconds", Unit: "seconds", Help: "Benchmark latencies.",
		Buckets: metric.PromDefBuckets(),
	})
}

func newPromClassic() prometheus.Histogram {
	// The classic histogram most services run: 11 DefBuckets bounds.
	return prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "bench_latency_seconds", Help: "Benchmark latencies.",
		Buckets: prometheus.DefBuckets,
	})
}

// promNativeFactor is the usual native-histogram setting (schema 3, about
// 4.3% error); promNativeFactorSchema6 asks for vitals' resolution
// (factor 2^(1/64) = 1.0109; 1.011 because client_golang rounds the
// schema down from the factor). Both are native-only (no classic buckets).
const (
	promNativeFactor        = 1.1
	promNativeFactorSchema6 = 1.011
)

func newPromNative(factor float64) prometheus.Histogram {
	return prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "bench_latency_seconds", Help: "Benchmark latencies.",
		NativeHistogramBucketFactor: factor,
	})
}

func newVMHistogram() *vm.Histogram {
	// VictoriaMetrics' own histogram: log10 buckets, 18 per decade, vmrange.
	return vm.NewSet().NewHistogram(`bench_latency_seconds`)
}

// newOTelHistogram returns a Float64Histogram aggregated as a base-2
// exponential histogram at scale 6 (vitals' resolution). MaxSize 2048
// leaves room for 32 powers of two at that scale, so the SDK never has to
// downscale on this value stream (the default 160 would force scale 3).
// The ManualReader is what a pull exporter uses; it is never collected
// during the benchmark, as in a service between two scrapes.
func newOTelHistogram() (otelmetric.Float64Histogram, *sdkmetric.ManualReader) {
	reader := sdkmetric.NewManualReader()
	view := sdkmetric.NewView(
		sdkmetric.Instrument{Name: "bench_latency_seconds"},
		sdkmetric.Stream{Aggregation: sdkmetric.AggregationBase2ExponentialHistogram{MaxSize: 2048, MaxScale: 6}},
	)
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader), sdkmetric.WithView(view))
	h, err := mp.Meter("bench").Float64Histogram("bench_latency_seconds", otelmetric.WithUnit("s"))
	if err != nil {
		panic(err)
	}
	return h, reader
}

// BenchmarkObserve records one latency per op into one histogram. The
// loops are written out per library, not behind an interface or a func
// value, so that each library's Observe can inline as it would in user
// code: an indirect call costs about as much as a vitals observation.
// Every histogram first sees the whole value stream once, so the timed
// loop measures steady state, not bucket allocation.
func BenchmarkObserve(b *testing.B) {
	ring := latencies

	vh := newVitalsHistogram()
	vpd := newVitalsPromDef()
	pc := newPromClassic()
	pn := newPromNative(promNativeFactor)
	pn6 := newPromNative(promNativeFactorSchema6)
	vmh := newVMHistogram()
	oh, _ := newOTelHistogram()
	ctx := context.Background()
	for _, v := range ring {
		vh.Observe(v)
		vpd.Observe(v)
		pc.Observe(v)
		pn.Observe(v)
		pn6.Observe(v)
		vmh.Update(v)
		oh.Record(ctx, v)
	}

	b.Run("serial/vitals", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			vh.Observe(ring[i&ringMask])
			i++
		}
	})
	b.Run("parallel/vitals", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			i := startOffset()
			for pb.Next() {
				vh.Observe(ring[i&ringMask])
				i++
			}
		})
	})

	b.Run("serial/vitals_promdef", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			vpd.Observe(ring[i&ringMask])
			i++
		}
	})
	b.Run("parallel/vitals_promdef", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			i := startOffset()
			for pb.Next() {
				vpd.Observe(ring[i&ringMask])
				i++
			}
		})
	})

	b.Run("serial/prom_classic", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			pc.Observe(ring[i&ringMask])
			i++
		}
	})
	b.Run("parallel/prom_classic", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			i := startOffset()
			for pb.Next() {
				pc.Observe(ring[i&ringMask])
				i++
			}
		})
	})

	b.Run("serial/prom_native", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			pn.Observe(ring[i&ringMask])
			i++
		}
	})
	b.Run("parallel/prom_native", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			i := startOffset()
			for pb.Next() {
				pn.Observe(ring[i&ringMask])
				i++
			}
		})
	})

	b.Run("serial/prom_native_s6", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			pn6.Observe(ring[i&ringMask])
			i++
		}
	})
	b.Run("parallel/prom_native_s6", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			i := startOffset()
			for pb.Next() {
				pn6.Observe(ring[i&ringMask])
				i++
			}
		})
	})

	b.Run("serial/vm", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			vmh.Update(ring[i&ringMask])
			i++
		}
	})
	b.Run("parallel/vm", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			i := startOffset()
			for pb.Next() {
				vmh.Update(ring[i&ringMask])
				i++
			}
		})
	})

	b.Run("serial/otel_exp", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			oh.Record(ctx, ring[i&ringMask])
			i++
		}
	})
	b.Run("parallel/otel_exp", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			i := startOffset()
			for pb.Next() {
				oh.Record(ctx, ring[i&ringMask])
				i++
			}
		})
	})
}
