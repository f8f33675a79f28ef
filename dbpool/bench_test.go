package dbpool

import (
	"testing"

	"github.com/bizra/vitals"
)

// BenchmarkAcquireAndQueryRecord is the wrapper's cost per acquire plus
// query: four monotonic-clock reads dominate it.
func BenchmarkAcquireAndQueryRecord(b *testing.B) {
	p := New(vitals.New(nil), "bench", nil)
	op := p.Op("q")
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			p.BeginAcquire().End(nil)
			op.Start().End(nil)
		}
	})
}
