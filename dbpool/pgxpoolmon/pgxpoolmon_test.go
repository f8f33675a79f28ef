package pgxpoolmon

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/goleak"

	"github.com/bizra/vitals"
	"github.com/bizra/vitals/dbpool"
	"github.com/bizra/vitals/health"
	"github.com/bizra/vitals/internal/faultnet"
	"github.com/bizra/vitals/internal/testutil"
	"github.com/bizra/vitals/score"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// postgresURL returns VITALS_TEST_POSTGRES through testutil.Postgres (a
// skip, announced once, when it is unset; a failure when nothing
// listens), and fails when the server does not accept a connection.
func postgresURL(t *testing.T) string {
	t.Helper()
	url := testutil.Postgres(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("VITALS_TEST_POSTGRES is set but PostgreSQL is unreachable: %v", err)
	}
	c.Close(ctx)
	return url
}

// uniqueApp names this test's connections, so that pg_stat_activity and
// pg_terminate_backend touch nothing else on the shared server.
func uniqueApp(t *testing.T) string {
	return fmt.Sprintf("vitals_test_%d_%x", os.Getpid(), rand.Uint32())
}

func newPool(t *testing.T, url, app string, maxConns int32, opts *dbpool.Options) (*vitals.Monitor, *Pool) {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns = maxConns
	cfg.ConnConfig.RuntimeParams["application_name"] = app
	raw, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(raw.Close)
	m := vitals.New(&vitals.Options{Clock: vitals.NewManualClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))})
	var o dbpool.Options
	if opts != nil {
		o = *opts
	}
	o.SampleMaxAge = -1
	return m, New(m, "pg", raw, &o)
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

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// TestExhaustedPool fills a two-connection pool with pg_sleep queries and
// queues four more behind them: the waiter gauge shows the queue, the wait
// histogram the time it cost, and the score says so.
func TestExhaustedPool(t *testing.T) {
	url := postgresURL(t)
	m, pool := newPool(t, url, uniqueApp(t), 2, nil)
	mon := pool.Monitor()
	sleep := pool.Op("sleep")
	ctx := context.Background()
	m.Collect()

	var wg sync.WaitGroup
	errs := make(chan error, 6)
	run := func(sec float64) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := pool.Exec(ctx, sleep, "SELECT pg_sleep($1)", sec)
			errs <- err
		}()
	}
	run(0.4)
	run(0.4)
	waitFor(t, "both connections in use", func() bool { return pool.Pool().Stat().AcquiredConns() == 2 })
	for range 4 {
		run(0.1)
	}
	waitFor(t, "four waiters", func() bool { return mon.Waiters() == 4 })
	s := m.Collect()
	if v := val(t, s, "vitals_db_pool_waiters", "pg"); v != 4 {
		t.Fatalf("waiter gauge %v, want 4", v)
	}
	if v := val(t, s, "vitals_db_pool_connections", "pg", "in_use"); v != 2 {
		t.Fatalf("in use %v, want 2", v)
	}
	if sat := mon.Saturation(); sat != 3 {
		t.Fatalf("saturation %v, want 3", sat)
	}
	tctx, cancel := context.WithTimeout(ctx, 30*time.Millisecond)
	_, err := pool.Exec(tctx, sleep, "SELECT 1")
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("acquire on a full pool: %v", err)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	s = m.Collect()
	if v := val(t, s, "vitals_db_pool_wait_duration_seconds", "pg"); v != 7 {
		t.Fatalf("waits observed %v, want 7", v)
	}
	if v := val(t, s, "vitals_db_pool_acquires_total", "pg", "timeout"); v != 1 {
		t.Fatalf("timeouts %v", v)
	}
	if v := val(t, s, "vitals_db_pool_driver_waits_total", "pg"); v < 4 {
		t.Fatalf("pgxpool empty acquires %v, want >= 4", v)
	}
	if v := val(t, s, "vitals_db_pool_max_open_connections", "pg"); v != 2 {
		t.Fatalf("max conns %v", v)
	}
	st := mon.Stats()
	// The queued four waited for the first pair (0.4 s), two of them for
	// the next pair too (0.5 s).
	if st.Wait.Max < 0.35 || st.Wait.P99 < 0.35 || st.PeakWaiters != 4 || st.Waiters != 0 {
		t.Fatalf("wait max %v p99 %v peak %v waiters %d", st.Wait.Max, st.Wait.P99, st.PeakWaiters, st.Waiters)
	}
	if st.Wait.P50 > st.Wait.P99 || st.AcquiresOK != 6 || st.Queries != 6 {
		t.Fatalf("stats %+v", st)
	}
	if st.Score.Status == score.Pass || st.Score.Factors[2].Name != "wait_p99" || st.Score.Factors[2].Score != 0 {
		t.Fatalf("score of an exhausted pool %+v", st.Score)
	}
}

