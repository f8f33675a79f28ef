package metric

import (
	"runtime"
	"sync"
	"testing"
	"unsafe"
)

// Two cores observing one histogram get a stripe each, and no word that
// one stripe's observations write shares a cache line, or the
// adjacent-line pair x86 prefetches, with another stripe's or the shared
// words: the stripe headers are 128 bytes in a 128-aligned size class, the
// chunks 256 bytes in a 256-aligned one, the counter cells 128 bytes each
// in a 512-byte, 512-aligned block.
func TestStripesDoNotShareCacheLines(t *testing.T) {
	if !pinned {
		t.Skip("built without procPin: no stripes")
	}
	if s := unsafe.Sizeof(histStripe{}); s != 128 {
		t.Fatalf("histStripe is %d bytes, want 128", s)
	}
	if s := unsafe.Sizeof(counterCell{}); s != 128 {
		t.Fatalf("counterCell is %d bytes, want 128", s)
	}
	prev := runtime.GOMAXPROCS(2)
	defer runtime.GOMAXPROCS(prev)
	h := NewHistogram(nil)
	c := new(Counter)
	for round := 0; round < 200 && (h.stripes[1].Load() == nil || c.owners.Load()>>8&0xff == 0); round++ {
		var wg sync.WaitGroup
		for range 2 {
			wg.Go(func() {
				for i := range 1000 {
					h.Observe(float64(i%50) * 1e-3)
					c.Inc()
				}
			})
		}
		wg.Wait()
	}
	if h.stripes[1].Load() == nil {
		t.Skip("the scheduler never ran the two goroutines on two Ps")
	}
	aligned := func(what string, p unsafe.Pointer, to uintptr) {
		t.Helper()
		if uintptr(p)%to != 0 {
			t.Errorf("%s at %#x, not %d-aligned", what, uintptr(p), to)
		}
	}
	for k := range h.stripes {
		s := h.stripes[k].Load()
		aligned("stripe", unsafe.Pointer(s), 128)
		for _, ch := range s.tab.Load().c {
			if ch != nil {
				aligned("chunk", unsafe.Pointer(ch), 256)
			}
		}
	}
	aligned("counter cells", unsafe.Pointer(c.cells.Load()), 512)
	if got := c.Value(); got%2000 != 0 {
		t.Fatalf("counter %d", got)
	}
}
