package demo

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bizra/vitals/metric"
)

const testAdminToken = "admin-token-0123456789abcdef"

// syncBuffer is a log sink the demo's goroutines can write to while the
// test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type runningDemo struct {
	base, admin string
	log         *syncBuffer
	stop        func()
}

// startDemo runs the demo on loopback ports with cfg (listeners, data
// directory, logger and a short drain filled in) until the test ends, and
// waits until /livez answers.
func startDemo(t *testing.T, cfg Config) *runningDemo {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	adminLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	d := &runningDemo{base: "http://" + ln.Addr().String(), admin: "http://" + adminLn.Addr().String(), log: &syncBuffer{}}
	cfg.Listener, cfg.AdminListener = ln, adminLn
	if cfg.DataDir == "" {
		cfg.DataDir = t.TempDir()
	}
	cfg.Logger = slog.New(slog.NewTextHandler(d.log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, cfg) }()
	var once sync.Once
	d.stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run: %v", err)
				}
			case <-time.After(20 * time.Second):
				t.Error("demo did not stop within 20 s")
			}
		})
	}
	t.Cleanup(d.stop)
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := client.Get(d.base + "/livez")
		if err == nil {
			resp.Body.Close()
			return d
		}
		select {
		case err := <-done:
			t.Fatalf("demo stopped at start: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("demo did not answer /livez: %v", err)
		}
		time.Sleep(50 * time.Millisecond) // polling a real server
	}
}

func do(t *testing.T, method, url, token string, hdr ...string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i] == "Host" {
			req.Host = hdr[i+1]
			continue
		}
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// metricValue reads one sample's value from the text exposition.
func metricValue(t *testing.T, d *runningDemo, series string) string {
	t.Helper()
	_, body := do(t, "GET", d.base+"/metrics", "")
	for _, line := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			return v
		}
	}
	return ""
}

// TestListenersHoldUnderIdleConnections: idle keep-alive connections and
// silent new ones far past the limit neither exhaust the process nor
// starve the probes and the admin listener; the limit's work is counted.
func TestListenersHoldUnderIdleConnections(t *testing.T) {
	d := startDemo(t, Config{AdminToken: testAdminToken, MaxConns: 8, AdminMaxConns: 3})
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	open := func(addr string, n int, request bool) {
		for range n {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			conns = append(conns, c)
			if !request {
				continue
			}
			// One request, then the connection stays open and idle.
			fmt.Fprintf(c, "GET /livez HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
			c.SetReadDeadline(time.Now().Add(2 * time.Second))
			if resp, err := http.ReadResponse(bufio.NewReader(c), nil); err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}
	}
	publicAddr := strings.TrimPrefix(d.base, "http://")
	adminAddr := strings.TrimPrefix(d.admin, "http://")
	open(publicAddr, 40, true)
	open(publicAddr, 20, false)
	open(adminAddr, 20, false)

	for range 5 {
		if code, body := do(t, "GET", d.base+"/readyz", ""); code != 200 && code != 503 {
			t.Fatalf("/readyz under idle connections: %d %s", code, body)
		}
		if code, body := do(t, "GET", d.admin+"/admin/saturate", testAdminToken); code != 200 {
			t.Fatalf("admin under idle connections: %d %s", code, body)
		}
	}
	if v := metricValue(t, d, `vitals_demo_http_connections_evicted_total{listener="public"}`); v == "" || v == "0" {
		t.Errorf("public evictions not counted: %q", v)
	}
	if v, err := strconv.ParseFloat(metricValue(t, d, `vitals_demo_http_connections{listener="public"}`), 64); err != nil || v > 8 {
		t.Errorf("public listener holds %v connections (%v), limit 8", v, err)
	}
}

// TestConnLimiterRefusesWhenAllBusy: with every connection serving a
// request, a new one is refused and counted rather than queued.
func TestConnLimiterRefusesWhenAllBusy(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	m := metric.NewRegistry()
	lim := newConnLimiter(2, "public", newConnMetrics(m))
	release := make(chan struct{})
	srv := newServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-release
	}), slog.New(slog.DiscardHandler), context.Background(), lim)
	go srv.Serve(lim.listener(ln))
	defer srv.Close()
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := http.Get("http://" + ln.Addr().String())
			if err == nil {
				resp.Body.Close()
			}
		}()
	}
	for lim.open() < 2 || lim.busy() < 2 {
		time.Sleep(5 * time.Millisecond)
	}
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := c.Read(make([]byte, 1)); n != 0 || err == nil {
		t.Fatalf("a connection past the limit was served: %d %v", n, err)
	}
	c.Close()
	if got := lim.refused.Value(); got != 1 {
		t.Errorf("refused = %d, want 1", got)
	}
	close(release)
	wg.Wait()
}

