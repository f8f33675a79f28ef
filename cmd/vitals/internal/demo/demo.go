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
	"path/filepath"
	"sync"
	"time"

	"github.com/bizra/vitals"
	"github.com/bizra/vitals/aggregate"
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

func l2Name(redis string) string {
	if redis == "" {
		return "embedded"
	}
	return "redis"
}
