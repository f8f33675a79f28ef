//go:build !race

package metric

import (
	"math"
	"sync/atomic"
	"unsafe"
)

// plainStore, plainAdd and plainInc32 update a word that has a single
// writer (a stripe owned by a pinned P) with an ordinary load and store.
// Readers load it atomically; an aligned word-sized store cannot tear,
// and the Go memory model guarantees a racing word-sized read observes
// some written value. On amd64 this avoids the LOCK prefix of an atomic
// add and the XCHG of an atomic store. Race builds use atomic operations
// (store_race.go) so the detector sees no race.
func plainStore(p *atomic.Uint64, v uint64) { *(*uint64)(unsafe.Pointer(p)) = v }

// plainAdd adds d, saturating at the top of uint64: a counter that wrapped
// would read as a reset.
func plainAdd(p *atomic.Uint64, d uint64) {
	w := (*uint64)(unsafe.Pointer(p))
	x := *w + d
	if x < d {
		x = math.MaxUint64
	}
	*w = x
}

// plainInc32 adds one to a 32-bit stripe bucket and reports false, with
// the bucket unchanged, when it is full.
func plainInc32(p *atomic.Uint32) bool {
	w := (*uint32)(unsafe.Pointer(p))
	x := *w + 1
	if x == 0 {
		return false
	}
	*w = x
	return true
}
