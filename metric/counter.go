package metric

import "sync/atomic"

// maxCounterShards bounds a counter's memory on machines with many cores:
// 32 shards x 128 bytes = 4 KiB. Ps beyond that share shards, which costs
// contention, never correctness, because every shard update is an atomic add.
const maxCounterShards = 32

type counterShard struct {
	v atomic.Uint64
	_ [128 - 8]byte
}

// Counter is a monotonically increasing count, striped over per-P shards so
// that goroutines on different cores never write the same cache line.
//
// The zero value is ready to use (unsharded until it is registered);
// counters from a Registry are sharded. Inc and Add never allocate.
type Counter struct {
	shards []counterShard // shards[0] is padding in front of the first real shard
	mask   int
	single atomic.Uint64 // the zero value's only word
}

func newCounter() *Counter {
	n := shardCount(maxCounterShards)
	return &Counter{shards: make([]counterShard, n+1), mask: n - 1}
}

// Inc adds one.
func (c *Counter) Inc() { c.Add(1) }

// Add adds n.
func (c *Counter) Add(n uint64) {
	if c.shards == nil {
		c.single.Add(n)
		return
	}
	pid := procPin()
	procUnpin()
	c.shards[1+pid&c.mask].v.Add(n)
}

// Value returns the current count. It sums the shards, so a value read
// while other goroutines add is some count between the start and the end
// of the call.
func (c *Counter) Value() uint64 {
	v := c.single.Load()
	for i := 1; i < len(c.shards); i++ {
		v += c.shards[i].v.Load()
	}
	return v
}
