// Package testutil holds the helpers vitals' own tests share across
// packages and modules: a quiet logger, a fixed time, a bounded wait for a
// condition, and the lookup of the external services some tests run
// against (PostgreSQL, Redis, promtool), which skip with a clear message
// where a service is not configured and fail where it is configured but
// unreachable.
package testutil

import (
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"
)

// T0 is the fixed time tests start their manual clocks at.
var T0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// Quiet returns a logger that discards everything.
func Quiet() *slog.Logger { return slog.New(slog.DiscardHandler) }

// WaitFor polls cond every 2 ms until it holds, failing the test after
// limit with what it was waiting for. It is for conditions another
// goroutine or process makes true; state the test drives itself needs no
// waiting.
func WaitFor(t testing.TB, what string, limit time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", limit, what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// The services tests can use, by the environment variable that names them.
const (
	EnvPostgres = "VITALS_TEST_POSTGRES" // a URL: postgres://postgres@127.0.0.1:5432/test?sslmode=disable
	EnvRedis    = "VITALS_TEST_REDIS"    // host:port: 127.0.0.1:6379
	EnvPromtool = "VITALS_PROMTOOL"      // a promtool binary (.ci/run builds one)
)

var announced sync.Map // env var -> struct{}: one stderr line per process

// skip skips the test for an unset service, and says so once per test
// binary outside the test's own output too, so that the skip is visible
// without -v. `go test` in package-list mode (`go test ./...`, the
// README's command) shows a passing package's stderr only with -v, so the
// line goes to the terminal (/dev/tty) when there is one, and to stderr
// otherwise (CI: shown with -v, -json or on failure).
func skip(t testing.TB, env, example string) {
	t.Helper()
	msg := fmt.Sprintf("%s is not set (for example %s): skipping the tests that need it", env, example)
	if _, done := announced.LoadOrStore(env, struct{}{}); !done {
		w := os.Stderr
		if tty, err := os.OpenFile("/dev/tty", os.O_WRONLY, 0); err == nil {
			defer tty.Close()
			w = tty
		}
		fmt.Fprintln(w, "vitals tests: "+msg)
	}
	t.Skip(msg)
}

// Postgres returns the URL in VITALS_TEST_POSTGRES, skipping the test when
// it is unset and failing it when the server does not accept a TCP
// connection.
func Postgres(t testing.TB) string {
	t.Helper()
	raw := os.Getenv(EnvPostgres)
	if raw == "" {
		skip(t, EnvPostgres, "postgres://postgres@127.0.0.1:5432/test?sslmode=disable")
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		t.Fatalf("%s is set but is not a postgres:// URL: %v", EnvPostgres, err)
	}
	host := u.Host
	if u.Port() == "" {
		host = net.JoinHostPort(u.Hostname(), "5432")
	}
	dial(t, EnvPostgres, "PostgreSQL", host)
	return raw
}

// Redis returns the address in VITALS_TEST_REDIS, skipping the test when
// it is unset and failing it when nothing listens there.
func Redis(t testing.TB) string {
	t.Helper()
	addr := os.Getenv(EnvRedis)
	if addr == "" {
		skip(t, EnvRedis, "127.0.0.1:6379")
	}
	dial(t, EnvRedis, "Redis", addr)
	return addr
}

// Promtool returns the binary in VITALS_PROMTOOL, skipping the test when
// it is unset and failing it when the binary does not run.
func Promtool(t testing.TB) string {
	t.Helper()
	bin := os.Getenv(EnvPromtool)
	if bin == "" {
		skip(t, EnvPromtool, "~/.cache/vitals/bin/promtool, which .ci/run builds")
	}
	if out, err := exec.Command(bin, "--version").CombinedOutput(); err != nil {
		t.Fatalf("%s is set to %s, which does not run: %v\n%s", EnvPromtool, bin, err, out)
	}
	return bin
}

func dial(t testing.TB, env, what, addr string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 3*time.Second)
	if err != nil {
		t.Fatalf("%s is set but %s at %s is unreachable: %v", env, what, addr, err)
	}
	c.Close()
}