// TestTerminatedBackends kills the pool's backends with
// pg_terminate_backend: the next queries fail as broken connections, and
// the pool recovers by opening new ones.
func TestTerminatedBackends(t *testing.T) {
	url := postgresURL(t)
	app := uniqueApp(t)
	m, pool := newPool(t, url, app, 2, nil)
	ctx := context.Background()
	one := pool.Op("one")
	c1, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c2, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c1.Release()
	c2.Release()
	opened := pool.Pool().Stat().NewConnsCount()

	admin, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	var killed int
	if err := admin.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1`, app).Scan(&killed); err != nil {
		t.Fatal(err)
	}
	if killed != 2 {
		t.Fatalf("terminated %d backends, want 2", killed)
	}
	waitFor(t, "backends gone", func() bool {
		var n int
		admin.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE application_name = $1`, app).Scan(&n)
		return n == 0
	})
	failures := 0
	recovered := false
	for range 10 {
		var v int
		err := pool.QueryRow(ctx, one, "SELECT 1").Scan(&v)
		if err == nil && v == 1 {
			recovered = true
			break
		}
		if k := Classify(err); k != dbpool.Broken {
			t.Fatalf("error after termination classified %v: %v", k, err)
		}
		failures++
	}
	if failures == 0 || !recovered {
		t.Fatalf("failures %d, recovered %v", failures, recovered)
	}
	s := m.Collect()
	if v := val(t, s, "vitals_db_connection_errors_total", "pg", "broken"); v != float64(failures) {
		t.Fatalf("broken connection errors %v, want %d", v, failures)
	}
	if v := val(t, s, "vitals_db_query_errors_total", "pg", "one"); v != float64(failures) {
		t.Fatalf("query errors %v, want %d", v, failures)
	}
	// The monitor tells the truth about it: the score fails on the error
	// ratio and says why.
	m.Clock().(*vitals.ManualClock).Advance(time.Second)
	m.Collect()
	// (Any recommendation: on a loaded machine the reconnects' waits can
	// rank the wait factor first, as worst-first ordering should.)
	if st := pool.Monitor().Stats(); st.Score.Status == score.Pass || st.ConnectionErrors[dbpool.Broken] != float64(failures) ||
		!slices.ContainsFunc(st.Score.Recommendations, func(r string) bool { return strings.Contains(r, "broken") }) {
		t.Fatalf("after terminated backends: score %v %v %q, broken %v", st.Score.Value, st.Score.Status,
			st.Score.Recommendations, st.ConnectionErrors)
	}
	if pool.Pool().Stat().NewConnsCount() <= opened {
		t.Fatal("the pool opened no new connection")
	}
	if v := val(t, s, "vitals_db_pool_connections_opened_total", "pg"); v <= float64(opened) {
		t.Fatalf("opened counter %v", v)
	}
	// Recovered: queries succeed again.
	for range 3 {
		if _, err := pool.Exec(ctx, one, "SELECT 1"); err != nil {
			t.Fatal(err)
		}
	}
}

func TestDialAndAuthErrors(t *testing.T) {
	url := postgresURL(t)
	ctx := context.Background()
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	// Dial: a port nothing listens on.
	dialCfg := cfg.Copy()
	dialCfg.ConnConfig.Host, dialCfg.ConnConfig.Port = "127.0.0.1", 1
	dialCfg.ConnConfig.Fallbacks = nil
	dialCfg.ConnConfig.ConnectTimeout = 2 * time.Second
	// Auth: a role that does not exist.
	authCfg := cfg.Copy()
	authCfg.ConnConfig.User = fmt.Sprintf("vitals_no_such_role_%x", rand.Uint32())
	authCfg.ConnConfig.Password = "s3cret-never-shown"
	m := vitals.New(nil)
	for _, c := range []struct {
		name string
		cfg  *pgxpool.Config
		kind string
	}{{"dial", dialCfg, "dial"}, {"auth", authCfg, "auth"}} {
		raw, err := pgxpool.NewWithConfig(ctx, c.cfg)
		if err != nil {
			t.Fatal(err)
		}
		pool := New(m, c.name, raw, nil)
		_, err = pool.Acquire(ctx)
		raw.Close()
		if err == nil {
			t.Fatalf("%s: acquire succeeded", c.name)
		}
		s := m.Collect()
		if v := val(t, s, "vitals_db_connection_errors_total", c.name, c.kind); v != 1 {
			t.Fatalf("%s: connection errors{%s} = %v (error %v)", c.name, c.kind, v, err)
		}
		if v := val(t, s, "vitals_db_pool_acquires_total", c.name, "error"); v != 1 {
			t.Fatalf("%s: failed acquires %v", c.name, v)
		}
	}
}

