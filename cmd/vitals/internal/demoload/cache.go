package demoload

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	mrand "math/rand"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/klauspost/compress/s2"
	"github.com/maypok86/otter/v2"
	"github.com/redis/go-redis/v9"

	"github.com/bizra/vitals"
	"github.com/bizra/vitals/cache"
	"github.com/bizra/vitals/cache/ottermon"
	"github.com/bizra/vitals/cache/redismon"
	"github.com/bizra/vitals/metric"
)

// CacheOptions configures NewCacheLoad. nil means every default.
type CacheOptions struct {
	// Redis selects Redis as L2: host:port, or a redis:// or rediss://
	// URL (user, password, database, TLS; see redis.ParseURL). Default
	// "": an embedded compressed byte cache. It never appears in errors
	// or logs.
	Redis string
	// RedisPassword, when set, is the password for AUTH; it overrides one
	// in the URL. Default "".
	RedisPassword string
	// Logger receives go-redis' own log lines (redis.SetLogger is global:
	// the last CacheLoad built with Redis wins), with passwords and URL
	// credentials redacted, and the first value refused by the L2 size
	// check. Default slog.Default().
	Logger *slog.Logger
	// MaxValueBytes bounds the decoded size of a value read from L2: a
	// value whose header claims more is a miss, counted in
	// vitals_demo_cache_l2_rejected_total, and never allocated. Default
	// 1 MiB (product documents are a few KiB).
	MaxValueBytes int
	// KeyPrefix prefixes the Redis keys. Default "vitals_demo:".
	KeyPrefix string
	// Name is the cache monitor's name. Default "products".
	Name string
	// Keys is the number of distinct keys, read with a Zipf skew. Default
	// 5000.
	Keys int
	// L1Size and L2Size are the tiers' capacities in entries (L2Size only
	// for the embedded L2). Defaults 300 and 2000: the working set does
	// not fit, so all three answers show.
	L1Size, L2Size int
	// L1TTL and L2TTL are the tiers' times to live. Defaults 10 s and 60 s.
	L1TTL, L2TTL time.Duration
	// Workers do lookups. Default 2.
	Workers int
	// Interval is each worker's pause between lookups. Default 2 ms.
	Interval time.Duration
	// OriginLatency is how long a load from the origin takes. Default 3 ms.
	OriginLatency time.Duration
}

func (o *CacheOptions) withDefaults() CacheOptions {
	var d CacheOptions
	if o != nil {
		d = *o
	}
	if d.KeyPrefix == "" {
		d.KeyPrefix = "vitals_demo:"
	}
	if d.Name == "" {
		d.Name = "products"
	}
	if d.Keys <= 1 {
		d.Keys = 5000
	}
	if d.L1Size <= 0 {
		d.L1Size = 300
	}
	if d.L2Size <= 0 {
		d.L2Size = 2000
	}
	if d.L1TTL <= 0 {
		d.L1TTL = 10 * time.Second
	}
	if d.L2TTL <= 0 {
		d.L2TTL = time.Minute
	}
	if d.Workers <= 0 {
		d.Workers = 2
	}
	if d.Interval <= 0 {
		d.Interval = 2 * time.Millisecond
	}
	if d.OriginLatency <= 0 {
		d.OriginLatency = 3 * time.Millisecond
	}
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	if d.MaxValueBytes <= 0 {
		d.MaxValueBytes = 1 << 20
	}
	return d
}

// CacheLoad is the cache workload: lookups of product documents with a
// Zipf skew through L1 (otter) and L2 (Redis, or an embedded byte cache),
// both recorded by one two-tier monitor. L2 stores values compressed with
// S2, so the compression figures are real.
type CacheLoad struct {
	opts  CacheOptions
	mon   *cache.Cache
	l1    *otter.Cache[string, []byte]
	rdb   *redis.Client // nil: embedded L2
	l2    *byteStore
	close sync.Once

	tooLarge, corrupt *metric.Counter
	warnOnce          sync.Once
}

