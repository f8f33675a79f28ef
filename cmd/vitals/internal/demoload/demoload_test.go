package demoload

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"

	"github.com/bizra/vitals"
	"github.com/bizra/vitals/breaker"
	"github.com/bizra/vitals/cache"
	"github.com/bizra/vitals/health"
	"github.com/bizra/vitals/internal/testutil"
	"github.com/bizra/vitals/score"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// run starts a workload and returns a stop function that cancels it and
// checks that Run returned nil.
func run(t *testing.T, r func(context.Context) error) func() {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r(ctx) }()
	return func() {
		t.Helper()
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("Run: %v", err)
		}
	}
}

// waitFor polls a condition that a running workload reaches in its own
// time, with a deadline; the monitor is ticked on each poll.
func waitFor(t *testing.T, m *vitals.Monitor, what string, limit time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		m.Collect()
		if cond() {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", limit, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestDBLoadSQLite(t *testing.T) {
	m := vitals.New(nil)
	l, err := NewDBLoad(m, &DBOptions{MaxConns: 2, Workers: 3, Interval: 5 * time.Millisecond, SlowQuery: 150 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if l.Driver() != "sqlite" {
		t.Fatal(l.Driver())
	}
	stop := run(t, l.Run)
	mon := l.Monitor()
	waitFor(t, m, "queries", 5*time.Second, func() bool { return mon.Stats().Queries > 20 })
	l.Saturate(400 * time.Millisecond)
	waitFor(t, m, "callers queueing", 5*time.Second, func() bool { return mon.Waiters() >= 2 })
	if sat := mon.Saturation(); !(sat > 1) {
		t.Errorf("saturation during the episode %v, want > 1", sat)
	}
	waitFor(t, m, "a long wait recorded", 5*time.Second, func() bool { return mon.Stats().Wait.Max >= 0.1 })
	stop()
	st := mon.Stats()
	byName := map[string]float64{}
	for _, op := range st.Operations {
		byName[op.Name] = op.Latency.Count
	}
	if byName["item.get"] == 0 || byName["report.slow"] == 0 {
		t.Fatalf("operations %v", byName)
	}
	if st.Score.Factors[2].Score == 100 {
		t.Fatalf("wait factor untouched by saturation: %+v", st.Score.Factors[2])
	}
	if l.tmpDir != "" {
		if _, err := os.Stat(l.tmpDir); !os.IsNotExist(err) {
			t.Fatalf("temporary SQLite directory left behind: %v", err)
		}
	}
	if _, err := NewDBLoad(m, &DBOptions{Schema: "bad; DROP"}); err == nil {
		t.Fatal("bad schema name accepted")
	}
}

func TestDBLoadPostgres(t *testing.T) {
	url := testutil.Postgres(t)
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("VITALS_TEST_POSTGRES is set but PostgreSQL is unreachable: %v", err)
	}
	defer admin.Close(ctx)
	schema := fmt.Sprintf("vitals_test_%d_%x", os.Getpid(), rand.Uint32())
	m := vitals.New(nil)
	l, err := NewDBLoad(m, &DBOptions{PostgresURL: url, Schema: schema, DropSchema: true, MaxConns: 2, Interval: 5 * time.Millisecond,
		SlowQuery: 150 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	stop := run(t, l.Run)
	mon := l.Monitor()
	waitFor(t, m, "queries", 5*time.Second, func() bool { return mon.Stats().Queries > 20 })
	l.Saturate(300 * time.Millisecond)
	waitFor(t, m, "callers queueing", 5*time.Second, func() bool { return mon.Waiters() >= 2 })
	stop()
	var n int
	admin.QueryRow(ctx, `SELECT count(*) FROM information_schema.schemata WHERE schema_name = $1`, schema).Scan(&n)
	if n != 0 {
		t.Fatalf("schema %s left behind", schema)
	}
	if st := mon.Stats(); st.QueryErrors > st.Queries/10 {
		t.Fatalf("errors %v of %v queries", st.QueryErrors, st.Queries)
	}
	if _, err := NewDBLoad(m, &DBOptions{PostgresURL: "postgres://u:secret@[::1"}); err == nil || strings.Contains(err.Error(), "secret") {
		t.Fatalf("bad URL: %v", err)
	}
}

func checkCache(t *testing.T, m *vitals.Monitor, l *CacheLoad) {
	t.Helper()
	mon := l.Monitor()
	waitFor(t, m, "answers from every tier", 5*time.Second, func() bool {
		l1, l2 := mon.Counts(cache.L1), mon.Counts(cache.L2)
		return l1.Hits > 50 && l2.Hits > 5 && l2.Misses > 5
	})
	l2 := mon.Counts(cache.L2)
	if !(l2.CompressionRatio > 1.5) {
		t.Fatalf("L2 compression ratio %v, want real compression", l2.CompressionRatio)
	}
	if st := mon.Stats(); st.Lookups == 0 || st.Tier[0].Entries <= 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestCacheLoadEmbedded(t *testing.T) {
	m := vitals.New(nil)
	l, err := NewCacheLoad(m, &CacheOptions{Keys: 400, L1Size: 40, L2Size: 100, Interval: time.Millisecond, OriginLatency: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	stop := run(t, l.Run)
	checkCache(t, m, l)
	waitFor(t, m, "L2 evictions for room", 5*time.Second, func() bool {
		return l.Monitor().Counts(cache.L2).EvictionsBy(cache.CauseSize) > 0
	})
	stop()
	// Expiry and replacement of the embedded L2, on its own clock.
	s := newByteStore(2, time.Second, l.Monitor())
	now := time.Unix(0, 0)
	s.nowFn = func() time.Time { return now }
	s.set("a", []byte("1"))
	s.set("a", []byte("22"))
	now = now.Add(2 * time.Second)
	if _, ok := s.get("a"); ok {
		t.Fatal("expired entry served")
	}
	if s.entries() != 0 || s.bytes() != 0 {
		t.Fatal("expired entry kept")
	}
	ts := l.Monitor().Counts(cache.L2)
	if ts.EvictionsBy(cache.CauseExpired) == 0 || ts.EvictionsBy(cache.CauseReplaced) == 0 {
		t.Fatalf("evictions %v", ts.Evictions)
	}
}

func TestCacheLoadRedis(t *testing.T) {
	addr := testutil.Redis(t)
	rdb := redis.NewClient(&redis.Options{Addr: addr, DisableIdentity: true})
	defer rdb.Close()
	ctx := context.Background()
	if err := rdb.Ping(ctx).Err(); err != nil {
		t.Fatalf("VITALS_TEST_REDIS is set but Redis is unreachable: %v", err)
	}
	prefix := fmt.Sprintf("vitals_test_%d_%x:", os.Getpid(), rand.Uint32())
	defer func() {
		if keys, _ := rdb.Keys(ctx, prefix+"*").Result(); len(keys) > 0 {
			rdb.Del(ctx, keys...)
		}
	}()
	m := vitals.New(nil)
	l, err := NewCacheLoad(m, &CacheOptions{Redis: addr, KeyPrefix: prefix, Keys: 400, L1Size: 40, Interval: time.Millisecond,
		OriginLatency: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	stop := run(t, l.Run)
	checkCache(t, m, l)
	stop()
	if l.Monitor().Counts(cache.L2).Errors != 0 {
		t.Fatal("L2 errors with Redis up")
	}
}

func TestBreakerLoadTripsAndRecovers(t *testing.T) {
	m := vitals.New(nil)
	l := NewBreakerLoad(m, &BreakerOptions{Period: 600 * time.Millisecond, Outage: 250 * time.Millisecond, OpenTimeout: 60 * time.Millisecond,
		Interval: 3 * time.Millisecond, Latency: time.Millisecond, Workers: 3})
	stop := run(t, l.Run)
	mon := l.Monitor()
	waitFor(t, m, "a trip and a recovery", 10*time.Second, func() bool {
		st := mon.Stats()
		return st.Transitions[breaker.Closed][breaker.Open] >= 1 && st.Transitions[breaker.Open][breaker.HalfOpen] >= 1 &&
			st.Transitions[breaker.HalfOpen][breaker.Closed] >= 1
	})
	l.Outage(time.Second)
	waitFor(t, m, "a forced outage to trip it", 5*time.Second, func() bool { return mon.State() != breaker.Closed })
	stop()
	st := mon.Stats()
	if st.Calls[breaker.Rejected] == 0 || st.Calls[breaker.Failure] == 0 || st.Calls[breaker.Success] == 0 || st.SlowCalls == 0 {
		t.Fatalf("calls %v slow %d", st.Calls, st.SlowCalls)
	}
}

// TestDBLoadSQLiteUnwritable: the SQLite file cannot be written (a
// read-only volume, simulated through the open hook since root writes
// anyway) or cannot even be created. The load starts either way and the
// pool monitor tells the truth: the readiness check fails with the
// reason, the failed attempts are counted and the score drops; nothing
// says "ok".
func TestDBLoadSQLiteUnwritable(t *testing.T) {
	for _, exists := range []bool{true, false} {
		t.Run(fmt.Sprintf("file exists %v", exists), func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "shop.sqlite")
			if exists {
				// A database a writable run left behind.
				m := vitals.New(nil)
				l, err := NewDBLoad(m, &DBOptions{SQLitePath: path, Workers: 1})
				if err != nil {
					t.Fatal(err)
				}
				stop := run(t, l.Run)
				waitFor(t, m, "queries", 5*time.Second, func() bool { return l.Monitor().Stats().Queries > 5 })
				stop()
			}
			logs := new(syncLog)
			m := vitals.New(nil)
			l, err := NewDBLoad(m, &DBOptions{SQLitePath: path, Workers: 2, Interval: 5 * time.Millisecond,
				Logger: slog.New(slog.NewTextHandler(logs, nil)), openFile: readOnlyFS})
			if err != nil {
				t.Fatalf("an unwritable SQLite file stops the load from starting: %v", err)
			}
			stop := run(t, l.Run)
			defer stop()
			mon := l.Monitor()
			check := health.PoolCheck(mon, &health.PoolCheckOptions{Name: "shop pool"})
			for range 3 {
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				r := check(ctx)
				cancel()
				if r.Status != score.Fail || !strings.Contains(r.Output, "cannot hand out a working connection") {
					t.Fatalf("readiness with an unwritable database: %+v", r)
				}
				if !strings.Contains(r.Output, "readonly") && !strings.Contains(r.Output, "read-only") && !strings.Contains(r.Output, "unable to open") {
					t.Fatalf("readiness does not say why: %s", r.Output)
				}
			}
			waitFor(t, m, "the score failing", 5*time.Second, func() bool {
				st := mon.Stats()
				return st.Score.Status == score.Fail && st.AcquireErrors >= 3
			})
			if !strings.Contains(logs.String(), "read-only") {
				t.Fatalf("the log does not say the database is read-only:\n%s", logs.String())
			}
		})
	}
}

// readOnlyFS opens like a read-only file system: reads work, anything
// that would write or create fails with EROFS.
func readOnlyFS(name string, flag int, perm os.FileMode) (*os.File, error) {
	if flag&(os.O_RDWR|os.O_WRONLY|os.O_CREATE) != 0 {
		return nil, &os.PathError{Op: "open", Path: name, Err: syscall.EROFS}
	}
	return os.OpenFile(name, flag, perm)
}
