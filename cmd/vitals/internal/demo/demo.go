// Package demo is the example service behind `vitals demo`: a small shop
// instrumented with vitals that generates its own mixed load and serves
// everything vitals offers.
package demo

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/bizra/vitals"
	"github.com/bizra/vitals/aggregate"
	"github.com/bizra/vitals/breaker"
	"github.com/bizra/vitals/cmd/vitals/internal/demoload"
	"github.com/bizra/vitals/exposition"
	"github.com/bizra/vitals/health"
	"github.com/bizra/vitals/history"
	"github.com/bizra/vitals/history/queryapi"
	"github.com/bizra/vitals/monitorsapi"
)

// Config is the demo's configuration; cmd/vitals fills it from flags and
// the environment. The zero value runs with the defaults below.
type Config struct {
	Addr     string        // listen address of the service, /metrics, the APIs and probes
	DataDir  string        // state kept across restarts (history, the SQLite database)
	Duration time.Duration // run time; 0 until ctx is done
	Rate     float64       // generated HTTP requests per second
	Logger   *slog.Logger

	// Postgres is a PostgreSQL URL for the database workload; "" uses
	// SQLite in DataDir. It never appears in logs.
	Postgres string
	// Redis is the address of a Redis server for the L2 cache; "" uses an
	// embedded compressed byte cache.
	Redis string

	// AdminAddr is the admin listener (POST /admin/saturate,
	// POST /admin/outage); "" for none.
	AdminAddr string
	// AdminToken is the bearer token admin requests must carry; with none
	// set, admin actions are refused.
	AdminToken string
	// SaturateEvery starts a database-pool saturation episode this often
	// (readiness turns not-ready, then recovers); 0 for never.
	SaturateEvery time.Duration
	// SaturateFor is the length of each scheduled episode.
	SaturateFor time.Duration
	// DrainDelay is how long readiness fails before the servers stop, on
	// SIGTERM or when Duration ends.
	DrainDelay time.Duration

	// Listener and AdminListener, when set, are used instead of listening
	// on Addr and AdminAddr (tests).
	Listener      net.Listener
	AdminListener net.Listener
}

// Defaults.
const (
	DefaultAddr        = "127.0.0.1:9911"
	DefaultAdminAddr   = "127.0.0.1:9912"
	DefaultDataDir     = "vitals-data"
	DefaultRate        = 100
	DefaultSaturateFor = 20 * time.Second
	DefaultDrainDelay  = 3 * time.Second
)