// NewCacheLoad builds the tiers and registers the monitor in m. Nothing
// connects before Run.
func NewCacheLoad(m *vitals.Monitor, opts *CacheOptions) (*CacheLoad, error) {
	o := opts.withDefaults()
	l := &CacheLoad{opts: o, mon: cache.New(m, o.Name, &cache.Options{Tiers: 2})}
	rejected := m.Registry().CounterVec(metric.Opts{Name: "vitals_demo_cache_l2_rejected_total",
		Help:   "Values read from L2 and treated as a miss: too_large (the header claims more than the size limit) or corrupt (does not decode).",
		Labels: []string{"reason"}})
	l.tooLarge, l.corrupt = rejected.With("too_large"), rejected.With("corrupt")
	oo := &otter.Options[string, []byte]{MaximumSize: o.L1Size, ExpiryCalculator: otter.ExpiryWriting[string, []byte](o.L1TTL)}
	ottermon.Instrument(l.mon, oo, &ottermon.Options{SkipLookups: true})
	l1, err := otter.New(oo)
	if err != nil {
		return nil, fmt.Errorf("demoload: L1: %w", err)
	}
	l.l1 = l1
	ottermon.Bind(l.mon, l1, nil)
	if o.Redis != "" {
		ro, err := redisOptions(o.Redis, o.RedisPassword)
		if err != nil {
			return nil, err
		}
		ro.DialTimeout, ro.ReadTimeout, ro.WriteTimeout = time.Second, 500*time.Millisecond, 500*time.Millisecond
		ro.PoolSize, ro.DisableIdentity = 2*o.Workers, true
		redis.SetLogger(newRedisLogger(o.Logger, ro.Password))
		l.rdb = redis.NewClient(ro)
		redismon.Instrument(m, l.mon, l.rdb, nil)
	} else {
		l.l2 = newByteStore(o.L2Size, o.L2TTL, l.mon)
		l.mon.SetSizeFuncs(cache.L2, l.l2.entries, l.l2.bytes)
	}
	return l, nil
}

// Monitor returns the cache monitor.
func (l *CacheLoad) Monitor() *cache.Cache { return l.mon }

// Run runs the workload until ctx is done, then releases the tiers. It
// returns nil when ctx ends it.
func (l *CacheLoad) Run(ctx context.Context) error {
	defer l.Close()
	var wg sync.WaitGroup
	for i := range l.opts.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			src := mrand.New(mrand.NewSource(time.Now().UnixNano() + int64(i)))
			z := mrand.NewZipf(src, 1.1, 4, uint64(l.opts.Keys-1))
			t := time.NewTimer(0)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
				}
				l.Get(ctx, "product:"+strconv.FormatUint(z.Uint64(), 10))
				t.Reset(l.opts.Interval)
			}
		}()
	}
	wg.Wait()
	return nil
}

// Close releases the tiers (Run does when it returns). It is idempotent.
func (l *CacheLoad) Close() {
	l.close.Do(func() {
		l.l1.StopAllGoroutines()
		if l.rdb != nil {
			l.rdb.Close()
		}
	})
}

// Get looks key up through the tiers, loading it from the origin when
// every tier misses. A failing L2 (Redis down) is counted by the Redis
// hook and the lookup falls through to the origin.
func (l *CacheLoad) Get(ctx context.Context, key string) ([]byte, error) {
	lk := l.mon.Begin()
	if v, ok := l.l1.GetIfPresent(key); ok {
		lk.End(cache.L1)
		return v, nil
	}
	if z, ok := l.getL2(ctx, key); ok {
		if v, ok := l.decode(key, z); ok {
			lk.End(cache.L2)
			l.l1.Set(key, v)
			l.mon.Set(cache.L1, len(v), len(v))
			return v, nil
		}
	}
	v, err := l.origin(ctx, key)
	lk.End(cache.Origin)
	if err != nil {
		return nil, err
	}
	l.l1.Set(key, v)
	l.mon.Set(cache.L1, len(v), len(v))
	z := s2.EncodeBetter(nil, v)
	if l.setL2(ctx, key, z) {
		l.mon.Set(cache.L2, len(v), len(z))
	}
	return v, nil
}

// decode decompresses a value read from L2. L2 is outside this process
// (another client can write to Redis), so the length the value's header
// claims is checked before anything is allocated: s2.Decode would
// allocate whatever it says, up to 4 GiB for a 5-byte value.
func (l *CacheLoad) decode(key string, z []byte) ([]byte, bool) {
	n, err := s2.DecodedLen(z)
	if err == nil && n > l.opts.MaxValueBytes {
		l.tooLarge.Inc()
		l.warnOnce.Do(func() {
			l.opts.Logger.Warn("demo cache: an L2 value claims more than the size limit; treated as a miss (further ones are only counted in vitals_demo_cache_l2_rejected_total)",
				"key", key, "claimed_bytes", n, "limit_bytes", l.opts.MaxValueBytes)
		})
		return nil, false
	}
	var v []byte
	if err == nil {
		v, err = s2.Decode(make([]byte, n), z)
	}
	if err != nil {
		l.corrupt.Inc()
		return nil, false
	}
	return v, true
}