func TestClassify(t *testing.T) {
	for _, c := range []struct {
		err  error
		want dbpool.ErrorKind
	}{
		{nil, dbpool.NotConnection},
		{&pgconn.PgError{Code: "42P01"}, dbpool.NotConnection},
		{&pgconn.PgError{Code: "57P01"}, dbpool.Broken},
		{&pgconn.PgError{Code: "08006"}, dbpool.Broken},
		{&pgconn.PgError{Code: "28P01"}, dbpool.Auth},
		{fmt.Errorf("x: %w", pgconn.ErrConnClosed), dbpool.Broken},
		{&pgconn.ConnectError{Config: &pgconn.Config{}}, dbpool.Dial},
		{context.DeadlineExceeded, dbpool.NotConnection},
	} {
		if got := Classify(c.err); got != c.want {
			t.Errorf("Classify(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}

// TestQueryRowsAndNoRows runs the wrapper's query forms.
func TestQueryRowsAndNoRows(t *testing.T) {
	url := postgresURL(t)
	m, pool := newPool(t, url, uniqueApp(t), 2, nil)
	ctx := context.Background()
	list, get := pool.Op("list"), pool.Op("get")
	rows, err := pool.Query(ctx, list, "SELECT generate_series(1, 5)")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for rows.Next() {
		n++
	}
	rows.Close()
	if n != 5 || rows.Err() != nil {
		t.Fatalf("rows %d err %v", n, rows.Err())
	}
	rows, err = pool.Query(ctx, list, "SELECT generate_series(1, 5)")
	if err != nil {
		t.Fatal(err)
	}
	rows.Close() // early
	if _, err := pool.Query(ctx, list, "SELECT * FROM no_such_table_vitals"); err == nil {
		t.Fatal("query of a missing table succeeded")
	}
	var v int
	if err := pool.QueryRow(ctx, get, "SELECT 1 WHERE false").Scan(&v); !errors.Is(err, pgx.ErrNoRows) {
		t.Fatalf("no rows: %v", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := pool.QueryRow(cctx, get, "SELECT 1").Scan(&v); !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled: %v", err)
	}
	if _, err := pool.Query(cctx, list, "SELECT 1"); !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled: %v", err)
	}
	if _, err := pool.Exec(cctx, list, "SELECT 1"); !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled: %v", err)
	}
	s := m.Collect()
	if v := val(t, s, "vitals_db_query_errors_total", "pg", "list"); v != 1 {
		t.Fatalf("list errors %v, want 1", v)
	}
	if v := val(t, s, "vitals_db_query_errors_total", "pg", "get"); v != 0 {
		t.Fatalf("get errors %v, want 0 (no rows is no failure)", v)
	}
	if v := val(t, s, "vitals_db_pool_acquires_total", "pg", "canceled"); v != 3 {
		t.Fatalf("canceled acquires %v", v)
	}
	if v := val(t, s, "vitals_db_connection_errors_total", "pg", "broken"); v != 0 {
		t.Fatalf("broken %v", v)
	}
	st := pool.Monitor().Stats()
	if st.Driver != "pgxpool" || st.Config.MaxOpen != 2 || st.Config.MaxIdle != -1 || st.Sample.Constructing < 0 {
		t.Fatalf("stats %+v", st)
	}
}

func tick(m *vitals.Monitor) *vitals.Snapshot {
	m.Clock().(*vitals.ManualClock).Advance(time.Second)
	return m.Collect()
}

// poolCheck runs health.PoolCheck on the pool's monitor once.
func poolCheck(p *Pool) health.Result {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return health.PoolCheck(p.Monitor(), &health.PoolCheckOptions{Name: "pg"})(ctx)
}

// TestUnreachableServer is a pool pointed at a closed port and never used
// by a query: the readiness check's Ping is its only traffic, and that is
// enough for the failed connections to be counted, the score to fail and
// the check to fail. No query, no silence.
func TestUnreachableServer(t *testing.T) {
	addr, err := faultnet.ClosedAddr()
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := pgxpool.ParseConfig("postgres://postgres@" + addr + "/test?sslmode=disable&connect_timeout=2")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := pgxpool.NewWithConfig(context.Background(), cfg) // lazy: succeeds
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	m := vitals.New(&vitals.Options{Clock: vitals.NewManualClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))})
	pool := New(m, "pg", raw, &dbpool.Options{SampleMaxAge: -1})
	m.Collect()
	for range 3 {
		if r := poolCheck(pool); r.Status != score.Fail || !strings.Contains(r.Output, "pg cannot hand out a working connection") {
			t.Fatalf("readiness of an unreachable pool: %+v", r)
		}
	}
	s := tick(m)
	if v := val(t, s, "vitals_db_connection_errors_total", "pg", "dial"); v != 3 {
		t.Fatalf("dial errors %v, want 3", v)
	}
	if v := val(t, s, "vitals_db_pool_acquires_total", "pg", "error"); v != 3 {
		t.Fatalf("failed acquires %v, want 3", v)
	}
	st := pool.Monitor().Stats()
	if st.Score.Status != score.Fail || st.ErrorRate != 1 || st.ConnectionErrors[dbpool.Dial] != 3 {
		t.Fatalf("score of an unreachable pool: %v %v, error rate %v, dial errors %v", st.Score.Value, st.Score.Status,
			st.ErrorRate, st.ConnectionErrors)
	}
	// The gauge is set as the tick's consumers run, after its snapshot.
	if v := val(t, m.Collect(), "vitals_db_pool_score", "pg"); v != st.Score.Value || v >= score.FailBelow {
		t.Fatalf("score gauge %v", v)
	}
}

// TestServerGoesAway runs a pool through a proxy that is cut mid-run, as
// when the database host goes down: open connections break, new ones are
// refused, the readiness check and the score fail; when it comes back,
// both recover.
func TestServerGoesAway(t *testing.T) {
	url := postgresURL(t)
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	px, err := faultnet.Listen(net.JoinHostPort(cfg.ConnConfig.Host, strconv.Itoa(int(cfg.ConnConfig.Port))))
	if err != nil {
		t.Fatal(err)
	}
	defer px.Close()
	host, port, _ := net.SplitHostPort(px.Addr())
	p, _ := strconv.Atoi(port)
	cfg.ConnConfig.Host, cfg.ConnConfig.Port, cfg.ConnConfig.Fallbacks = host, uint16(p), nil
	cfg.ConnConfig.ConnectTimeout = 2 * time.Second
	cfg.MaxConns = 2
	raw, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	clk := vitals.NewManualClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	m := vitals.New(&vitals.Options{Clock: clk})
	// A short window, so that recovery shows within the test.
	pool := New(m, "pg", raw, &dbpool.Options{SampleMaxAge: -1, Window: 5 * time.Second})
	ctx := context.Background()
	one := pool.Op("one")
	query := func() error {
		var v int
		return pool.QueryRow(ctx, one, "SELECT 1").Scan(&v)
	}
	m.Collect()
	for range 20 {
		if err := query(); err != nil {
			t.Fatal(err)
		}
	}
	if r := poolCheck(pool); r.Status != score.Pass {
		t.Fatalf("healthy pool: %+v", r)
	}
	tick(m)
	if st := pool.Monitor().Stats(); st.Score.Status != score.Pass {
		t.Fatalf("healthy score %+v", st.Score)
	}

	px.Cut()
	failed := 0
	for range 10 {
		if query() != nil {
			failed++
		}
	}
	if failed != 10 {
		t.Fatalf("%d of 10 queries failed with the server gone", failed)
	}
	if r := poolCheck(pool); r.Status != score.Fail {
		t.Fatalf("readiness with the server gone: %+v", r)
	}
	tick(m)
	st := pool.Monitor().Stats()
	if st.Score.Status != score.Fail {
		t.Fatalf("score with the server gone: %v %v %v", st.Score.Value, st.Score.Status, st.Score.Recommendations)
	}
	if conn := st.ConnectionErrorsTotal[dbpool.Dial] + st.ConnectionErrorsTotal[dbpool.Broken]; conn < 10 {
		t.Fatalf("connection errors %v", st.ConnectionErrorsTotal)
	}
	if len(st.Score.Recommendations) == 0 || !strings.Contains(st.Score.Recommendations[0], "fail: check connection errors") {
		t.Fatalf("recommendations %q", st.Score.Recommendations)
	}

	if err := px.Restore(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the pool to reconnect", func() bool { return poolCheck(pool).Status == score.Pass })
	for range 20 {
		if err := query(); err != nil {
			t.Fatal(err)
		}
	}
	for range 6 { // the outage leaves the 5 s window
		tick(m)
	}
	if st := pool.Monitor().Stats(); st.Score.Status != score.Pass {
		t.Fatalf("score after recovery: %v %v", st.Score.Value, st.Score.Recommendations)
	}
}
