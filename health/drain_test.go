package health

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"
)

// drainServer serves the health endpoints and /work on a real listener.
func drainServer(t *testing.T, e *Engine, work http.HandlerFunc) (*http.Server, string, chan error) {
	t.Helper()
	mux := http.NewServeMux()
	e.Mount(mux)
	mux.Handle("/work", work)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	return srv, "http://" + ln.Addr().String(), served
}

func get(t *testing.T, c *http.Client, url string) int {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestDrainOrder: readiness fails first, the server keeps serving during
// the delay (liveness too), then it shuts down.
func TestDrainOrder(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	f.step(0)
	srv, base, served := drainServer(t, f.e, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) })
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	if get(t, client, base+"/readyz") != 200 {
		t.Fatal("not ready before the drain")
	}
	inDelay, proceed := make(chan time.Duration), make(chan struct{})
	d := &Drainer{Engine: f.e, Servers: []*http.Server{srv}, Delay: 7 * time.Second, Logger: quiet(),
		wait: func(ctx context.Context, d time.Duration) { inDelay <- d; <-proceed }}
	done := make(chan error, 1)
	go func() { done <- d.Drain(context.Background()) }()
	if got := <-inDelay; got != 7*time.Second {
		t.Fatalf("delay %v", got)
	}
	if get(t, client, base+"/readyz") != 503 || get(t, client, base+"/livez") != 200 || get(t, client, base+"/work") != 204 {
		t.Fatal("during the delay: readiness must fail, liveness pass, and work still be served")
	}
	client.CloseIdleConnections()
	close(proceed)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		t.Fatalf("Serve returned %v", err)
	}
	if _, err := client.Get(base + "/livez"); err == nil {
		t.Fatal("server still answering after the drain")
	}
}

// TestDrainTimeoutCutsStragglers: a request still running past Timeout is
// cut, and Drain says so.
func TestDrainTimeoutCutsStragglers(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	entered, release := make(chan struct{}), make(chan struct{})
	defer close(release)
	srv, base, served := drainServer(t, f.e, func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	reqDone := make(chan error, 1)
	go func() {
		resp, err := client.Get(base + "/work")
		if err == nil {
			resp.Body.Close()
		}
		reqDone <- err
	}()
	<-entered
	d := &Drainer{Engine: f.e, Servers: []*http.Server{srv}, Delay: -1, Timeout: 50 * time.Millisecond, Logger: quiet()}
	err := d.Drain(context.Background())
	if err == nil || !strings.Contains(err.Error(), "shutdown: context deadline exceeded") {
		t.Fatalf("Drain: %v", err)
	}
	if err := <-reqDone; err == nil {
		t.Fatal("the straggler was not cut")
	}
	<-served
}

// TestDrainOnSignal: Run drains on the configured signal.
func TestDrainOnSignal(t *testing.T) {
	// Not parallel: it signals the test process. Our own Notify keeps
	// the signal from ever taking the default action (exit).
	guard := make(chan os.Signal, 16)
	signal.Notify(guard, syscall.SIGUSR1)
	defer signal.Stop(guard)

	f := newFixture(t, nil)
	srv, _, served := drainServer(t, f.e, func(w http.ResponseWriter, r *http.Request) {})
	inDelay := make(chan struct{}, 1)
	d := &Drainer{Engine: f.e, Servers: []*http.Server{srv}, Signals: []os.Signal{syscall.SIGUSR1}, Logger: quiet(),
		wait: func(context.Context, time.Duration) { inDelay <- struct{}{} }}
	done := make(chan error, 1)
	go func() { done <- d.Run(context.Background()) }()
	// Run registers its handler asynchronously: signal until it drains,
	// bounded by a deadline rather than a sleep for state.
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	deadline := time.NewTimer(5 * time.Second)
	defer deadline.Stop()
	for waiting := true; waiting; {
		_ = syscall.Kill(os.Getpid(), syscall.SIGUSR1)
		select {
		case <-inDelay:
			waiting = false
		case <-tick.C:
		case <-deadline.C:
			t.Fatal("Run did not react to the signal")
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !f.e.Draining() {
		t.Fatal("readiness not drained")
	}
	<-served
}

// TestDrainOnContext: Run also drains when its context ends.
func TestDrainOnContext(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	srv, _, served := drainServer(t, f.e, func(w http.ResponseWriter, r *http.Request) {})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	d := &Drainer{Engine: f.e, Servers: []*http.Server{srv}, Delay: time.Millisecond, Logger: quiet()}
	if err := d.Run(ctx); err != nil || !f.e.Draining() {
		t.Fatalf("Run: %v", err)
	}
	<-served
}
