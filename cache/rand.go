package cache

import _ "unsafe" // for go:linkname

// cheaprand is the runtime's per-M wyrand: about 2 ns here, against 10 ns
// for math/rand/v2's Uint32 and 50 ns for one read of the monotonic clock
// on this kind of machine (BenchmarkClockCosts). It decides which lookups
// are timed, so an untimed lookup pays 2 ns for the decision.
//
//go:linkname cheaprand runtime.cheaprand
func cheaprand() uint32