// TestHostGuardAgainstDNSRebinding: on loopback, a request naming another
// host (a rebinding web page) is refused on both listeners.
func TestHostGuardAgainstDNSRebinding(t *testing.T) {
	d := startDemo(t, Config{AdminToken: testAdminToken})
	port := d.base[strings.LastIndex(d.base, ":")+1:]
	for _, path := range []string{"/metrics", "/api/v1/operations", "/health/performance", "/metrics/database"} {
		if code, _ := do(t, "GET", d.base+path, "", "Host", "attacker.example:"+port); code != http.StatusMisdirectedRequest {
			t.Errorf("GET %s with Host attacker.example: %d, want 421", path, code)
		}
		if code, _ := do(t, "GET", d.base+path, "", "Host", "localhost:"+port); code != 200 {
			t.Errorf("GET %s with Host localhost: %d, want 200", path, code)
		}
	}
	if code, _ := do(t, "GET", d.admin+"/admin/outage", testAdminToken, "Host", "attacker.example"); code != http.StatusMisdirectedRequest {
		t.Errorf("admin with Host attacker.example: %d, want 421", code)
	}
}

// TestTokens: /metrics and the JSON APIs require their tokens when set;
// the admin listener serves the APIs behind the admin token; rejected
// admin attempts are counted and logged with the remote address.
func TestTokens(t *testing.T) {
	const metricsTok, apiTok = "metrics-token-0123456789", "api-token-0123456789abcd"
	d := startDemo(t, Config{AdminToken: testAdminToken, MetricsToken: metricsTok, APIToken: apiTok})
	cases := []struct {
		url, token string
		want       int
	}{
		{d.base + "/metrics", "", 401},
		{d.base + "/metrics", apiTok, 401},
		{d.base + "/metrics", metricsTok, 200},
		{d.base + "/api/v1/operations", "", 401},
		{d.base + "/api/v1/series", "", 401},
		{d.base + "/metrics/cache", "", 401},
		{d.base + "/api/v1/operations", apiTok, 200},
		{d.base + "/metrics/cache", apiTok, 200},
		{d.base + "/api/v1/nothing-here", apiTok, 404},
		{d.base + "/readyz", "", 200},
		{d.admin + "/api/v1/operations", "", 401},
		{d.admin + "/api/v1/operations", apiTok, 401},
		{d.admin + "/api/v1/operations", testAdminToken, 200},
		{d.admin + "/metrics/circuit-breaker", testAdminToken, 200},
		{d.admin + "/admin/saturate", "wrong-token-of-some-length", 401},
	}
	for _, c := range cases {
		code, body := do(t, "GET", c.url, c.token)
		if c.want == 200 && code == 503 && strings.Contains(c.url, "readyz") {
			continue
		}
		if code != c.want {
			t.Errorf("GET %s with token %q: %d, want %d (%s)", c.url, c.token, code, c.want, body)
		}
	}
	if v := metricValue2(t, d, metricsTok, "vitals_demo_admin_rejected_total"); v != "3" {
		t.Errorf("vitals_demo_admin_rejected_total = %q, want 3", v)
	}
	log := d.log.String()
	if !strings.Contains(log, "admin: request rejected") || !strings.Contains(log, "remote=127.0.0.1:") {
		t.Errorf("rejected admin attempt not logged with its address:\n%s", log)
	}
	if code, _ := do(t, "POST", d.admin+"/admin/outage?for=1s", testAdminToken); code != 202 {
		t.Errorf("outage: %d", code)
	}
	if log := d.log.String(); !strings.Contains(log, `msg="admin: request accepted" remote=127.0.0.1:`) {
		t.Errorf("accepted admin action not logged with its address")
	}
	for _, secret := range []string{testAdminToken, metricsTok, apiTok} {
		if strings.Contains(d.log.String(), secret) {
			t.Errorf("a token appears in the log")
		}
	}
}

func metricValue2(t *testing.T, d *runningDemo, token, series string) string {
	t.Helper()
	_, body := do(t, "GET", d.base+"/metrics", token)
	for _, line := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			return v
		}
	}
	return ""
}

func TestShortTokensRefused(t *testing.T) {
	for _, c := range []Config{{AdminToken: "s3cret"}, {MetricsToken: "short"}, {APIToken: "0123456789abcde"}} {
		c.DataDir = t.TempDir()
		c.Logger = slog.New(slog.DiscardHandler)
		err := Run(context.Background(), c)
		if err == nil || !strings.Contains(err.Error(), "at least 16") {
			t.Errorf("%+v: %v, want a refusal of the short token", c, err)
		}
		for _, tok := range []string{"s3cret", "short", "0123456789abcde"} {
			if err != nil && strings.Contains(err.Error(), tok) {
				t.Errorf("the error repeats the token: %v", err)
			}
		}
	}
}

