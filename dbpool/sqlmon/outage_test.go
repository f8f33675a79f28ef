package sqlmon

import (
	"context"
	"database/sql"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx", for a real server that can go away

	"github.com/bizra/vitals"
	"github.com/bizra/vitals/dbpool"
	"github.com/bizra/vitals/health"
	"github.com/bizra/vitals/internal/faultnet"
	"github.com/bizra/vitals/internal/testutil"
	"github.com/bizra/vitals/score"
)

func openPG(t *testing.T, hostport string) (*vitals.Monitor, *vitals.ManualClock, *DB) {
	t.Helper()
	raw, err := sql.Open("pgx", "postgres://postgres@"+hostport+"/test?sslmode=disable&connect_timeout=2")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	clk := vitals.NewManualClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	m := vitals.New(&vitals.Options{Clock: clk})
	db := New(m, "pg", raw, &Options{Config: &Config{MaxOpen: 2, MaxIdle: 2},
		Pool: &dbpool.Options{SampleMaxAge: -1, Window: 5 * time.Second}})
	m.Collect()
	return m, clk, db
}

func check(db *DB) health.Result {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	return health.PoolCheck(db.Monitor(), &health.PoolCheckOptions{Name: "pg"})(ctx)
}

// TestUnreachableServer is a database/sql pool pointed at a closed port and
// never queried: the readiness check's Ping alone gets the failed
// connections counted, the score failing and the check failing.
func TestUnreachableServer(t *testing.T) {
	addr, err := faultnet.ClosedAddr()
	if err != nil {
		t.Fatal(err)
	}
	m, clk, db := openPG(t, addr)
	for range 3 {
		if r := check(db); r.Status != score.Fail || !strings.Contains(r.Output, "cannot hand out a working connection") {
			t.Fatalf("readiness of an unreachable database: %+v", r)
		}
	}
	clk.Advance(time.Second)
	s := m.Collect()
	if v := val(t, s, "vitals_db_connection_errors_total", "pg", "dial"); v != 3 {
		t.Fatalf("dial errors %v, want 3", v)
	}
	st := db.Monitor().Stats()
	if st.Score.Status != score.Fail || st.ErrorRate != 1 {
		t.Fatalf("score of an unreachable database: %v %v, error rate %v", st.Score.Value, st.Score.Status, st.ErrorRate)
	}
}

// TestServerGoesAway cuts a proxy in front of the real PostgreSQL mid-run:
// queries and the check fail, errors are counted as connection errors, the
// score fails; after the proxy is restored, all of it recovers.
func TestServerGoesAway(t *testing.T) {
	url := testutil.Postgres(t)
	target := "127.0.0.1:5432"
	if i, j := strings.Index(url, "@"), strings.LastIndex(url, "/"); i >= 0 && j > i {
		target = url[i+1 : j]
	}
	px, err := faultnet.Listen(target)
	if err != nil {
		t.Fatal(err)
	}
	defer px.Close()
	m, clk, db := openPG(t, px.Addr())
	ctx := context.Background()
	op := db.Op("one")
	query := func() error {
		var v int
		return db.QueryRow(ctx, op, "SELECT 1").Scan(&v)
	}
	for range 10 {
		if err := query(); err != nil {
			t.Fatal(err)
		}
	}
	if r := check(db); r.Status != score.Pass {
		t.Fatalf("healthy: %+v", r)
	}

	px.Cut()
	for range 5 {
		if query() == nil {
			t.Fatal("a query succeeded with the server gone")
		}
	}
	if r := check(db); r.Status != score.Fail {
		t.Fatalf("readiness with the server gone: %+v", r)
	}
	clk.Advance(time.Second)
	m.Collect()
	st := db.Monitor().Stats()
	if st.Score.Status != score.Fail || st.ConnectionErrorsTotal[dbpool.Dial]+st.ConnectionErrorsTotal[dbpool.Broken] < 5 {
		t.Fatalf("with the server gone: score %v %v, connection errors %v", st.Score.Value, st.Score.Status, st.ConnectionErrorsTotal)
	}

	if err := px.Restore(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the pool to reconnect", func() bool { return check(db).Status == score.Pass })
	for range 10 {
		if err := query(); err != nil {
			t.Fatal(err)
		}
	}
	for range 6 {
		clk.Advance(time.Second)
		m.Collect()
	}
	if st := db.Monitor().Stats(); st.Score.Status != score.Pass {
		t.Fatalf("after recovery: %v %q", st.Score.Value, st.Score.Recommendations)
	}
}
