package redismon_test

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/bizra/vitals"
	"github.com/bizra/vitals/cache"
	"github.com/bizra/vitals/cache/redismon"
)

// A Redis that cannot be reached: the failed GET is counted by command and
// as an error of the L2 tier.
func Example() {
	m := vitals.New(nil)
	mon := cache.New(m, "products", &cache.Options{Tiers: 2})
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: time.Second})
	defer rdb.Close()
	redismon.Instrument(m, mon, rdb, nil)

	err := rdb.Get(context.Background(), "product:1").Err()
	s := m.Collect()
	p, _ := s.Lookup("vitals_cache_redis_command_errors_total", "products", "get")
	fmt.Println(err != nil, p.Value, mon.Counts(cache.L2).Errors)
	// Output: true 1 1
}
