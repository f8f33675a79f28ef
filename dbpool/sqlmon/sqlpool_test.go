package sqlmon

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/goleak"
	_ "modernc.org/sqlite"

	"github.com/bizra/vitals"
	"github.com/bizra/vitals/dbpool"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func openSQLite(t *testing.T, cfg *Config) (*vitals.Monitor, *DB) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "test.db")
	raw, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	m := vitals.New(&vitals.Options{Clock: vitals.NewManualClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))})
	db := New(m, "sqlite", raw, &Options{Config: cfg, Pool: &dbpool.Options{SampleMaxAge: -1}})
	if _, err := raw.Exec(`CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	return m, db
}

func val(t *testing.T, s *vitals.Snapshot, name string, labels ...string) float64 {
	t.Helper()
	p, ok := s.Lookup(name, labels...)
	if !ok {
		t.Fatalf("series %s%v missing", name, labels)
	}
	if p.Hist != nil {
		return float64(p.Hist.Count)
	}
	return p.Value
}

// waitFor polls cond, for state that another goroutine reaches at its own
// pace (a caller blocking inside database/sql): bounded, never a fixed
// sleep.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestQueriesAndConfig(t *testing.T) {
	m, db := openSQLite(t, &Config{MaxOpen: 2, MaxIdle: 5, MaxLifetime: time.Hour})
	ctx := context.Background()
	ins, get, list, bad := db.Op("item.insert"), db.Op("item.get"), db.Op("item.list"), db.Op("bad")
	for _, n := range []string{"apple", "pear", "plum"} {
		if _, err := db.Exec(ctx, ins, "INSERT INTO items (name) VALUES (?)", n); err != nil {
			t.Fatal(err)
		}
	}
	var name string
	if err := db.QueryRow(ctx, get, "SELECT name FROM items WHERE id = ?", 2).Scan(&name); err != nil || name != "pear" {
		t.Fatalf("QueryRow: %q %v", name, err)
	}
	if err := db.QueryRow(ctx, get, "SELECT name FROM items WHERE id = ?", 99).Scan(&name); !errors.Is(err, sql.ErrNoRows) {
		t.Fatalf("missing row: %v", err)
	}
	rows, err := db.Query(ctx, list, "SELECT name FROM items ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for rows.Next() {
		n++
	}
	if err := rows.Close(); err != nil || n != 3 {
		t.Fatalf("rows %d %v", n, err)
	}
	rows, err = db.Query(ctx, list, "SELECT name FROM items") // closed early
	if err != nil {
		t.Fatal(err)
	}
	rows.Close()
	rows.Close()
	if _, err := db.Query(ctx, bad, "SELEC nothing"); err == nil {
		t.Fatal("bad SQL accepted")
	}
	if _, err := db.Exec(ctx, bad, "INSERT INTO nowhere VALUES (1)"); err == nil {
		t.Fatal("bad insert accepted")
	}
	if err := db.Tx(ctx, ins, nil, func(tx *sql.Tx) error {
		_, err := tx.Exec("INSERT INTO items (name) VALUES ('fig')")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	rollback := errors.New("changed my mind")
	if err := db.Tx(ctx, ins, nil, func(tx *sql.Tx) error {
		tx.Exec("INSERT INTO items (name) VALUES ('kiwi')")
		return rollback
	}); !errors.Is(err, rollback) {
		t.Fatal(err)
	}
	var count int
	db.DB().QueryRow("SELECT count(*) FROM items").Scan(&count)
	if count != 4 {
		t.Fatalf("rows after rollback %d, want 4", count)
	}

	s := m.Collect()
	for op, want := range map[string]float64{"item.insert": 5, "item.get": 2, "item.list": 2, "bad": 2} {
		if v := val(t, s, "vitals_db_query_duration_seconds", "sqlite", op); v != want {
			t.Errorf("queries{%s} = %v, want %v", op, v, want)
		}
	}
	for op, want := range map[string]float64{"item.insert": 1, "item.get": 0, "item.list": 0, "bad": 2} {
		if v := val(t, s, "vitals_db_query_errors_total", "sqlite", op); v != want {
			t.Errorf("errors{%s} = %v, want %v (sql.ErrNoRows is no failure)", op, v, want)
		}
	}
	if v := val(t, s, "vitals_db_pool_acquires_total", "sqlite", "ok"); v != 11 {
		t.Errorf("acquires %v, want 11", v)
	}
	if v := val(t, s, "vitals_db_pool_max_open_connections", "sqlite"); v != 2 {
		t.Errorf("max open %v", v)
	}
	if v := val(t, s, "vitals_db_pool_max_idle_connections", "sqlite"); v != 2 {
		t.Errorf("max idle %v, want 2 (capped at max open, as database/sql does)", v)
	}
	if v := val(t, s, "vitals_db_pool_max_lifetime_seconds", "sqlite"); v != 3600 {
		t.Errorf("max lifetime %v", v)
	}
	if v := val(t, s, "vitals_db_pool_connections", "sqlite", "in_use"); v != 0 {
		t.Errorf("in use after everything closed: %v", v)
	}
	val(t, s, "vitals_db_pool_connections_closed_total", "sqlite", "max_lifetime")
	if _, ok := s.Lookup("vitals_db_pool_connections_opened_total", "sqlite"); ok {
		t.Error("database/sql does not count opened connections; the series must not exist")
	}
}

// TestWaitersTimeoutAndCancel saturates a one-connection pool.
func TestWaitersTimeoutAndCancel(t *testing.T) {
	m, db := openSQLite(t, &Config{MaxOpen: 1, MaxIdle: 1})
	ctx := context.Background()
	held, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	mon := db.Monitor()
	op := db.Op("item.count")
	done := make(chan error, 2)
	for range 2 {
		go func() {
			_, err := db.Exec(ctx, op, "SELECT count(*) FROM items")
			done <- err
		}()
	}
	waitFor(t, "two waiters", func() bool { return mon.Waiters() == 2 })
	if sat := mon.Saturation(); sat != 3 {
		t.Errorf("saturation %v, want 3 (1 in use + 2 waiting over 1)", sat)
	}
	if v := val(t, m.Collect(), "vitals_db_pool_waiters", "sqlite"); v != 2 {
		t.Errorf("waiters gauge %v", v)
	}
	tctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	if _, err := db.Exec(tctx, op, "SELECT 1"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("saturated acquire: %v", err)
	}
	cancel()
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := db.Conn(cctx); !errors.Is(err, context.Canceled) {
		t.Errorf("canceled acquire: %v", err)
	}
	held.Close()
	for range 2 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	s := m.Collect()
	for r, want := range map[string]float64{"ok": 3, "timeout": 1, "canceled": 1} {
		if v := val(t, s, "vitals_db_pool_acquires_total", "sqlite", r); v != want {
			t.Errorf("acquires{%s} = %v, want %v", r, v, want)
		}
	}
	if v := val(t, s, "vitals_db_pool_driver_waits_total", "sqlite"); v < 2 {
		t.Errorf("DBStats wait count %v, want >= 2", v)
	}
	st := mon.Stats()
	if st.Wait.Max < 0.015 || st.Waiters != 0 || st.PeakWaiters != 2 {
		t.Fatalf("max wait %v waiters %d peak %v", st.Wait.Max, st.Waiters, st.PeakWaiters)
	}
	if st.Driver != "database/sql" || st.Sample.MaxOpen != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestAcquireErrorSurfaces(t *testing.T) {
	_, db := openSQLite(t, nil)
	db.DB().Close()
	op := db.Op("x")
	if _, err := db.Exec(context.Background(), op, "SELECT 1"); err == nil {
		t.Fatal("closed db")
	}
	if _, err := db.Query(context.Background(), op, "SELECT 1"); err == nil {
		t.Fatal("closed db")
	}
	if err := db.QueryRow(context.Background(), op, "SELECT 1").Scan(new(int)); err == nil {
		t.Fatal("closed db")
	}
	if err := db.Tx(context.Background(), op, nil, func(*sql.Tx) error { return nil }); err == nil {
		t.Fatal("closed db")
	}
	st := db.Monitor().Stats()
	_ = st
	if db.Monitor().Stats().Config.MaxIdle != -1 {
		t.Fatal("config without Options.Config must be unknown")
	}
	var _ dbpool.Source = &source{}
}
