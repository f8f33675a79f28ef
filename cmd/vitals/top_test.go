package main

import (
	"bytes"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bizra/vitals"
	"github.com/bizra/vitals/breaker"
	"github.com/bizra/vitals/cache"
	"github.com/bizra/vitals/dbpool"
	"github.com/bizra/vitals/stream"
)

// fixedPool reports a pool of 10 with 3 connections in use.
type fixedPool struct{}

func (fixedPool) Sample() dbpool.Sample {
	s := dbpool.UnknownSample
	s.MaxOpen, s.Open, s.InUse, s.Idle = 10, 10, 3, 7
	return s
}

func (fixedPool) Config() dbpool.Config { c := dbpool.UnknownConfig; c.MaxOpen = 10; return c }

// streamServer serves a stream.Hub over a real Monitor under a steady
// load: operations checkout (slow, some errors), search (busy) and
// cart.add; a two-tier cache; a pool; a breaker; one firing alert.
// noWebSocket makes /stream answer 404, as a proxy that blocks WebSockets.
// restart stands for a server restart: the hub drains (clients get a
// going-away close) and a new one serves the same monitor.
func streamServer(t *testing.T, token string, noWebSocket bool) (url string, restart func()) {
	t.Helper()
	m := vitals.New(nil)
	m.Start() // the breaker's failure rate and the scores are computed on its ticks
	checkout, search, cart := m.Operation("checkout"), m.Operation("search"), m.Operation("cart.add")
	c := cache.New(m, "catalog", &cache.Options{Tiers: 2})
	p := dbpool.New(m, "orders", &dbpool.Options{Source: fixedPool{}})
	b := breaker.New(m, "payments", nil)
	var hub atomic.Pointer[stream.Hub]
	newHub := func() *stream.Hub {
		h := stream.New(m, &stream.Options{Token: token})
		h.PublishAlerts([]stream.Alert{{Name: "CheckoutSlow", State: "firing", Severity: "page",
			Summary: "checkout p99 over 100ms", Value: 0.12, Since: time.Now().Add(-2 * time.Minute)}})
		return h
	}
	hub.Store(newHub())
	mux := http.NewServeMux()
	if noWebSocket {
		mux.HandleFunc("GET /stream", http.NotFound)
	} else {
		mux.HandleFunc("GET /stream", func(w http.ResponseWriter, r *http.Request) { hub.Load().ServeWebSocket(w, r) })
	}
	mux.HandleFunc("GET /events", func(w http.ResponseWriter, r *http.Request) { hub.Load().ServeSSE(w, r) })
	srv := httptest.NewServer(mux)
	restart = func() {
		old := hub.Swap(newHub())
		old.Close()
	}

	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		failed := errors.New("declined")
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			checkout.Observe(time.Duration(40+i%80)*time.Millisecond, map[bool]error{true: failed}[i%10 == 0])
			for range 5 {
				search.Observe(time.Duration(1+i%4)*time.Millisecond, nil)
			}
			if i%3 == 0 {
				cart.Observe(3*time.Millisecond, nil)
			}
			lk := c.Begin()
			switch i % 10 {
			case 0:
				lk.End(cache.Origin)
			case 1, 2:
				lk.End(cache.L2)
			default:
				lk.End(cache.L1)
			}
			p.BeginAcquire().End(nil)
			b.Record(map[bool]breaker.Outcome{true: breaker.Failure, false: breaker.Success}[i%20 == 0], 20*time.Millisecond)
		}
	}()
	t.Cleanup(func() {
		close(stop)
		wg.Wait()
		hub.Load().Close()
		srv.Close()
		m.Stop()
	})
	return srv.URL, restart
}

// closedAddr returns a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func runCapture(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestTopUnreachable(t *testing.T) {
	url := "http://" + closedAddr(t)
	code, _, stderr := runCapture(t, "top", url)
	if code != 1 || !strings.Contains(stderr, "cannot reach the service at "+url) || !strings.Contains(stderr, "connection refused") {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
	t.Logf("unreachable: %s", stderr)
}

func TestTopUnauthorized(t *testing.T) {
	const secret = "s3cret-stream-token-0123456789"
	url, _ := streamServer(t, secret, false)

	t.Setenv("VITALS_TOKEN", "")
	code, _, stderr := runCapture(t, "top", "--once", url)
	if code != 1 || !strings.Contains(stderr, "wants a bearer token (401): set VITALS_TOKEN") {
		t.Fatalf("no token: exit %d, stderr:\n%s", code, stderr)
	}

	const wrong = "wrong-token-wrong-token-wrong"
	t.Setenv("VITALS_TOKEN", wrong)
	code, stdout, stderr := runCapture(t, "top", "--once", url)
	if code != 1 || !strings.Contains(stderr, "refused the token: "+url+" answered 401 to the token given (not shown)") {
		t.Fatalf("wrong token: exit %d, stderr:\n%s", code, stderr)
	}
	if strings.Contains(stdout+stderr, wrong) {
		t.Fatal("the token was printed")
	}

	code, stdout, stderr = runCapture(t, "top", "--once", "--token", wrong, url)
	if code != 1 || !strings.Contains(stderr, "--token is visible to every local user") || strings.Contains(stdout+stderr, wrong) {
		t.Fatalf("--token: exit %d, stderr:\n%s", code, stderr)
	}

	t.Setenv("VITALS_TOKEN", secret)
	code, stdout, stderr = runCapture(t, "top", "--once", "--interval", "100ms", url)
	if code != 0 || !strings.Contains(stdout, "checkout") || strings.Contains(stdout+stderr, secret) {
		t.Fatalf("right token: exit %d, stdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
}

func TestTopOnce(t *testing.T) {
	for _, tc := range []struct {
		name        string
		noWebSocket bool
		transport   string
	}{{"websocket", false, "ws 100ms"}, {"sse-fallback", true, "sse 100ms"}} {
		t.Run(tc.name, func(t *testing.T) {
			url, _ := streamServer(t, "", tc.noWebSocket)
			code, stdout, stderr := runCapture(t, "top", url, "--once", "--interval", "100ms")
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			t.Logf("\n%s", stdout)
			for _, want := range []string{tc.transport, "OPERATION", "search", "checkout", "cart.add", "POOL", "orders",
				"CACHE", "catalog", "BREAKER", "payments", "closed", "CheckoutSlow: checkout p99 over 100ms", "FIRING"} {
				if !strings.Contains(stdout, want) {
					t.Errorf("no %q in the output", want)
				}
			}
			for i, l := range strings.Split(strings.TrimSuffix(stdout, "\n"), "\n") {
				if len([]rune(l)) > 80 {
					t.Errorf("line %d is %d columns: %q", i, len([]rune(l)), l)
				}
			}
		})
	}
}

func TestTopUsage(t *testing.T) {
	for _, args := range [][]string{{"top"}, {"top", "a", "b"}, {"top", "--interval", "soon", "http://x"}} {
		if code, _, stderr := runCapture(t, args...); code != 2 || stderr == "" {
			t.Errorf("%q: exit %d, stderr %q", args, code, stderr)
		}
	}
	code, _, stderr := runCapture(t, "top", "--interval", "10ms", "http://127.0.0.1:1")
	if code != 1 || !strings.Contains(stderr, "shortest is 100ms") {
		t.Errorf("10ms interval: exit %d, %s", code, stderr)
	}
}
