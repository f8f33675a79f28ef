package demo

import (
	"encoding/json"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bizra/vitals/internal/faultnet"
	"github.com/bizra/vitals/internal/testutil"
)

// dbState is what the probes say about the database at one moment.
type dbState struct {
	readyCode int
	ready     string // /readyz?verbose
	check     string // db-pool's output in /health/ready
	dbScore   string // the db component's status in /health/performance
}

func readDBState(t *testing.T, d *runningDemo) dbState {
	t.Helper()
	var s dbState
	s.readyCode, s.ready = do(t, "GET", d.base+"/readyz?verbose", "")
	_, body := do(t, "GET", d.base+"/health/ready", "")
	var ready struct {
		Checks map[string][]struct{ Status, Output string } `json:"checks"`
	}
	if err := json.Unmarshal([]byte(body), &ready); err != nil {
		t.Fatalf("/health/ready: %v: %s", err, body)
	}
	if c := ready.Checks["db-pool"]; len(c) == 1 {
		s.check = c[0].Status + ": " + c[0].Output
	}
	_, body = do(t, "GET", d.base+"/health/performance", "")
	var perf struct {
		Components []struct{ Component, Status string } `json:"components"`
	}
	if err := json.Unmarshal([]byte(body), &perf); err != nil {
		t.Fatalf("/health/performance: %v: %s", err, body)
	}
	for _, c := range perf.Components {
		if c.Component == "db" {
			s.dbScore = c.Status
		}
	}
	return s
}

// waitDBState polls the running demo's probes until cond holds.
func waitDBState(t *testing.T, d *runningDemo, what string, limit time.Duration, cond func(dbState) bool) dbState {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		s := readDBState(t, d)
		if cond(s) {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v, still not %s: %+v\nlog:\n%s", limit, what, s, d.log.String())
		}
		time.Sleep(200 * time.Millisecond) // polling a real server
	}
}

// down reports that every probe says the database is down, with the
// reason.
func down(reason string) func(dbState) bool {
	return func(s dbState) bool {
		return s.readyCode == 503 && strings.Contains(s.ready, "[-]db-pool failed: shop pool cannot hand out a working connection") &&
			strings.Contains(s.ready, reason) && strings.HasPrefix(s.check, "fail: ") && strings.Contains(s.check, reason) &&
			s.dbScore == "fail"
	}
}

// TestDemoPostgresClosedPort runs the demo with --postgres at a port
// nothing listens on: it starts and keeps serving, readiness and /health
// say the database is down and why, the failed dials are counted, the
// setup error is logged once, and the URL's password appears nowhere.
func TestDemoPostgresClosedPort(t *testing.T) {
	const password = "pg-secret-7f3a9c"
	d := startDemo(t, Config{Postgres: "postgres://shop:" + password + "@127.0.0.1:1/shop?sslmode=disable&connect_timeout=2",
		Rate: 20, DrainDelay: -1})
	s := waitDBState(t, d, "reported down", 30*time.Second, down("connection refused"))
	dials, err := strconv.ParseFloat(metricValue(t, d, `vitals_db_connection_errors_total{pool="shop",kind="dial"}`), 64)
	if err != nil || dials < 2 {
		t.Fatalf("dial errors %v %v, want the readiness pings counted", dials, err)
	}
	// The shop itself still answers: only the database is down.
	if code, _ := do(t, "GET", d.base+"/livez", ""); code != 200 {
		t.Fatalf("/livez %d with the database down", code)
	}
	d.stop()
	log := d.log.String()
	if n := strings.Count(log, "cannot set up the shop's tables"); n != 1 {
		t.Errorf("the setup failure is logged %d times, want once:\n%s", n, log)
	}
	for what, text := range map[string]string{"the log": log, "/readyz": s.ready, "/health/ready": s.check} {
		if strings.Contains(text, password) {
			t.Errorf("the PostgreSQL password appears in %s", what)
		}
	}
	if strings.Contains(log, "panic") {
		t.Errorf("a panic was logged:\n%s", log)
	}
}

// TestDemoPostgresGoesAway runs the demo on the real PostgreSQL through
// a proxy, cuts the proxy mid-run and restores it: readiness and the
// score turn from ready to down with the reason and back.
func TestDemoPostgresGoesAway(t *testing.T) {
	u, err := url.Parse(testutil.Postgres(t))
	if err != nil {
		t.Fatal(err)
	}
	px, err := faultnet.Listen(u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer px.Close()
	u.Host = px.Addr()
	q := u.Query()
	q.Set("connect_timeout", "2")
	u.RawQuery = q.Encode()
	d := startDemo(t, Config{Postgres: u.String(), Rate: 20, DrainDelay: -1})
	up := func(s dbState) bool { return s.readyCode == 200 && strings.HasPrefix(s.check, "pass") }
	waitDBState(t, d, "ready on the real server", 30*time.Second, up)
	px.Cut()
	waitDBState(t, d, "reported down after the server went away", 30*time.Second, down("connect"))
	if err := px.Restore(); err != nil {
		t.Fatal(err)
	}
	waitDBState(t, d, "ready again after the server came back", 30*time.Second, up)
	d.stop()
	if log := d.log.String(); strings.Contains(log, "panic") {
		t.Errorf("a panic was logged:\n%s", log)
	}
}