func (l *CacheLoad) getL2(ctx context.Context, key string) ([]byte, bool) {
	if l.rdb == nil {
		return l.l2.get(key)
	}
	z, err := l.rdb.Get(ctx, l.opts.KeyPrefix+key).Bytes()
	return z, err == nil
}

func (l *CacheLoad) setL2(ctx context.Context, key string, z []byte) bool {
	if l.rdb == nil {
		l.l2.set(key, z)
		return true
	}
	return l.rdb.Set(ctx, l.opts.KeyPrefix+key, z, l.opts.L2TTL).Err() == nil
}

var errOrigin = errors.New("origin unavailable")

// origin stands in for the database behind the cache: it takes
// OriginLatency and returns a product document with the repetition real
// JSON has.
func (l *CacheLoad) origin(ctx context.Context, key string) ([]byte, error) {
	start := time.Now()
	t := time.NewTimer(l.opts.OriginLatency)
	defer t.Stop()
	select {
	case <-ctx.Done():
		l.mon.ObserveLoad(time.Since(start), ctx.Err())
		return nil, ctx.Err()
	case <-t.C:
	}
	if rand.IntN(1000) == 0 {
		l.mon.ObserveLoad(time.Since(start), errOrigin)
		return nil, errOrigin
	}
	var b strings.Builder
	b.WriteString(`{"id":"` + key + `","name":"Product ` + key + `","tags":[`)
	n := 8 + rand.IntN(24)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"tag":"category-` + strconv.Itoa(i%7) + `","weight":` + strconv.Itoa(rand.IntN(100)) + `,"visible":true}`)
	}
	b.WriteString(`],"description":"` + strings.Repeat("A sturdy, well-reviewed product. ", 4+rand.IntN(8)) + `"}`)
	l.mon.ObserveLoad(time.Since(start), nil)
	return []byte(b.String()), nil
}

// byteStore is the embedded L2: compressed values with a time to live and
// a capacity; when full, an arbitrary entry makes room (map order), and
// expired entries are dropped when read.
type byteStore struct {
	mu    sync.Mutex
	cap   int
	ttl   time.Duration
	m     map[string]storeEntry
	size  int
	mon   *cache.Cache
	nowFn func() time.Time
}

type storeEntry struct {
	z   []byte
	exp time.Time
}

func newByteStore(capacity int, ttl time.Duration, mon *cache.Cache) *byteStore {
	return &byteStore{cap: capacity, ttl: ttl, m: make(map[string]storeEntry, capacity), mon: mon, nowFn: time.Now}
}

func (s *byteStore) get(key string) ([]byte, bool) {
	s.mu.Lock()
	e, ok := s.m[key]
	expired := ok && !s.nowFn().Before(e.exp)
	if expired {
		delete(s.m, key)
		s.size -= len(e.z)
	}
	s.mu.Unlock()
	if expired {
		s.mon.Evict(cache.L2, cache.CauseExpired)
		return nil, false
	}
	return e.z, ok
}

func (s *byteStore) set(key string, z []byte) {
	var causes [2]cache.Cause
	n := 0
	s.mu.Lock()
	if old, ok := s.m[key]; ok {
		s.size -= len(old.z)
		causes[n] = cache.CauseReplaced
		n++
	} else if len(s.m) >= s.cap {
		for k, e := range s.m {
			delete(s.m, k)
			s.size -= len(e.z)
			causes[n] = cache.CauseSize
			n++
			break
		}
	}
	s.m[key] = storeEntry{z: z, exp: s.nowFn().Add(s.ttl)}
	s.size += len(z)
	s.mu.Unlock()
	for _, c := range causes[:n] { // counted outside the lock
		s.mon.Evict(cache.L2, c)
	}
}

func (s *byteStore) entries() float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return float64(len(s.m))
}

func (s *byteStore) bytes() float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return float64(s.size)
}
