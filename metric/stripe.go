package metric

// Striping.
//
// A counter or histogram keeps its counts in a few stripes,
// each owned by one P and written only by goroutines pinned to that P
// (procPin), so an update is a plain load and store with no LOCK prefix
// and no cache line written by two cores. A P claims a free stripe on its
// first update; the owners are packed into one word (one byte per stripe:
// the P id plus one, 0 for free), which the hot path reads and compares. Ps past the last stripe, P ids of 255 and
// above, and builds without procPin update one shared set of words with
// atomic read-modify-write instead: correct on any number of cores, and
// contended only where more cores than stripes hit one instrument at
// once.
//
// So memory and read cost are bounded by the stripe count, not by GOMAXPROCS:
// an instrument touched from one P holds one stripe, from 64 Ps at most
// counterStripes or histStripes stripes plus the shared words. docs/ARCHITECTURE.md
// ("Striped instruments") records the measured trade-off.

// counterStripes and histStripes bound the stripes per instrument:
// memory and read cost stop growing there, and past them cores share the
// atomic words. A counter stripe is one padded word, so four cost 512
// bytes. A histogram stripe holds 32-bit buckets for the value range its
// P saw, about 3.8 KB for a latency histogram that spans 14 powers of
// two; with three stripes such a histogram held 17.5 KB at GOMAXPROCS=64,
// over the 16 KB budget; with two it holds about 13 KB, a third of
// client_golang's native histogram at the same resolution (38.7 KB), and
// two cores observing one histogram at once still write separate cache
// lines (BenchmarkInstrumentMemory in bench/; docs/ARCHITECTURE.md,
// "Striped instruments").
const (
	counterStripes = 4
	histStripes    = 2
)

// ownedStripe returns which of the n stripes in the packed owner word
// belongs to P pid, or -1. Compares written out, not a branch-free byte
// search: the predicted branch lets the CPU load the stripe before the
// compare resolves. A branch-free search (multiply, subtract, count
// trailing zeros) measured 2-3 ns more per observation, in thread CPU time.
func ownedStripe(owners uint64, pid, n int) int {
	if !pinned {
		return -1
	}
	// A pid of 255 or more never matches: its key does not fit a byte.
	key := uint64(pid + 1)
	switch {
	case owners&0xff == key:
		return 0
	case owners>>8&0xff == key:
		return 1
	}
	for k := 2; k < n; k++ {
		if owners>>(8*k)&0xff == key {
			return k
		}
	}
	return -1
}

// freeStripe returns the first free one of n stripes in owners, or -1.
func freeStripe(owners uint64, n int) int {
	for k := 0; k < n; k++ {
		if owners>>(8*k)&0xff == 0 {
			return k
		}
	}
	return -1
}

// canClaim reports whether the caller may claim a stripe for pid.
func canClaim(pid int) bool { return pinned && uint(pid) < 255 }

// Nanotime returns a monotonic timestamp in nanoseconds. Only differences
// between two values are meaningful.
func Nanotime() int64 { return nanotime() }
