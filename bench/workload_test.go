package bench

import (
	"errors"
	"math"
	"math/rand/v2"
	"sync/atomic"
)

// The value stream every histogram benchmark observes: log-normal
// latencies in seconds (median 2 ms, sigma 1.2, so p99 is about 33 ms and
// the values span several powers of two), precomputed so that no
// benchmark pays for random number generation. A constant would let every
// library hit one bucket in one cache line and flatter the ones whose
// bucket search is expensive.
const (
	ringSize = 1 << 12 // 32 KiB of float64: stays in L1/L2 like a hot working set
	ringMask = ringSize - 1
)

var latencies = func() *[ringSize]float64 {
	var r [ringSize]float64
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range r {
		r[i] = math.Exp(math.Log(0.002) + 1.2*rng.NormFloat64())
	}
	return &r
}()

// errBench is the error a failing operation returns; outcomes[i] is nil
// for 49 calls in 50 (a 2% error rate), so the error branch is taken but
// rarely, as in a healthy service.
var (
	errBench = errors.New("bench: operation failed")
	outcomes = func() *[ringSize]error {
		var r [ringSize]error
		rng := rand.New(rand.NewPCG(3, 4))
		for i := range r {
			if rng.IntN(50) == 0 {
				r[i] = errBench
			}
		}
		return &r
	}()
)

// startOffset spreads the RunParallel goroutines over the ring so they do
// not observe the same value at the same moment.
var goroutineSeq atomic.Uint32

func startOffset() int { return int(goroutineSeq.Add(1)) * 997 }
