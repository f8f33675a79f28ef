package breaker

import (
	"testing"
	"time"

	"github.com/bizra/vitals"
)

// BenchmarkRecord is the per-call cost of the monitor around a breaker.
func BenchmarkRecord(b *testing.B) {
	br := New(vitals.New(nil), "bench", nil)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			br.Record(Success, 3*time.Millisecond)
		}
	})
}
