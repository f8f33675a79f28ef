// Package cache monitors caches of one or two tiers: which tier answered
// each lookup (L1, L2, or a miss that went to the origin), hits and misses
// per tier, the end-to-end hit ratio, sampled lookup latency by the tier
// that answered, sets, raw and stored bytes (so compression shows),
// evictions by cause with expiry apart from size, tier errors, entries and
// memory, and an explainable 0-100 health score. It has no dependencies
// beyond vitals; adapters for otter (cache/ottermon) and go-redis
// (cache/redismon) feed it from those libraries.
//
// A complete program with an in-process L1 in front of a slower L2:
//
//	m := vitals.New(nil)
//	m.Start()
//	defer m.Stop()
//	c := cache.New(m, "products", &cache.Options{Tiers: 2})
//
//	get := func(key string) []byte {
//		lk := c.Begin()
//		if v, ok := l1[key]; ok {
//			lk.End(cache.L1)
//			return v
//		}
//		if v, err := l2.Get(key); err == nil {
//			lk.End(cache.L2)
//			return v
//		} else if err != errNotFound {
//			c.Error(cache.L2) // the lookup still falls through to the origin
//		}
//		v := origin(key)
//		lk.End(cache.Origin)
//		z := compress(v)
//		l2.Set(key, z)
//		c.Set(cache.L2, len(v), len(z))
//		return v
//	}
//
//	st := c.Stats() // window hit ratio, per-tier figures, latency by tier, score
//
// Recording a lookup (Begin and End) costs a few nanoseconds and never
// allocates: End is one or two counter adds, and one lookup in
// Options.LatencySampleEvery (64) is timed, because two clock reads cost
// more than the rest of the lookup (see BenchmarkLookupRecord). Every
// method is safe for concurrent use. The rolling window and the score are
// updated on the Monitor's collector tick; Stats and Score return copies.
package cache
