package metric

import (
	"runtime"
	_ "unsafe" // for go:linkname
)

// procPin pins the calling goroutine to its P (no preemption until
// procUnpin) and returns the P's id. sync.Pool is built on the same pair.
// While pinned, nothing else runs on that P, so a shard indexed by the P id
// has exactly one writer: an update can be a plain atomic load and store
// instead of a LOCK-prefixed read-modify-write. That is what makes a
// histogram observation cost a few nanoseconds on any number of cores
// (see BenchmarkHistogramObserve in bench/).
//
//go:linkname procPin runtime.procPin
func procPin() int

//go:linkname procUnpin runtime.procUnpin
func procUnpin()

// nanotime is the runtime's monotonic clock; about half the cost of
// time.Now, which also reads the wall clock.
//
//go:linkname nanotime runtime.nanotime
func nanotime() int64

// Nanotime returns a monotonic timestamp in nanoseconds. Only differences
// between two values are meaningful.
func Nanotime() int64 { return nanotime() }

// cacheLinePad separates hot words of different shards. 128 bytes, not 64:
// x86 prefetches cache lines in adjacent pairs, and hot words 64 bytes
// apart were measured to contend almost as much as words on the same line.
type cacheLinePad [128]byte

// shardCount is the number of per-P shards an instrument gets: the number
// of Ps at creation, rounded up to a power of two, at most maxShards.
func shardCount(maxShards int) int {
	n := runtime.GOMAXPROCS(0)
	if c := runtime.NumCPU(); c > n {
		n = c
	}
	p := 1
	for p < n && p < maxShards {
		p <<= 1
	}
	return p
}
