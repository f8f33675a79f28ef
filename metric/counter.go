package metric

import (
	"math"
	"sync/atomic"
)

type counterCell struct {
	v atomic.Uint64
	_ [128 - 8]byte
}

// Counter is a monotonically increasing count. It is striped (stripe.go):
// each of up to four Ps that add to it gets a private, padded word, so
// goroutines on different cores never write the same cache line, and an
// add is a plain load and store. Memory stays under 1 KB however many Ps
// there are.
//
// A counter saturates at the top of uint64 (18446744073709551615) instead
// of wrapping to 0, which Prometheus would read as a reset.
//
// The zero value is ready to use. Inc and Add never allocate once each P
// has added once.
type Counter struct {
	owners atomic.Uint64                               // stripe owners, see ownedStripe
	cells  atomic.Pointer[[counterStripes]counterCell] // nil until a P claims a stripe
	shared atomic.Uint64                               // Ps past the stripes; builds without procPin
}

func newCounter() *Counter { return new(Counter) }

// Inc adds one.
func (c *Counter) Inc() { c.Add(1) }

// Add adds n.
func (c *Counter) Add(n uint64) {
	pid := procPin()
	if k := ownedStripe(c.owners.Load(), pid, counterStripes); k >= 0 {
		// Single writer: only goroutines pinned to P pid write stripe k.
		plainAdd(&c.cells.Load()[k].v, n)
		procUnpin()
		return
	}
	procUnpin()
	c.addSlow(n)
}

// addSlow claims a stripe for the caller's P when one is free, and
// otherwise adds to the shared word.
func (c *Counter) addSlow(n uint64) {
	if pinned && c.cells.Load() == nil {
		c.cells.CompareAndSwap(nil, new([counterStripes]counterCell))
	}
	pid := procPin()
	if canClaim(pid) {
		for {
			o := c.owners.Load()
			if k := ownedStripe(o, pid, counterStripes); k >= 0 {
				plainAdd(&c.cells.Load()[k].v, n)
				procUnpin()
				return
			}
			k := freeStripe(o, counterStripes)
			if k < 0 {
				break
			}
			if c.owners.CompareAndSwap(o, o|uint64(pid+1)<<(8*k)) {
				plainAdd(&c.cells.Load()[k].v, n)
				procUnpin()
				return
			}
		}
	}
	procUnpin()
	for {
		old := c.shared.Load()
		x := old + n
		if x < n {
			x = math.MaxUint64
		}
		if c.shared.CompareAndSwap(old, x) {
			return
		}
	}
}

// Value returns the current count. It sums the stripes, so a value read
// while other goroutines add is some count between the start and the end
// of the call.
func (c *Counter) Value() uint64 {
	v := c.shared.Load()
	if cells := c.cells.Load(); cells != nil {
		for i := range cells {
			x := cells[i].v.Load()
			if v += x; v < x {
				return math.MaxUint64
			}
		}
	}
	return v
}
