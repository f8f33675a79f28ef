package redismon

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/maypok86/otter/v2"
	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"

	"github.com/bizra/vitals"
	"github.com/bizra/vitals/cache"
	"github.com/bizra/vitals/cache/ottermon"
	"github.com/bizra/vitals/internal/faultnet"
	"github.com/bizra/vitals/internal/testutil"
	"github.com/bizra/vitals/score"
)

func TestMain(m *testing.M) {
	redis.SetLogger(quiet{}) // the outage test makes go-redis log every refused dial
	goleak.VerifyTestMain(m)
}

type quiet struct{}

func (quiet) Printf(context.Context, string, ...any) {}

// redisAddr returns VITALS_TEST_REDIS through testutil.Redis (a skip,
// announced once, when it is unset; a failure when nothing listens), and
// fails when what listens does not answer PING as Redis does.
func redisAddr(t *testing.T) string {
	t.Helper()
	addr := testutil.Redis(t)
	c := redis.NewClient(&redis.Options{Addr: addr, DialTimeout: 3 * time.Second})
	defer c.Close()
	if err := c.Ping(context.Background()).Err(); err != nil {
		t.Fatalf("VITALS_TEST_REDIS is set but Redis is unreachable: %v", err)
	}
	return addr
}

// newProxy is a faultnet proxy to target, closed when the test ends.
func newProxy(t *testing.T, target string) *faultnet.Proxy {
	t.Helper()
	p, err := faultnet.Listen(target)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

// tiered is the two-tier lookup a program writes: otter in front of Redis
// in front of an origin.
type tiered struct {
	mon    *cache.Cache
	l1     *otter.Cache[string, string]
	rdb    *redis.Client
	prefix string
	loads  int
}

func (c *tiered) get(ctx context.Context, key string) string {
	lk := c.mon.Begin()
	if v, ok := c.l1.GetIfPresent(key); ok {
		lk.End(cache.L1)
		return v
	}
	v, err := c.rdb.Get(ctx, c.prefix+key).Result()
	if err == nil {
		lk.End(cache.L2)
		c.l1.Set(key, v)
		return v
	}
	// redis.Nil: a miss; any other error was counted by the hook.
	c.loads++
	v = "value of " + key
	lk.End(cache.Origin)
	c.l1.Set(key, v)
	c.mon.Set(cache.L1, len(v), len(v))
	if err := c.rdb.Set(ctx, c.prefix+key, v, time.Minute).Err(); err == nil {
		c.mon.Set(cache.L2, len(v), len(v))
	}
	return v
}

// TestRedisOutage cuts Redis off behind an L1: L2 errors are counted, L1
// keeps serving, nothing panics, and L2 hits resume when Redis is back.
func TestRedisOutage(t *testing.T) {
	target := redisAddr(t)
	px := newProxy(t, target)
	m := vitals.New(&vitals.Options{Clock: vitals.NewManualClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))})
	mon := cache.New(m, "products", &cache.Options{Tiers: 2, LatencySampleEvery: 1})
	o := &otter.Options[string, string]{MaximumSize: 1000}
	ottermon.Instrument(mon, o, &ottermon.Options{SkipLookups: true})
	l1, err := otter.New(o)
	if err != nil {
		t.Fatal(err)
	}
	defer l1.StopAllGoroutines()
	rdb := redis.NewClient(&redis.Options{Addr: px.Addr(), DialTimeout: 200 * time.Millisecond,
		ReadTimeout: 200 * time.Millisecond, WriteTimeout: 200 * time.Millisecond, MaxRetries: -1, PoolSize: 2,
		PoolTimeout: 300 * time.Millisecond, DisableIdentity: true})
	defer rdb.Close()
	Instrument(m, mon, rdb, &Options{PoolStatsMaxAge: -1})
	prefix := fmt.Sprintf("vitals_test_%d_%x:", os.Getpid(), rand.Uint32())
	c := &tiered{mon: mon, l1: l1, rdb: rdb, prefix: prefix}
	ctx := context.Background()
	defer func() {
		direct := redis.NewClient(&redis.Options{Addr: target})
		defer direct.Close()
		keys, _ := direct.Keys(ctx, prefix+"*").Result()
		if len(keys) > 0 {
			direct.Del(ctx, keys...)
		}
	}()

	keys := []string{"k0", "k1", "k2", "k3", "k4", "k5"}
	for _, k := range keys {
		c.get(ctx, k) // origin, then in both tiers
	}
	for _, k := range keys[:3] {
		l1.Invalidate(k)
		c.get(ctx, k) // answered by Redis
	}
	before := mon.Counts(cache.L2)
	if before.Hits != 3 || before.Errors != 0 || c.loads != 6 {
		t.Fatalf("before the outage: l2 %+v, loads %d", before, c.loads)
	}

	px.Cut()
	for _, k := range keys {
		if v := c.get(ctx, k); v != "value of "+k { // all in L1
			t.Fatalf("L1 answered %q", v)
		}
	}
	for _, k := range []string{"n0", "n1", "n2"} {
		c.get(ctx, k) // Redis down: errors, then the origin
	}
	during := mon.Counts(cache.L2)
	if during.Errors < 3 || during.Hits != before.Hits {
		t.Fatalf("during the outage: l2 %+v", during)
	}
	if l1c := mon.Counts(cache.L1); l1c.Hits != 6 {
		t.Fatalf("L1 did not keep serving: %+v", l1c)
	}
	m.Clock().(*vitals.ManualClock).Advance(time.Second)
	s := m.Collect()
	// The score says so, with a ratio that is a ratio: a lookup that
	// fails its GET and its SET is two failed operations of two.
	if st := mon.Stats(); st.Tier[1].ErrorRate <= 0 || st.Tier[1].ErrorRate > 1 || st.ErrorRate > 1 ||
		st.Score.Status == score.Pass || !strings.Contains(strings.Join(st.Score.Recommendations, "\n"), "of operations on the cache's tiers fail") {
		t.Fatalf("during the outage: l2 error ratio %v, overall %v, score %v %v %q", st.Tier[1].ErrorRate, st.ErrorRate,
			st.Score.Value, st.Score.Status, st.Score.Recommendations)
	}
	if p, _ := s.Lookup("vitals_cache_redis_command_errors_total", "products", "get"); p == nil || p.Value < 3 {
		t.Fatalf("GET errors %v", p)
	}
	if p, _ := s.Lookup("vitals_cache_redis_dial_errors_total", "products"); p == nil || p.Value < 1 {
		t.Fatalf("dial errors %v", p)
	}
	if p, _ := s.Lookup("vitals_cache_errors_total", "products", "l2"); p == nil || p.Value != float64(during.Errors) {
		t.Fatalf("tier errors %v", p)
	}

	if err := px.Restore(); err != nil {
		t.Fatal(err)
	}
	// After failed dials go-redis stops dialing and retries on its own
	// timer (once a second), so recovery takes that long; it must come
	// within five seconds.
	recovered := false
	deadline := time.Now().Add(5 * time.Second)
	for tries := 1; time.Now().Before(deadline); tries++ {
		l1.Invalidate("k3")
		c.get(ctx, "k3")
		if mon.Counts(cache.L2).Hits > during.Hits {
			recovered = true
			t.Logf("recovered after %d tries", tries)
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !recovered {
		t.Fatal("no L2 hit after Redis came back")
	}
	s = m.Collect()
	for _, name := range []string{"vitals_cache_redis_pool_hits_total", "vitals_cache_redis_pool_misses_total",
		"vitals_cache_redis_pool_timeouts_total", "vitals_cache_redis_pool_waits_total", "vitals_cache_redis_pool_wait_seconds_total",
		"vitals_cache_redis_pool_stale_connections_total", "vitals_cache_redis_pool_pending_requests"} {
		if _, ok := s.Lookup(name, "products"); !ok {
			t.Errorf("%s missing", name)
		}
	}
	if p, ok := s.Lookup("vitals_cache_redis_pool_connections", "products", "total"); !ok || p.Value < 1 {
		t.Errorf("pool connections %v", p)
	}
	if p, _ := s.Lookup("vitals_cache_redis_command_duration_seconds", "products", "set"); p == nil || p.Hist.Count == 0 {
		t.Errorf("SET latency %v", p)
	}
	st := mon.Stats()
	if st.Tier[1].Errors == 0 || st.Score.Factors[1].Name != "error_rate" || st.Score.Factors[1].Score == 100 {
		t.Fatalf("stats after the outage %+v", st.Score)
	}
}

func TestPipelineAndNil(t *testing.T) {
	addr := redisAddr(t)
	m := vitals.New(nil)
	mon := cache.New(m, "p", &cache.Options{Tiers: 2})
	rdb := redis.NewClient(&redis.Options{Addr: addr, DisableIdentity: true})
	defer rdb.Close()
	Instrument(m, mon, rdb, &Options{NoTierErrors: true})
	ctx := context.Background()
	key := fmt.Sprintf("vitals_test_%d_%x", os.Getpid(), rand.Uint32())
	if err := rdb.Get(ctx, key).Err(); !errors.Is(err, redis.Nil) {
		t.Fatal(err)
	}
	rdb.Do(ctx, "NOSUCHCOMMAND") // an error, labelled other
	if _, err := rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, key, "v", time.Second)
		p.Del(ctx, key)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	s := m.Collect()
	get, _ := s.Lookup("vitals_cache_redis_command_errors_total", "p", "get")
	other, _ := s.Lookup("vitals_cache_redis_command_errors_total", "p", "other")
	pipe, _ := s.Lookup("vitals_cache_redis_command_duration_seconds", "p", "pipeline")
	if get.Value != 0 || other.Value != 1 || pipe.Hist.Count != 1 { // the handshake's errors are labelled connection
		t.Fatalf("get errors %v other errors %v pipelines %v", get.Value, other.Value, pipe.Hist.Count)
	}
	if mon.Counts(cache.L2).Errors != 0 {
		t.Fatal("NoTierErrors ignored")
	}
	for _, name := range commandNames[:cmdConnection] {
		if commandNames[commandIndex(name)] != name {
			t.Fatalf("command %s maps to %s", name, commandNames[commandIndex(name)])
		}
	}
}