// TestDataDirectory: a new directory is private, an unsafe one is
// refused unless allowed, and the SQLite files are private.
func TestDataDirectory(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	root := t.TempDir()
	fresh := filepath.Join(root, "new", "data")
	if err := prepareDataDir(fresh, false, log); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(fresh); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("new data directory: %v %v, want 0700", fi.Mode(), err)
	}
	open := filepath.Join(root, "open")
	if err := os.Mkdir(open, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(open, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := prepareDataDir(open, false, log); err == nil || !strings.Contains(err.Error(), "writable by others") {
		t.Fatalf("world-writable directory: %v, want a refusal", err)
	}
	var warned syncBuffer
	if err := prepareDataDir(open, true, slog.New(slog.NewTextHandler(&warned, nil))); err != nil {
		t.Fatalf("with the override: %v", err)
	}
	if !strings.Contains(warned.String(), "not private") {
		t.Errorf("the override did not warn: %s", warned.String())
	}
	if os.Geteuid() == 0 {
		other := filepath.Join(root, "other")
		if err := os.Mkdir(other, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(other, 4242, 4242); err != nil {
			t.Fatal(err)
		}
		if err := prepareDataDir(other, false, log); err == nil || !strings.Contains(err.Error(), "owned by uid 4242") {
			t.Errorf("directory owned by another user: %v, want a refusal", err)
		}
	}

	// The demo's own files: SQLite and its -wal/-shm are 0600.
	d := startDemo(t, Config{DataDir: fresh})
	d.stop()
	for _, name := range []string{"shop.sqlite", "shop.sqlite-wal", "shop.sqlite-shm"} {
		fi, err := os.Stat(filepath.Join(fresh, name))
		if err != nil {
			if name != "shop.sqlite" && os.IsNotExist(err) {
				continue // checkpointed away at close
			}
			t.Fatal(err)
		}
		if fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s is %v, want 0600", name, fi.Mode().Perm())
		}
	}
}

// TestRateZeroMeansNoLoad: --rate 0 sends no generated requests.
func TestRateZeroMeansNoLoad(t *testing.T) {
	d := startDemo(t, Config{Rate: 0})
	time.Sleep(1500 * time.Millisecond) // a generator would have sent requests by now
	_, body := do(t, "GET", d.base+"/api/v1/operations", "")
	var ops []opJSON
	if err := json.Unmarshal([]byte(body), &ops); err != nil {
		t.Fatal(err)
	}
	for _, o := range ops {
		if o.Count != 0 {
			t.Errorf("rate 0 generated requests: %+v", o)
		}
	}
}

// busy counts the connections serving a request.
func (l *connLimiter) busy() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, ci := range l.conns {
		if ci.state == http.StateActive {
			n++
		}
	}
	return n
}

// TestSecondDemoOnSameDataDir: a second demo on a data directory in use
// stops at once with history's error, which names the file, instead of
// running without history or hanging.
func TestSecondDemoOnSameDataDir(t *testing.T) {
	dir := t.TempDir()
	startDemo(t, Config{DataDir: dir})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := Run(ctx, Config{DataDir: dir, Addr: "127.0.0.1:0", Logger: slog.New(slog.DiscardHandler)})
	if err == nil {
		t.Fatal("a second demo ran on a data directory in use")
	}
	if !strings.Contains(err.Error(), dir) {
		t.Errorf("the error does not name the history file: %v", err)
	}
	if strings.Contains(err.Error(), "history: history:") {
		t.Errorf("the error repeats its prefix: %v", err)
	}
}

// TestConnLimiterEvictsIdleFirst: at the limit, the longest-idle
// keep-alive connection goes first, then the oldest silent one; busy
// ones are never closed.
func TestConnLimiterEvictsIdleFirst(t *testing.T) {
	lim := newConnLimiter(3, "public", newConnMetrics(metric.NewRegistry()))
	pipe := func() net.Conn {
		a, b := net.Pipe()
		t.Cleanup(func() { a.Close(); b.Close() })
		return a
	}
	closed := func(c net.Conn) bool {
		c.SetWriteDeadline(time.Now().Add(10 * time.Millisecond))
		_, err := c.Write([]byte{0})
		return errors.Is(err, io.ErrClosedPipe)
	}
	silent, busy, idle := pipe(), pipe(), pipe()
	for _, c := range []net.Conn{silent, busy, idle} {
		if !lim.admit(c) {
			t.Fatal("refused under the limit")
		}
	}
	lim.track(busy, http.StateActive)
	lim.track(idle, http.StateActive)
	lim.track(idle, http.StateIdle)

	if !lim.admit(pipe()) || !closed(idle) || closed(silent) || closed(busy) {
		t.Fatal("the idle connection was not the one closed")
	}
	if !lim.admit(pipe()) || !closed(silent) || closed(busy) {
		t.Fatal("the silent connection was not the next one closed")
	}
	lim.track(busy, http.StateClosed)
	if lim.open() != 2 || lim.evicted.Value() != 2 || lim.refused.Value() != 0 {
		t.Fatalf("open %v evicted %d refused %d", lim.open(), lim.evicted.Value(), lim.refused.Value())
	}
}
