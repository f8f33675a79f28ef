//go:build !race

package metric

import (
	"sync/atomic"
	"unsafe"
)

// plainStore and plainAdd update a word that has a single writer (a shard
// owned by a pinned P) with an ordinary store. Readers load it atomically;
// an aligned word-sized store cannot tear, and the Go memory model
// guarantees a racing word-sized read observes some written value. On
// amd64 this avoids atomic.Store's XCHG, a locked instruction. Race builds
// use atomic stores (store_race.go) so the detector sees no race.
func plainStore(p *atomic.Uint64, v uint64) { *(*uint64)(unsafe.Pointer(p)) = v }

func plainAdd(p *atomic.Uint64, d uint64) {
	w := (*uint64)(unsafe.Pointer(p))
	*w += d
}
