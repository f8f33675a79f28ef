package demoload

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/klauspost/compress/s2"
	"github.com/redis/go-redis/v9"

	"github.com/bizra/vitals"
	"github.com/bizra/vitals/cache"
	"github.com/bizra/vitals/internal/testutil"
)

// hugeClaim is a 5-byte S2 value whose header claims 4 GiB - 1 decoded
// bytes: s2.Decode(nil, z) would allocate all of it.
var hugeClaim = []byte{0xff, 0xff, 0xff, 0xff, 0x0f}

func allocatedBy(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestL2ValueClaimingHugeLengthIsAMiss: a crafted value is a miss, counted,
// and allocates nothing near what it claims; the origin answers.
func TestL2ValueClaimingHugeLengthIsAMiss(t *testing.T) {
	if n, err := s2.DecodedLen(hugeClaim); err != nil || n < 1<<31 {
		t.Fatalf("the crafted value claims %d (%v)", n, err)
	}
	m := vitals.New(nil)
	var logs bytes.Buffer
	l, err := NewCacheLoad(m, &CacheOptions{OriginLatency: time.Microsecond, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	l.l2.set("product:1", hugeClaim)
	l.l2.set("product:2", []byte{0x05, 0xff, 0xff}) // claims 5 bytes, then garbage
	var v []byte
	alloc := allocatedBy(func() { v, err = l.Get(context.Background(), "product:1") })
	if err != nil || !bytes.Contains(v, []byte(`"id":"product:1"`)) {
		t.Fatalf("Get = %q, %v; want the origin's document", v, err)
	}
	if alloc > 1<<20 {
		t.Fatalf("Get of a crafted 5-byte value allocated %d bytes", alloc)
	}
	if _, err := l.Get(context.Background(), "product:2"); err != nil {
		t.Fatal(err)
	}
	if l.tooLarge.Value() != 1 || l.corrupt.Value() != 1 {
		t.Fatalf("rejected too_large=%d corrupt=%d, want 1 and 1", l.tooLarge.Value(), l.corrupt.Value())
	}
	if c := l.Monitor().Counts(cache.L2); c.Hits != 0 {
		t.Fatalf("a rejected value counted as an L2 hit: %+v", c)
	}
	if !strings.Contains(logs.String(), "claims more than the size limit") {
		t.Errorf("the first rejection is not logged: %s", logs.String())
	}
	// The origin's value replaced it: the next read is a real L2 hit
	// once L1 forgets it.
	l.l1.Invalidate("product:1")
	if _, err := l.Get(context.Background(), "product:1"); err != nil || l.Monitor().Counts(cache.L2).Hits != 1 {
		t.Fatalf("after the origin reload: %v, L2 hits %d", err, l.Monitor().Counts(cache.L2).Hits)
	}
}

func redisForTest(t *testing.T) (string, *redis.Client) {
	t.Helper()
	addr := testutil.Redis(t)
	rdb := redis.NewClient(&redis.Options{Addr: addr, DisableIdentity: true})
	t.Cleanup(func() { rdb.Close() })
	if err := rdb.Ping(context.Background()).Err(); err != nil {
		t.Fatalf("VITALS_TEST_REDIS is set but Redis is unreachable: %v", err)
	}
	return addr, rdb
}

// TestRedisCraftedValue: the same check against a value planted in the
// real Redis by another client.
func TestRedisCraftedValue(t *testing.T) {
	addr, rdb := redisForTest(t)
	ctx := context.Background()
	prefix := fmt.Sprintf("vitals_test_%d_%x:", os.Getpid(), rand.Uint32())
	defer rdb.Del(ctx, prefix+"product:7")
	if err := rdb.Set(ctx, prefix+"product:7", hugeClaim, time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	m := vitals.New(nil)
	l, err := NewCacheLoad(m, &CacheOptions{Redis: addr, KeyPrefix: prefix, OriginLatency: time.Microsecond, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	alloc := allocatedBy(func() { _, err = l.Get(ctx, "product:7") })
	if err != nil || alloc > 1<<20 || l.tooLarge.Value() != 1 {
		t.Fatalf("err %v, allocated %d, too_large %d", err, alloc, l.tooLarge.Value())
	}
}

// TestRedisWithACLUser: a Redis user with a password, given as a URL
// (user in it) and the password from RedisPassword, works; a wrong
// password fails with an error and log lines that never show it.
func TestRedisWithACLUser(t *testing.T) {
	addr, rdb := redisForTest(t)
	ctx := context.Background()
	user := fmt.Sprintf("vitals_test_%d_%x", os.Getpid(), rand.Uint32())
	password := fmt.Sprintf("pw-%x-%x", rand.Uint64(), rand.Uint64())
	prefix := user + ":"
	if err := rdb.Do(ctx, "ACL", "SETUSER", user, "on", ">"+password, "~"+prefix+"*", "+@all").Err(); err != nil {
		t.Fatalf("ACL SETUSER: %v", err)
	}
	defer func() {
		if keys, _ := rdb.Keys(ctx, prefix+"*").Result(); len(keys) > 0 {
			rdb.Del(ctx, keys...)
		}
		if err := rdb.Do(ctx, "ACL", "DELUSER", user).Err(); err != nil {
			t.Errorf("ACL DELUSER: %v", err)
		}
	}()

	var logs syncLog
	log := slog.New(slog.NewTextHandler(&logs, nil))
	m := vitals.New(nil)
	l, err := NewCacheLoad(m, &CacheOptions{Redis: "redis://" + user + "@" + addr + "/0", RedisPassword: password, KeyPrefix: prefix,
		Keys: 50, Interval: time.Millisecond, OriginLatency: time.Microsecond, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		if _, err := l.Get(ctx, fmt.Sprint("product:", i%5)); err != nil {
			t.Fatal(err)
		}
		l.l1.InvalidateAll()
	}
	c := l.Monitor().Counts(cache.L2)
	l.Close()
	if c.Hits == 0 || c.Errors != 0 {
		t.Fatalf("with the ACL user: L2 %+v", c)
	}

	// The password in the URL and a wrong one: no access, no leak.
	bad := "redis://" + user + ":WRONG-" + password + "@" + addr + "/0"
	m2 := vitals.New(nil)
	l2, err := NewCacheLoad(m2, &CacheOptions{Redis: bad, KeyPrefix: prefix, OriginLatency: time.Microsecond, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l2.Get(ctx, "product:1"); err != nil {
		t.Fatal(err) // the origin answers when L2 fails
	}
	c2 := l2.Monitor().Counts(cache.L2)
	l2.Close()
	if c2.Errors == 0 {
		t.Errorf("a wrong password did not count an L2 error: %+v", c2)
	}
	if strings.Contains(logs.String(), password) {
		t.Errorf("the Redis password appears in the log:\n%s", logs.String())
	}
}

type syncLog struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncLog) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncLog) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestRedisOptionsAndRedaction(t *testing.T) {
	o, err := redisOptions("rediss://app:fromurl@cache.example:6380/3", "")
	if err != nil || o.Addr != "cache.example:6380" || o.Username != "app" || o.Password != "fromurl" || o.DB != 3 || o.TLSConfig == nil {
		t.Fatalf("%+v %v", o, err)
	}
	if o, _ := redisOptions("redis://app@h:1", "fromenv"); o.Password != "fromenv" {
		t.Fatalf("the environment's password was not used: %q", o.Password)
	}
	if o, _ := redisOptions("127.0.0.1:6379", "pw"); o.Addr != "127.0.0.1:6379" || o.Password != "pw" {
		t.Fatalf("host:port: %+v", o)
	}
	for _, bad := range []string{"redis://u:TOPSECRET@h:notaport/0", "redis://u:TOPSECRET@h:1/notadb", "http://u:TOPSECRET@h"} {
		_, err := redisOptions(bad, "")
		if err == nil || strings.Contains(err.Error(), "TOPSECRET") {
			t.Errorf("redisOptions(%q): %v", bad, err)
		}
	}
	var buf bytes.Buffer
	rl := newRedisLogger(slog.New(slog.NewTextHandler(&buf, nil)), "sekrit-pw")
	rl.Printf(context.Background(), "redis: dial %s failed: auth %s", "redis://u:other-pw@h:1", "sekrit-pw")
	if out := buf.String(); strings.Contains(out, "sekrit-pw") || strings.Contains(out, "other-pw") || !strings.Contains(out, "[REDACTED]") {
		t.Errorf("go-redis log line not redacted: %s", out)
	}
}

// TestSQLiteFiles: the database and its -wal/-shm are private, a '?' or
// '#' in the directory does not change SQLite's options, and a symlink
// in place of the database is refused.
func TestSQLiteFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "odd?name#dir")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "shop.sqlite")
	dsn, _, err := sqliteDSN(path, os.OpenFile)
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1)`); err != nil {
		t.Fatal(err)
	}
	var mode string
	if err := db.QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
		t.Fatalf("journal_mode %q %v: the options after the path were lost", mode, err)
	}
	for _, name := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s is %v, want 0600", name, fi.Mode().Perm())
		}
	}
	if entries, _ := os.ReadDir(filepath.Dir(dir)); len(entries) != 1 {
		t.Errorf("files outside the directory: %v", entries)
	}

	linkDir := t.TempDir()
	target := filepath.Join(t.TempDir(), "elsewhere")
	if err := os.Symlink(target, filepath.Join(linkDir, "shop.sqlite")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := sqliteDSN(filepath.Join(linkDir, "shop.sqlite"), os.OpenFile); err == nil || !strings.Contains(err.Error(), "symlink") {
		t.Fatalf("symlink: %v, want a refusal", err)
	}
	if _, err := os.Lstat(target); !os.IsNotExist(err) {
		t.Fatalf("the symlink's target was created: %v", err)
	}
}
