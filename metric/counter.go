package metric

import "sync/atomic"

// maxCounterShards bounds a counter's memory on machines with many cores:
// 64 shards x 128 bytes = 8 KiB. Ps beyond that add to one shared word
// with an atomic add: contention, never a lost count.
const maxCounterShards = 64

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
	shards []counterShard // shards[1+pid] belongs to P pid; shards[0] is padding
	single atomic.Uint64  // the zero value's only word, and Ps past the shards
}

func newCounter() *Counter {
	return &Counter{shards: make([]counterShard, shardCount(maxCounterShards)+1)}
}

// Inc adds one.
func (c *Counter) Inc() { c.Add(1) }

// Add adds n.
func (c *Counter) Add(n uint64) {
	pid := procPin()
	if pid+1 < len(c.shards) {
		// Single writer: only goroutines pinned to P pid touch this shard.
		plainAdd(&c.shards[1+pid].v, n)
		procUnpin()
		return
	}
	procUnpin()
	c.single.Add(n)
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
