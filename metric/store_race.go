//go:build race

package metric

import (
	"math"
	"sync/atomic"
)

func plainStore(p *atomic.Uint64, v uint64) { p.Store(v) }

func plainAdd(p *atomic.Uint64, d uint64) {
	x := p.Load() + d
	if x < d {
		x = math.MaxUint64
	}
	p.Store(x)
}

func plainInc32(p *atomic.Uint32) bool {
	x := p.Load() + 1
	if x == 0 {
		return false
	}
	p.Store(x)
	return true
}
