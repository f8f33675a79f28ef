package metric

import "testing"

func BenchmarkHistogramObserve(b *testing.B) {
	h := NewRegistry().Histogram(Opts{Name: "b_seconds", Help: "b"})
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		v := 0.001
		for pb.Next() {
			h.Observe(v)
			v += 1e-6
			if v > 0.1 {
				v = 0.001
			}
		}
	})
}

func BenchmarkCounterInc(b *testing.B) {
	c := NewRegistry().Counter(Opts{Name: "b_total", Help: "b"})
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			c.Inc()
		}
	})
}

func BenchmarkHistogramRead(b *testing.B) {
	h := NewRegistry().Histogram(Opts{Name: "b_seconds", Help: "b"})
	for v := 0.0001; v < 10; v *= 1.001 {
		h.Observe(v)
	}
	var hv HistogramValue
	b.ReportAllocs()
	for b.Loop() {
		h.Read(&hv)
	}
}
