package redismon

import (
	"context"
	"errors"
	"net"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/bizra/vitals"
	"github.com/bizra/vitals/cache"
	"github.com/bizra/vitals/metric"
)

// Options configures Instrument. nil means every default.
type Options struct {
	// TierL1 makes Redis the monitor's L1 tier, for a cache with Redis
	// alone. Default false: Redis is L2.
	TierL1 bool
	// NoTierErrors stops the hook from counting failed commands as errors
	// of the tier (vitals_cache_errors_total). Default false: it counts
	// them, so the program should not call Cache.Error for Redis failures.
	NoTierErrors bool
	// PoolStatsMaxAge is how long one read of the client's pool stats
	// serves later readers. Default 0 means 10 ms; negative reads every
	// time.
	PoolStatsMaxAge time.Duration
}

// Commands with their own label value; every other command is "other",
// so the label stays a closed set whatever the program sends.
var commandNames = [...]string{"get", "set", "del", "mget", "mset", "exists", "expire", "ttl", "getex", "getdel",
	"setex", "setnx", "incr", "decr", "hget", "hset", "hgetall", "hdel", "ping", "eval", "evalsha", "connection", "other", "pipeline"}

const (
	// cmdConnection labels the commands go-redis sends to set up a
	// connection (HELLO, AUTH, SELECT, CLIENT ...). Their errors are
	// counted by command but not as errors of the tier: a server that
	// rejects an optional handshake (CLIENT MAINT_NOTIFICATIONS on Redis
	// 7.0) still answers the program's commands.
	cmdConnection = len(commandNames) - 3
	cmdOther      = len(commandNames) - 2
	cmdPipeline   = len(commandNames) - 1
)

func commandIndex(name string) int {
	switch name {
	case "get":
		return 0
	case "set":
		return 1
	case "del":
		return 2
	case "mget":
		return 3
	case "mset":
		return 4
	case "exists":
		return 5
	case "expire":
		return 6
	case "ttl":
		return 7
	case "getex":
		return 8
	case "getdel":
		return 9
	case "setex":
		return 10
	case "setnx":
		return 11
	case "incr":
		return 12
	case "decr":
		return 13
	case "hget":
		return 14
	case "hset":
		return 15
	case "hgetall":
		return 16
	case "hdel":
		return 17
	case "ping":
		return 18
	case "eval":
		return 19
	case "evalsha":
		return 20
	case "hello", "auth", "select", "client", "readonly":
		return cmdConnection
	}
	return cmdOther
}

// Hook is a go-redis v9 hook that records every command's latency and
// errors by command, and dial errors, for a cache monitor. redis.Nil (a
// missing key) is an answer, not an error, and neither is a command the
// caller canceled.
//
// Its metrics (command is one of a fixed list, "connection" for the
// handshake commands, "other", or "pipeline"):
//
//	vitals_cache_redis_command_duration_seconds{cache,command}  histogram
//	vitals_cache_redis_command_errors_total{cache,command}      counter
//	vitals_cache_redis_dial_errors_total{cache}                 counter
type Hook struct {
	c        *cache.Cache
	tier     cache.Tier
	tierErrs bool
	dur      [len(commandNames)]*metric.Histogram
	errs     [len(commandNames)]*metric.Counter
	dialErrs *metric.Counter
}

// NewHook returns a hook for c, registering its series in m's registry.
// Add it to a client with AddHook, or use Instrument, which also exports
// the client's pool stats.
func NewHook(m *vitals.Monitor, c *cache.Cache, opts *Options) *Hook {
	var o Options
	if opts != nil {
		o = *opts
	}
	r := m.Registry()
	dur := r.HistogramVec(metric.Opts{Name: "vitals_cache_redis_command_duration_seconds", Unit: "seconds", Labels: []string{"cache", "command"},
		Help: "Duration of Redis commands by command (pipeline: a whole pipeline), errors included."})
	errs := r.CounterVec(metric.Opts{Name: "vitals_cache_redis_command_errors_total", Labels: []string{"cache", "command"},
		Help: "Redis commands that failed, by command; a missing key (redis.Nil) is not a failure."})
	dial := r.CounterVec(metric.Opts{Name: "vitals_cache_redis_dial_errors_total", Labels: []string{"cache"},
		Help: "Connections to Redis that could not be opened."})
	h := &Hook{c: c, tier: cache.L2, tierErrs: !o.NoTierErrors, dialErrs: dial.With(c.Name())}
	if o.TierL1 {
		h.tier = cache.L1
	}
	for i, name := range commandNames {
		h.dur[i] = dur.With(c.Name(), name)
		h.errs[i] = errs.With(c.Name(), name)
	}
	return h
}

// DialHook counts failed dials.
func (h *Hook) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := next(ctx, network, addr)
		if err != nil {
			h.dialErrs.Inc()
		}
		return conn, err
	}
}

