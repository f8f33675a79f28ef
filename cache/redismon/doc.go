// Package redismon feeds a cache monitor (package cache) from a go-redis
// v9 client: a hook records each command's latency and errors by command
// (a missing key is no error) and counts failed commands as errors of the
// tier, and the client's pool stats (hits, misses, timeouts, waits, total,
// idle and stale connections, pending requests) are exported as metrics.
//
// A complete program with an otter L1 in front of Redis:
//
//	m := vitals.New(nil)
//	m.Start()
//	defer m.Stop()
//	mon := cache.New(m, "products", &cache.Options{Tiers: 2})
//	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
//	defer rdb.Close()
//	redismon.Instrument(m, mon, rdb, nil)
//
//	get := func(ctx context.Context, key string) ([]byte, error) {
//		lk := mon.Begin()
//		if v, ok := l1.GetIfPresent(key); ok {
//			lk.End(cache.L1)
//			return v, nil
//		}
//		if z, err := rdb.Get(ctx, key).Bytes(); err == nil {
//			lk.End(cache.L2)
//			return decompress(z)
//		} // a Redis error is counted by the hook; fall through to the origin
//		v, err := load(ctx, key)
//		lk.End(cache.Origin)
//		...
//	}
//
// The hook adds two clock reads and two atomic adds to each command, which
// takes a network round trip.
package redismon
