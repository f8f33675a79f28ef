package metric

import "sync/atomic"

// A histogram's native buckets live in chunks of 64 (one power of two),
// allocated on first use, so memory follows the range the values span.
// chunk32 holds a stripe's counts: 256 bytes, half a chunk64, which keeps
// four stripes of a latency histogram under 16 KB; a stripe bucket that
// reaches 2^32-1 sends further observations of that value range to the
// shared chunk64 (exact, only slower). Both sizes are size classes whose
// objects are aligned to their size, so two chunks never share a cache
// line (or the adjacent-line pair x86 prefetches).
type (
	chunk32 [chunkSize]atomic.Uint32
	chunk64 [chunkSize]atomic.Uint64
)

// chunkTab maps a chunk number (bucket index >> chunkBits) to its chunk
// for the chunks in [lo, lo+len(c)). It is copied on write: installing a
// chunk publishes a new table, and chunks never move, so a writer holding
// an old table still counts into the right chunk. Sizing it to the range
// in use instead of all 128 chunk numbers saves about 1 KB per stripe.
type chunkTab[C any] struct {
	lo int
	c  []*C
}

func (t *chunkTab[C]) get(ci int) *C {
	if t == nil {
		return nil
	}
	if i := ci - t.lo; uint(i) < uint(len(t.c)) {
		return t.c[i]
	}
	return nil
}

// span returns the chunk numbers t covers.
func (t *chunkTab[C]) span() (lo, hi int) {
	if t == nil {
		return numChunks, 0
	}
	return t.lo, t.lo + len(t.c)
}

// installChunk returns chunk ci of the table in p, allocating it and
// publishing a new table when it is missing. Safe for concurrent use.
func installChunk[C any](p *atomic.Pointer[chunkTab[C]], ci int) *C {
	var nc *C
	for {
		t := p.Load()
		if c := t.get(ci); c != nil {
			return c
		}
		if nc == nil {
			nc = new(C)
		}
		lo, hi := t.span()
		lo, hi = min(lo, ci), max(hi, ci+1)
		next := &chunkTab[C]{lo: lo, c: make([]*C, hi-lo)}
		if t != nil {
			copy(next.c[t.lo-lo:], t.c)
		}
		next.c[ci-lo] = nc
		if p.CompareAndSwap(t, next) {
			return nc
		}
	}
}