// ProcessHook times each command.
func (h *Hook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		start := metric.Nanotime()
		err := next(ctx, cmd)
		h.record(commandIndex(cmd.Name()), start, err)
		return err
	}
}

// ProcessPipelineHook times each pipeline as one "pipeline" command.
func (h *Hook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		start := metric.Nanotime()
		err := next(ctx, cmds)
		h.record(cmdPipeline, start, err)
		return err
	}
}

func (h *Hook) record(i int, start int64, err error) {
	h.dur[i].ObserveDuration(time.Duration(metric.Nanotime() - start))
	// A missing key is an answer, and a caller that gave up (context
	// canceled) says nothing about Redis; a deadline that passed does.
	if err != nil && !errors.Is(err, redis.Nil) && !errors.Is(err, context.Canceled) {
		h.errs[i].Inc()
		if h.tierErrs && i != cmdConnection {
			h.c.Error(h.tier)
		}
	}
}

// Instrument adds a Hook for c to client and exports the client's pool
// stats:
//
//	vitals_cache_redis_pool_hits_total{cache}               counter, a free connection was found
//	vitals_cache_redis_pool_misses_total{cache}             counter, none was
//	vitals_cache_redis_pool_timeouts_total{cache}           counter, waiting for one timed out
//	vitals_cache_redis_pool_waits_total{cache}              counter
//	vitals_cache_redis_pool_wait_seconds_total{cache}       counter
//	vitals_cache_redis_pool_connections{cache,state}        gauge, state total|idle
//	vitals_cache_redis_pool_stale_connections_total{cache}  counter, removed as stale
//	vitals_cache_redis_pool_pending_requests{cache}         gauge, waiting for a connection
func Instrument(m *vitals.Monitor, c *cache.Cache, client *redis.Client, opts *Options) *Hook {
	h := NewHook(m, c, opts)
	client.AddHook(h)
	var o Options
	if opts != nil {
		o = *opts
	}
	maxAge := o.PoolStatsMaxAge
	if maxAge == 0 {
		maxAge = 10 * time.Millisecond
	}
	ps := &poolStats{client: client, maxAge: maxAge}
	r := m.Registry()
	n := c.Name()
	counter := func(name, help string, get func(*redis.PoolStats) float64) {
		r.CounterFuncVec(metric.Opts{Name: name, Help: help, Labels: []string{"cache"}}).
			Bind(func() float64 { return get(ps.get()) }, n)
	}
	counter("vitals_cache_redis_pool_hits_total", "Times the Redis client found a free connection in its pool.",
		func(s *redis.PoolStats) float64 { return float64(s.Hits) })
	counter("vitals_cache_redis_pool_misses_total", "Times the Redis client found no free connection in its pool.",
		func(s *redis.PoolStats) float64 { return float64(s.Misses) })
	counter("vitals_cache_redis_pool_timeouts_total", "Times waiting for a Redis connection timed out.",
		func(s *redis.PoolStats) float64 { return float64(s.Timeouts) })
	counter("vitals_cache_redis_pool_waits_total", "Times a caller waited for a Redis connection.",
		func(s *redis.PoolStats) float64 { return float64(s.WaitCount) })
	counter("vitals_cache_redis_pool_wait_seconds_total", "Total time callers waited for a Redis connection.",
		func(s *redis.PoolStats) float64 { return float64(s.WaitDurationNs) / 1e9 })
	counter("vitals_cache_redis_pool_stale_connections_total", "Redis connections removed from the pool as stale.",
		func(s *redis.PoolStats) float64 { return float64(s.StaleConns) })
	conns := r.GaugeFuncVec(metric.Opts{Name: "vitals_cache_redis_pool_connections", Labels: []string{"cache", "state"},
		Help: "Connections in the Redis client's pool: total, and idle among them."})
	conns.Bind(func() float64 { return float64(ps.get().TotalConns) }, n, "total")
	conns.Bind(func() float64 { return float64(ps.get().IdleConns) }, n, "idle")
	r.GaugeFuncVec(metric.Opts{Name: "vitals_cache_redis_pool_pending_requests", Labels: []string{"cache"},
		Help: "Requests waiting for a Redis connection right now."}).
		Bind(func() float64 { return float64(ps.get().PendingRequests) }, n)
	return h
}

// poolStats shares one read of the client's pool stats among the series
// of a scrape or tick; the client is called with no lock held.
type poolStats struct {
	client *redis.Client
	maxAge time.Duration
	mu     sync.Mutex
	last   *redis.PoolStats
	at     int64
}

func (p *poolStats) get() *redis.PoolStats {
	now := metric.Nanotime()
	p.mu.Lock()
	if p.last != nil && time.Duration(now-p.at) < p.maxAge {
		s := p.last
		p.mu.Unlock()
		return s
	}
	p.mu.Unlock()
	s := p.client.PoolStats()
	p.mu.Lock()
	p.last, p.at = s, now
	p.mu.Unlock()
	return s
}
