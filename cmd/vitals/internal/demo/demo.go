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
	"path/filepath"
	"sync"
	"time"

	"github.com/bizra/vitals"
	"github.com/bizra/vitals/aggregate"
	"github.com/bizra/vitals/alerting/rules"
	"github.com/bizra/vitals/cmd/vitals/internal/demoload"
	"github.com/bizra/vitals/exposition"
	"github.com/bizra/vitals/health"
	"github.com/bizra/vitals/history"
	"github.com/bizra/vitals/history/queryapi"
	"github.com/bizra/vitals/internal/httpx"
	"github.com/bizra/vitals/monitorsapi"
	"github.com/bizra/vitals/stream/web"
	"github.com/bizra/vitals/vitalshttp"
)

// Config is the demo's configuration; cmd/vitals fills it from flags and
// the environment. The zero value runs with the defaults below, without
// generated HTTP load (Rate 0) and without a drain delay (cmd/vitals
// starts from DefaultRate and DefaultDrainDelay).
type Config struct {
	Addr     string        // listen address of the service, /metrics, the APIs and probes
	DataDir  string        // state kept across restarts (history, the SQLite database)
	Duration time.Duration // run time; 0 until ctx is done
	Rate     float64       // generated HTTP requests per second; 0 (or less) for none
	Logger   *slog.Logger

	// AllowInsecureDataDir uses a DataDir that another user owns or
	// others can write to, with a warning, instead of refusing it.
	AllowInsecureDataDir bool

	// Postgres is a PostgreSQL URL for the database workload; "" uses
	// SQLite in DataDir. It never appears in logs.
	Postgres string
	// Redis is the Redis server for the L2 cache, host:port or a
	// redis:// or rediss:// URL; "" uses an embedded compressed byte
	// cache. It never appears in logs.
	Redis string
	// RedisPassword, when set, is the password for Redis' AUTH (it
	// overrides one in the URL).
	RedisPassword string

	// AdminAddr is the admin listener (POST /admin/saturate,
	// POST /admin/outage, and the JSON APIs); "" for none.
	AdminAddr string
	// AdminToken is the bearer token every admin listener request must
	// carry, at least MinTokenBytes long; with none set, the admin
	// listener refuses every request.
	AdminToken string
	// MetricsToken, when set, is the bearer token /metrics requires (at
	// least MinTokenBytes long). "": /metrics is open.
	MetricsToken string
	// APIToken, when set, is the bearer token the JSON APIs (/api/v1/...,
	// /metrics/database and the other monitor reports) require on the
	// public listener (at least MinTokenBytes long). "": they are open.
	// The admin listener serves them too, behind AdminToken.
	APIToken string
	// MaxConns and AdminMaxConns bound the open connections of the
	// public and the admin listener. 0: DefaultMaxConns and
	// DefaultAdminMaxConns.
	MaxConns, AdminMaxConns int
	// SaturateEvery starts a database-pool saturation episode this often
	// (readiness turns not-ready, then recovers); 0 for never.
	SaturateEvery time.Duration
	// SaturateFor is the length of each scheduled episode.
	SaturateFor time.Duration
	// DrainDelay is how long readiness fails before the servers stop, on
	// SIGTERM or when Duration ends; 0 (or less) stops at once.
	DrainDelay time.Duration
	// HistoryOnCorrupt is what to do with a damaged history file
	// (history.Options.OnCorrupt): fail (the default) or move it aside.
	HistoryOnCorrupt history.CorruptAction
	// Alertmanager is the URL of an Alertmanager the in-process alerts
	// are delivered to (its v2 API); "" for none.
	Alertmanager string
	// StreamOrigins are the host patterns of pages on other origins that
	// may open the live stream (stream.Options.AllowedOrigins, e.g.
	// "dash.example.com" or "*.example.com"). nil: only pages the demo
	// serves itself.
	StreamOrigins []string
	// AlertRules are the rule groups evaluated in process (every
	// alertInterval whatever their own interval); nil for the shipped
	// ones, rules.Build(nil), as in monitoring/alerts/vitals-alerts.yaml.
	AlertRules []rules.Group

	// Push sends the metrics to remote-write receivers (remotewrite.go).
	Push Push

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
	// ShutdownTimeout is how long the servers get to finish after the
	// drain delay (deploy/ grace periods are checked against it).
	ShutdownTimeout = 10 * time.Second
	// DefaultMaxConns leaves room under the usual 1024 file descriptor
	// limit for the databases, history and the admin listener.
	DefaultMaxConns      = 512
	DefaultAdminMaxConns = 16
)