func (c *Config) applyDefaults() {
	if c.Addr == "" {
		c.Addr = DefaultAddr
	}
	if c.DataDir == "" {
		c.DataDir = DefaultDataDir
	}
	if c.Rate <= 0 {
		c.Rate = DefaultRate
	}
	if c.SaturateFor <= 0 {
		c.SaturateFor = DefaultSaturateFor
	}
	if c.DrainDelay == 0 {
		c.DrainDelay = DefaultDrainDelay
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// Run runs the demo until ctx is done or cfg.Duration has passed, then
// drains (readiness fails first, the servers keep serving for DrainDelay)
// and shuts down cleanly.
func Run(ctx context.Context, cfg Config) error {
	cfg.applyDefaults()
	log := cfg.Logger
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

	// Rolling windows and 90-day history, fed by the collector's snapshots.
	agg := aggregate.New(&aggregate.Options{Registry: m.Registry()})
	m.AddConsumer(agg)
	hist, err := history.Open(&history.Options{Dir: cfg.DataDir, Logger: log, Registry: m.Registry()})
	if err != nil {
		// Another process holds the history file, or it is not one. An
		// unwritable directory is not an error: the store runs in memory,
		// logs once and retries.
		return fmt.Errorf("history: %w", err)
	}
	// Deferred before m.Stop (below), so it runs after it: the last ticks
	// are in, and Close writes the current minute.
	defer func() {
		if err := hist.Close(); err != nil {
			log.Error("history: close", "err", err)
		}
	}()
	m.AddConsumer(hist)
	query := queryapi.Handler(agg, hist, &queryapi.Options{Logger: log})
	for _, p := range []string{"/api/v1/window", "/api/v1/series", "/api/v1/query_range"} {
		mux.Handle(p, query)
	}

	newShop(m, mux)

	// The monitored dependencies, each under a real workload.
	db, err := demoload.NewDBLoad(m, &demoload.DBOptions{PostgresURL: cfg.Postgres, SQLitePath: filepath.Join(cfg.DataDir, "shop.sqlite")})
	if err != nil {
		return fmt.Errorf("database workload: %w", err)
	}
	defer db.Close()
	cache, err := demoload.NewCacheLoad(m, &demoload.CacheOptions{RedisAddr: cfg.Redis})
	if err != nil {
		return fmt.Errorf("cache workload: %w", err)
	}
	defer cache.Close()
	flaky := demoload.NewBreakerLoad(m, nil)
	monitors := monitorsapi.New(m)
	monitors.AddPool(db.Monitor())
	monitors.AddCache(cache.Monitor())
	monitors.AddBreaker(flaky.Monitor())
	monitors.Register(mux)

	hl, startup := newHealth(m, db, cache, flaky, log)
	hl.Mount(mux)
	mux.Handle("GET /metrics", exposition.Handler(m.Registry(), &exposition.HandlerOpts{Logger: log}))
	mux.HandleFunc("GET /api/v1/operations", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, operationsJSON(m.Operations()))
	})
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprint(w, index)
	})

	// Admin actions: episodes that show readiness and the breaker at work.
	saturate := health.NewEpisodeTrigger(func(ctx context.Context, d time.Duration) {
		db.Saturate(d)
		<-ctx.Done()
	}, &health.EpisodeOptions{Token: cfg.AdminToken, Logger: log})
	defer saturate.Close()
	outage := health.NewEpisodeTrigger(func(ctx context.Context, d time.Duration) {
		flaky.Outage(d)
		<-ctx.Done()
	}, &health.EpisodeOptions{Token: cfg.AdminToken, Logger: log})
	defer outage.Close()
	adminMux := http.NewServeMux()
	adminMux.Handle("/admin/saturate", saturate)
	adminMux.Handle("/admin/outage", outage)

	ln, err := listen(cfg.Listener, cfg.Addr)
	if err != nil {
		return err
	}
	var adminLn net.Listener
	if cfg.AdminListener != nil || cfg.AdminAddr != "" {
		if adminLn, err = listen(cfg.AdminListener, cfg.AdminAddr); err != nil {
			ln.Close()
			return err
		}
	}

	// Handlers' contexts end when shutdown begins, so simulated work stops
	// instead of holding Shutdown for seconds.
	baseCtx, cancelBase := context.WithCancel(context.Background())
	defer cancelBase()
	srv := newServer(mux, log, baseCtx)
	servers := []*http.Server{srv}
	serveErr := make(chan error, 2)
	var serving sync.WaitGroup
	serve := func(s *http.Server, l net.Listener) {
		serving.Add(1)
		go func() {
			defer serving.Done()
			if err := s.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
				serveErr <- err
			}
		}()
	}

	m.Start()
	defer m.Stop()
	hl.Start()
	defer hl.Stop()
	serve(srv, ln)
	base := "http://" + ln.Addr().String()
	attrs := []any{"url", base, "metrics", base + "/metrics", "readiness", base + "/readyz?verbose",
		"performance", base + "/health/performance", "history", hist.Path(), "database", db.Driver(), "l2", l2Name(cfg.Redis)}
	if adminLn != nil {
		admin := newServer(adminMux, log, baseCtx)
		servers = append(servers, admin)
		serve(admin, adminLn)
		attrs = append(attrs, "admin", "http://"+adminLn.Addr().String(), "admin_actions", cfg.AdminToken != "")
	}
	log.Info("vitals demo running", attrs...)

	// Workloads run until the drain is over.
	loadCtx, stopLoad := context.WithCancel(context.Background())
	defer stopLoad()
	var loads sync.WaitGroup
	for name, run := range map[string]func(context.Context) error{
		"http":     (&loadGen{base: base, client: &http.Client{Timeout: 10 * time.Second}, workers: 16, rate: cfg.Rate}).run,
		"database": db.Run,
		"cache":    cache.Run,
		"breaker":  flaky.Run,
	} {
		loads.Add(1)
		go func() {
			defer loads.Done()
			if err := run(loadCtx); err != nil {
				log.Error("demo workload stopped", "workload", name, "err", err)
			}
		}()
	}

	// Ready once the collector has ticked and the workloads are going.
	warmup := time.NewTimer(2 * m.Interval())
	select {
	case <-warmup.C:
		startup.Open()
		log.Info("startup finished: ready")
	case <-ctx.Done():
		warmup.Stop()
	}

	var schedule <-chan time.Time
	if cfg.SaturateEvery > 0 {
		t := time.NewTicker(cfg.SaturateEvery)
		defer t.Stop()
		schedule = t.C
	}
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
		case <-schedule:
			log.Info("scheduled pool saturation episode", "for", cfg.SaturateFor.String())
			db.Saturate(cfg.SaturateFor)
		case <-summary.C:
			logSummary(log, m.Operations())
		}
	}

	drainer := &health.Drainer{Engine: hl, Servers: servers, Delay: cfg.DrainDelay, Timeout: 10 * time.Second, Logger: log}
	drainDone := make(chan error, 1)
	go func() { drainDone <- drainer.Drain(context.Background()) }()
	<-drainDone // servers are shut down; in-flight handlers have been cut after the timeout
	cancelBase()
	serving.Wait()
	stopLoad()
	loads.Wait()
	log.Info("vitals demo stopped")
	return runErr
}

