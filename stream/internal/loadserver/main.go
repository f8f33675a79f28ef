// Command loadserver is a small service for measuring the stream hub under
// load (docs/PERFORMANCE.md, "Streaming"): a Monitor with the series a
// service has (operations, HTTP, cache, pool), a hub at /stream and
// /events, /metrics with the Go runtime metrics, and a workload of its
// own — real HTTP requests to its own /work handler — whose latencies
// (operation "roundtrip", measured by the caller, and "work", measured in
// the handler) show what stream clients cost the service.
//
//	go run ./stream/internal/loadserver -addr 127.0.0.1:9912
//	go run ./cmd/vitals loadtest stream -clients 10000 http://127.0.0.1:9912
package main

import (
	"context"
	"crypto/sha256"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/bizra/vitals"
	"github.com/bizra/vitals/exposition"
	"github.com/bizra/vitals/metric"
	"github.com/bizra/vitals/stream"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:9912", "listen address")
	rate := flag.Float64("rate", 100, "requests per second of the built-in workload to /work")
	ops := flag.Int("ops", 12, "simulated operations observed besides the workload's own")
	flag.Parse()
	if err := run(*addr, *rate, *ops); err != nil {
		fmt.Fprintln(os.Stderr, "loadserver:", err)
		os.Exit(1)
	}
}

func run(addr string, rate float64, nops int) error {
	var l syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l) == nil && l.Cur < l.Max {
		l.Cur = l.Max
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	m := vitals.New(&vitals.Options{Logger: log})
	reg := m.Registry()
	hub := stream.New(m, &stream.Options{Logger: log})
	mux := http.NewServeMux()
	hub.Mount(mux)
	mux.Handle("GET /metrics", exposition.Handler(reg, &exposition.HandlerOpts{Logger: log}))
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	work := m.Operation("work")
	mux.HandleFunc("GET /work", func(w http.ResponseWriter, r *http.Request) {
		t0 := time.Now()
		var buf [4096]byte
		sum := sha256.Sum256(buf[:])
		for range 20 {
			sum = sha256.Sum256(append(buf[:0:0], sum[:]...))
		}
		work.Observe(time.Since(t0), nil)
		fmt.Fprintf(w, "%x\n", sum[:4])
	})
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	srv.RegisterOnShutdown(hub.Drain)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	m.Start()
	defer m.Stop()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); simulate(ctx, m, reg, nops) }()
	go func() { defer wg.Done(); roundtrips(ctx, m, "http://"+ln.Addr().String()+"/work", rate) }()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	log.Info("loadserver running", "url", "http://"+ln.Addr().String())
	err = srv.Serve(ln)
	wg.Wait()
	hub.Close()
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// simulate observes made-up latencies, cache hits and pool gauges at a
// steady pace, so the performance, cache and database topics carry data
// that changes every interval.
func simulate(ctx context.Context, m *vitals.Monitor, reg *metric.Registry, nops int) {
	ops := make([]*vitals.Operation, nops)
	for i := range ops {
		ops[i] = m.Operation(fmt.Sprintf("op%02d", i))
	}
	hits := reg.CounterVec(metric.Opts{Name: "vitals_cache_hits_total", Labels: []string{"cache", "tier"}, Help: "Cache hits."})
	inUse := reg.Gauge(metric.Opts{Name: "vitals_db_pool_in_use", Help: "Connections in use."})
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for _, op := range ops {
			op.Observe(time.Duration(rand.ExpFloat64()*float64(5*time.Millisecond)), nil)
		}
		hits.With("catalog", "l1").Add(3)
		hits.With("catalog", "l2").Inc()
		inUse.Set(int64(rand.IntN(10)))
	}
}

// roundtrips calls /work at rate per second and observes each call's
// latency as the caller sees it (operation "roundtrip").
func roundtrips(ctx context.Context, m *vitals.Monitor, url string, rate float64) {
	if rate <= 0 {
		return
	}
	op := m.Operation("roundtrip")
	hc := &http.Client{Timeout: 10 * time.Second}
	t := time.NewTicker(time.Duration(float64(time.Second) / rate))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		t0 := time.Now()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := hc.Do(req)
		if err != nil {
			op.Observe(time.Since(t0), err)
			continue
		}
		_, _ = resp.Body.Read(make([]byte, 64))
		resp.Body.Close()
		op.Observe(time.Since(t0), nil)
	}
}