func (c *Config) applyDefaults() {
	if c.Addr == "" {
		c.Addr = DefaultAddr
	}
	if c.DataDir == "" {
		c.DataDir = DefaultDataDir
	}
	if c.MaxConns <= 0 {
		c.MaxConns = DefaultMaxConns
	}
	if c.AdminMaxConns <= 0 {
		c.AdminMaxConns = DefaultAdminMaxConns
	}
	if c.SaturateFor <= 0 {
		c.SaturateFor = DefaultSaturateFor
	}
	c.DrainDelay = max(c.DrainDelay, 0)
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// checkTokens refuses tokens too short to resist guessing.
func (c *Config) checkTokens() error {
	for _, t := range []struct{ name, env, val string }{
		{"admin", "VITALS_ADMIN_TOKEN", c.AdminToken},
		{"metrics", "VITALS_METRICS_TOKEN", c.MetricsToken},
		{"API", "VITALS_API_TOKEN", c.APIToken},
	} {
		if t.val != "" && len(t.val) < MinTokenBytes {
			return fmt.Errorf("the %s token (%s) is %d bytes; use at least %d, such as the output of: openssl rand -hex 16",
				t.name, t.env, len(t.val), MinTokenBytes)
		}
	}
	return nil
}

// Run runs the demo until ctx is done or cfg.Duration has passed, then
// drains (readiness fails first, the servers keep serving for DrainDelay)
// and shuts down cleanly.
func Run(ctx context.Context, cfg Config) error {
	cfg.applyDefaults()
	log := cfg.Logger
	if err := cfg.checkTokens(); err != nil {
		return err
	}
	if cfg.Duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cfg.Duration)
		defer cancel()
	}
	if err := prepareDataDir(cfg.DataDir, cfg.AllowInsecureDataDir, log); err != nil {
		return err
	}

	m := vitals.New(&vitals.Options{Logger: log})
	mux := http.NewServeMux()

	// Rolling windows and 90-day history, fed by the collector's snapshots.
	agg := aggregate.New(m, nil)
	hist, err := history.Open(m, &history.Options{Dir: cfg.DataDir, Logger: log, OnCorrupt: cfg.HistoryOnCorrupt})
	if err != nil {
		// Another process holds the history file, or it is damaged; the
		// error names the file and what to do. An unwritable directory
		// is not an error: the store runs in memory, logs once and
		// retries; a read-only one is served read-only.
		return err
	}
	// Deferred before m.Stop (below), so it runs after it: the last ticks
	// are in, and Close writes the current minute.
	defer func() {
		if err := hist.Close(); err != nil {
			log.Error("history: close", "err", err)
		}
	}()
	// The JSON APIs live on their own mux: the public listener serves it
	// behind the API token (when set), the admin listener behind the
	// admin token.
	api := http.NewServeMux()
	queryapi.New(agg, hist, &queryapi.Options{Logger: log, Registry: m.Registry()}).Mount(api)

	// The monitored dependencies, each under a real workload.
	db, err := demoload.NewDBLoad(m, &demoload.DBOptions{PostgresURL: cfg.Postgres, SQLitePath: filepath.Join(cfg.DataDir, "shop.sqlite"), Logger: log})
	if err != nil {
		return fmt.Errorf("database workload: %w", err)
	}
	defer db.Close()
	cache, err := demoload.NewCacheLoad(m, &demoload.CacheOptions{Redis: cfg.Redis, RedisPassword: cfg.RedisPassword, Logger: log})
	if err != nil {
		return fmt.Errorf("cache workload: %w", err)
	}
	defer cache.Close()
	payments := demoload.NewBreakerLoad(m, nil)
	monitors := monitorsapi.New(m)
	monitors.AddPool(db.Monitor())
	monitors.AddCache(cache.Monitor())
	monitors.AddBreaker(payments.Monitor())
	monitors.Mount(api)
	api.HandleFunc("GET /api/v1/operations", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, operationsJSON(m.Operations()))
	})
	api.HandleFunc("/api/", httpx.NotFound)
	api.HandleFunc("/metrics/", httpx.NotFound)

	newShop(m, mux, payments)
	stopPush, err := startPush(m, &cfg, log)
	if err != nil {
		return err
	}
	defer stopPush()
	hl, startup := newHealth(m, db, cache, payments, log)
	hl.Mount(mux)
	// The live stream: GET /stream (WebSocket) and GET /events (SSE).
	hub := newStream(m, hl, &cfg, log)
	defer hub.Close() // after the servers have stopped (Close is idempotent)
	hub.Mount(mux)
	mux.Handle("GET /metrics", exposition.Handler(m.Registry(), &exposition.HandlerOpts{Logger: log, BearerToken: cfg.MetricsToken}))
	apiTok := httpx.NewToken(cfg.APIToken)
	stopAlerting, err := startAlerting(m, hist, api, mux, apiTok, payments, hub, cfg, log)
	if err != nil {
		return fmt.Errorf("alerting: %w", err)
	}
	defer stopAlerting()
	mux.Handle("/api/", requireToken(apiTok, api))
	mux.Handle("/metrics/", requireToken(apiTok, api))
	// The live dashboard at / (stream/web); what the demo serves, as text, at /help.
	web.NewHandler().Mount(mux)
	mux.HandleFunc("GET /help", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprint(w, index)
	})

	// Admin actions: episodes that show readiness and the breaker at work.
	saturate := NewEpisodeTrigger(func(ctx context.Context, d time.Duration) {
		db.Saturate(d)
		<-ctx.Done()
	}, &EpisodeOptions{Token: cfg.AdminToken, Logger: log})
	defer saturate.Close()
	outage := NewEpisodeTrigger(func(ctx context.Context, d time.Duration) {
		payments.Outage(d)
		<-ctx.Done()
	}, &EpisodeOptions{Token: cfg.AdminToken, Logger: log})
	defer outage.Close()
	adminMux := http.NewServeMux()
	adminMux.Handle("/admin/saturate", saturate)
	adminMux.Handle("/admin/outage", outage)
	adminMux.Handle("/api/", api)
	adminMux.Handle("/metrics/", api)

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
	conns := newConnMetrics(m.Registry())
	publicLimit := newConnLimiter(cfg.MaxConns, "public", conns)
	srv := newServer(vitalshttp.HostGuard(mux, ln.Addr().String(), nil), log, baseCtx, publicLimit)
	// Stream clients get a going-away close when shutdown begins, so that
	// Shutdown does not wait for SSE responses and browsers reconnect.
	srv.RegisterOnShutdown(hub.Drain)
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
	serve(srv, publicLimit.listener(ln))
	base := "http://" + ln.Addr().String()
	attrs := []any{"url", base, "dashboard", base + "/", "help", base + "/help", "metrics", base + "/metrics", "readiness", base + "/readyz?verbose",
		"performance", base + "/health/performance", "history", hist.Path(), "database", db.Driver(), "l2", l2Name(cfg.Redis),
		"metrics_token", cfg.MetricsToken != "", "api_token", cfg.APIToken != ""}
	if adminLn != nil {
		adminLimit := newConnLimiter(cfg.AdminMaxConns, "admin", conns)
		guarded := newAdminAuth(cfg.AdminToken, adminMux, m.Registry(), log)
		admin := newServer(vitalshttp.HostGuard(guarded, adminLn.Addr().String(), nil), log, baseCtx, adminLimit)
		servers = append(servers, admin)
		serve(admin, adminLimit.listener(adminLn))
		attrs = append(attrs, "admin", "http://"+adminLn.Addr().String(), "admin_actions", cfg.AdminToken != "")
	}
	log.Info("vitals demo running", attrs...)

	// Workloads run until the drain is over.
	loadCtx, stopLoad := context.WithCancel(context.Background())
	defer stopLoad()
	var loads sync.WaitGroup
	workloads := map[string]func(context.Context) error{"database": db.Run, "cache": cache.Run}
	if cfg.Rate > 0 {
		workloads["http"] = (&loadGen{base: base, client: &http.Client{Timeout: 10 * time.Second}, workers: 16, rate: cfg.Rate}).run
	}
	for name, run := range workloads {
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

	drainer := &health.Drainer{Engine: hl, Servers: servers, Delay: cfg.DrainDelay, Timeout: ShutdownTimeout, Logger: log}
	drainDone := make(chan error, 1)
	go func() { drainDone <- drainer.Drain(context.Background()) }()
	<-drainDone // servers are shut down; in-flight handlers have been cut after the timeout
	cancelBase()
	serving.Wait()
	hub.Close()
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
