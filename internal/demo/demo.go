// Package demo is the example service behind `vitals demo`: a small shop
// instrumented with vitals that generates its own mixed load and serves
// everything vitals offers.
package demo

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/bizra/vitals"
	"github.com/bizra/vitals/exposition"
)

// Config is the demo's configuration; cmd/vitals fills it from flags and
// the environment.
type Config struct {
	Addr     string        // listen address of the service and /metrics
	DataDir  string        // state kept across restarts (history)
	Duration time.Duration // run time; 0 until ctx is done
	Rate     float64       // generated requests per second
	Logger   *slog.Logger
	// Listener, when set, is used instead of listening on Addr (tests).
	Listener net.Listener
}

// Defaults.
const (
	DefaultAddr    = "127.0.0.1:9911"
	DefaultDataDir = "vitals-data"
	DefaultRate    = 100
)

// Run runs the demo until ctx is done or cfg.Duration has passed, then
// shuts down cleanly.
func Run(ctx context.Context, cfg Config) error {
	if cfg.Addr == "" {
		cfg.Addr = DefaultAddr
	}
	if cfg.DataDir == "" {
		cfg.DataDir = DefaultDataDir
	}
	if cfg.Rate <= 0 {
		cfg.Rate = DefaultRate
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	if cfg.Duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cfg.Duration)
		defer cancel()
	}
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}

	m := vitals.New(&vitals.Options{Logger: log})
	mux := http.NewServeMux()
	newShop(m, mux)
	mux.Handle("GET /metrics", exposition.Handler(m.Registry(), &exposition.HandlerOpts{Logger: log}))
	mux.HandleFunc("GET /api/v1/operations", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, operationsJSON(m.Operations()))
	})
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprint(w, index)
	})

	ln := cfg.Listener
	if ln == nil {
		var err error
		if ln, err = net.Listen("tcp", cfg.Addr); err != nil {
			return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
		}
	}
	srv := newServer(mux, log)
	// Handlers' contexts end when shutdown begins, so simulated work stops
	// instead of holding Shutdown for seconds.
	baseCtx, cancelBase := context.WithCancel(context.Background())
	defer cancelBase()
	srv.BaseContext = func(net.Listener) context.Context { return baseCtx }
	m.Start()
	defer m.Stop()

	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	base := "http://" + ln.Addr().String()
	log.Info("vitals demo running", "url", base, "metrics", base+"/metrics",
		"operations", base+"/api/v1/operations", "data", cfg.DataDir, "rate_per_second", cfg.Rate)

	loadCtx, stopLoad := context.WithCancel(ctx)
	loadDone := make(chan struct{})
	gen := &loadGen{base: base, client: &http.Client{Timeout: 10 * time.Second}, workers: 16, rate: cfg.Rate}
	go func() { defer close(loadDone); gen.run(loadCtx) }()

	summary := time.NewTicker(30 * time.Second)
	defer summary.Stop()
	var runErr error
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case err := <-serveErr:
			runErr = fmt.Errorf("server: %w", err)
			break loop
		case <-summary.C:
			logSummary(log, m.Operations())
		}
	}
	stopLoad()
	<-loadDone
	cancelBase()
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil && runErr == nil {
		runErr = fmt.Errorf("shutdown: %w", err)
	}
	if err := <-serveErrOrNil(serveErr, runErr); err != nil && !errors.Is(err, http.ErrServerClosed) && runErr == nil {
		runErr = err
	}
	log.Info("vitals demo stopped")
	return runErr
}

// serveErrOrNil returns the serve goroutine's result channel unless that
// result was already taken.
func serveErrOrNil(c chan error, taken error) <-chan error {
	if taken != nil {
		done := make(chan error, 1)
		done <- nil
		return done
	}
	return c
}

// newServer returns an http.Server with every timeout and limit set: a
// slow or vanished client must not hold a connection forever.
func newServer(h http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           http.MaxBytesHandler(h, 1<<20),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

type opJSON struct {
	Name       string  `json:"name"`
	Window     float64 `json:"window_seconds"`
	Count      uint64  `json:"count"`
	Errors     uint64  `json:"errors"`
	Rate       float64 `json:"rate_per_second"`
	ErrorRatio float64 `json:"error_ratio"`
	InFlight   int64   `json:"in_flight"`
	Mean       float64 `json:"mean_seconds"`
	P50        float64 `json:"p50_seconds"`
	P95        float64 `json:"p95_seconds"`
	P99        float64 `json:"p99_seconds"`
	P999       float64 `json:"p999_seconds"`
	Max        float64 `json:"max_seconds"`
}

func operationsJSON(ops []vitals.OperationStats) []opJSON {
	out := make([]opJSON, len(ops))
	for i, o := range ops {
		out[i] = opJSON{Name: o.Name, Window: o.Window.Seconds(), Count: o.Count, Errors: o.Errors, Rate: o.Rate,
			ErrorRatio: o.ErrorRatio, InFlight: o.InFlight, Mean: o.Mean.Seconds(), P50: o.P50.Seconds(),
			P95: o.P95.Seconds(), P99: o.P99.Seconds(), P999: o.P999.Seconds(), Max: o.Max.Seconds()}
	}
	return out
}

func logSummary(log *slog.Logger, ops []vitals.OperationStats) {
	for _, o := range ops {
		if o.Count == 0 {
			continue
		}
		log.Info("operation (last minute)", "name", o.Name, "rate", fmt.Sprintf("%.1f/s", o.Rate),
			"p50", o.P50.Round(time.Microsecond), "p99", o.P99.Round(time.Microsecond),
			"errors", fmt.Sprintf("%.2f%%", 100*o.ErrorRatio))
	}
}

const index = `vitals demo: an example shop instrumented with vitals, under its own load.

  /metrics              Prometheus exposition (text, OpenMetrics, protobuf with native histograms)
  /api/v1/operations    per-operation p50/p95/p99/p99.9, rate and error ratio over the last minute
  /shop/...             the shop itself (GET /shop/products, /shop/products/{id}, /shop/search;
                        POST /shop/cart, /shop/checkout)
`
