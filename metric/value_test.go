package metric

import (
	"math"
	"testing"
)

func TestExtremesOfDelta(t *testing.T) {
	var h Histogram
	h.Observe(0.001)
	h.Observe(10)
	var a, b, d HistogramValue
	h.Read(&a)
	a = a.Clone()
	h.Observe(0.5)
	h.Observe(0.7)
	h.Read(&b)
	d.Sub(&b, &a)
	lo, hi := d.Extremes()
	if math.Abs(lo-0.5)/0.5 > 0.011 || math.Abs(hi-0.7)/0.7 > 0.011 {
		t.Fatalf("extremes of the delta %g..%g, want about 0.5..0.7", lo, hi)
	}
	lo, hi = b.Extremes()
	if lo != 0.001 || hi != 10 {
		t.Fatalf("extremes of the whole %g..%g, want exactly 0.001..10", lo, hi)
	}
}