func listen(ln net.Listener, addr string) (net.Listener, error) {
	if ln != nil {
		return ln, nil
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", addr, err)
	}
	return l, nil
}

func l2Name(redis string) string {
	if redis == "" {
		return "embedded"
	}
	return "redis"
}

// newHealth wires the probes: readiness waits for startup, fails while the
// database pool is saturated (with hysteresis), and warns while the
// payment breaker is open; the performance score combines the SLOs, the
// runtime, the pool, the cache and the breaker.
func newHealth(m *vitals.Monitor, db *demoload.DBLoad, cache *demoload.CacheLoad, flaky *demoload.BreakerLoad, log *slog.Logger) (*health.Engine, *health.Gate) {
	h := health.New(m, &health.Options{ServiceID: "vitals-demo", Description: "vitals demo shop", Logger: log})
	startup := new(health.Gate)
	pool := db.Monitor()
	checks := []health.Check{
		{Name: "startup", Gate: startup},
		{Name: "db-pool", ComponentType: "datastore", Interval: time.Second, Timeout: 500 * time.Millisecond,
			Func: health.PoolCheck(func() (float64, int) {
				s := pool.Saturation()
				if math.IsNaN(s) {
					s = 0
				}
				return min(s, 1), int(pool.Waiters())
			}, &health.PoolCheckOptions{Name: "shop pool", FailWaiters: 2})},
		{Name: "breaker-payments", WarnOnly: true, Interval: time.Second,
			Func: health.BreakerCheck("payments", func() bool { return flaky.Monitor().State() == breaker.Open })},
	}
	for _, c := range checks {
		if err := h.AddCheck(c); err != nil {
			panic(err) // static configuration: a programming error
		}
	}
	for name, s := range map[string]health.Scorer{"db": pool, "cache": cache.Monitor(), "breaker-payments": flaky.Monitor()} {
		if err := h.AddScorer(name, s); err != nil {
			panic(err)
		}
	}
	return h, startup
}

// newServer returns an http.Server with every timeout and limit set: a
// slow or vanished client must not hold a connection forever.
func newServer(h http.Handler, log *slog.Logger, base context.Context) *http.Server {
	return &http.Server{
		Handler:           http.MaxBytesHandler(h, 1<<20),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return base },
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

  /metrics                   Prometheus exposition (text, OpenMetrics, protobuf with native histograms)
  /api/v1/operations         per-operation p50/p95/p99/p99.9, rate and error ratio over the last minute
  /api/v1/series             every series, with type and unit, in windows and history
  /api/v1/window?series=<key>&window=5m
                             rolling windows (1m, 5m, 15m, 1h): count, rate, min, max, avg, p50..p99.9
  /api/v1/query_range?series=<key>&stat=p99&from=now-6h&step=1m
                             history: 1-minute rollups for 24 h, 5-minute for 7 days, hourly for 90 days
  /metrics/database          the database pool: state, windows, score with factors
  /metrics/cache             the L1/L2 cache: hits and misses per tier, latency, bytes, score
  /metrics/circuit-breaker   the payment breaker: state, transitions, time in state, rates, score
  /livez, /readyz            Kubernetes probes (?verbose for humans, ?exclude=<check>, /readyz/<check>)
  /health/live, /health/ready, /health/performance
                             application/health+json; 0-100 scores with factors and advice
  /shop/...                  the shop itself (GET /shop/products, /shop/products/{id}, /shop/search;
                             POST /shop/cart, /shop/checkout)

Admin listener (when configured, bearer token required):
  POST /admin/saturate?for=30s   drive the database pool into saturation: readiness turns not-ready, then recovers
  POST /admin/outage?for=20s     take the payment provider down: the breaker opens, half-opens and closes
`
