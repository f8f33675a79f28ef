// Command vitals runs the vitals demo and other tools.
//
//	vitals demo [flags]   run the example service under its own load
//	vitals top URL        a live terminal view of a running service
//	vitals help           explain commands and flags
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/bizra/vitals/cmd/vitals/internal/demo"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

const usage = `vitals: real-time performance monitoring for Go services.

Usage:
  vitals demo [flags]   run an example shop instrumented with vitals, under its
                        own mixed load, serving /metrics and the JSON APIs
  vitals loadtest stream [flags] URL
                        open many stream clients against a running service
                        and report delivery lag, frames and server cost
  vitals top URL        a live terminal view of a running service's stream:
                        operations, pools, caches, breakers, alerts
  vitals help           show this help

Stop the demo with Ctrl-C (SIGINT) or SIGTERM: it drains and releases its
data directory. Under "go run", send the signal to the demo process itself
(Ctrl-C in the terminal does): a SIGTERM to "go run" alone leaves it running.

Secrets are read from the environment only, so they never show in ps or in
this help:
  VITALS_ADMIN_TOKEN     bearer token for the admin listener (16 bytes or more)
  VITALS_METRICS_TOKEN   bearer token /metrics requires (default: none)
  VITALS_API_TOKEN       bearer token the JSON APIs and the live stream
                         (/stream, /events) require on the public listener
                         (default: none); the admin listener serves the APIs
                         too, behind VITALS_ADMIN_TOKEN
  VITALS_POSTGRES        a PostgreSQL URL with its password; libpq's
                         PGPASSWORD and ~/.pgpass (PGPASSFILE) work as well
  VITALS_REDIS_PASSWORD  the Redis password (AUTH), with --redis or VITALS_REDIS

Flags of demo (each falls back to the environment variable named when not
given):
`

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		printDemoFlags(stderr)
		return 2
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		printDemoFlags(stdout)
		fmt.Fprint(stdout, rulesUsage)
		fmt.Fprint(stdout, loadtestUsage)
		printLoadtestFlags(stdout)
		printTopUsage(stdout)
		return 0
	case "demo":
		return runDemo(args[1:], stderr)
	case "rules":
		return runRules(args[1:], stdout, stderr)
	case "dashboard":
		return runDashboard(args[1:], stdout, stderr)
	case "loadtest":
		return runLoadtest(args[1:], stdout, stderr)
	case "top":
		return runTop(args[1:], stdout, stderr)
	default:
		fmt.Fprintf(stderr, "vitals: unknown command %q\n\n", args[0])
		fmt.Fprint(stderr, usage)
		printDemoFlags(stderr)
		return 2
	}
}

type demoConfig struct {
	demo.Config
	logFormat string
	logLevel  string
}

// demoFlags declares the demo's flags with their built-in defaults only:
// the environment is read after parsing (applyEnv), so a secret in it can
// never appear in help or in a usage error.
func demoFlags(out io.Writer) (*flag.FlagSet, *demoConfig) {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(out)
	c := &demoConfig{}
	fs.StringVar(&c.Addr, "addr", demo.DefaultAddr,
		"listen address for the service, /metrics and the APIs (VITALS_ADDR); use :9911 to listen on all interfaces")
	fs.StringVar(&c.DataDir, "data", demo.DefaultDataDir,
		"directory for state kept across restarts, such as history; created 0700, and refused when another user owns it or others can write to it (VITALS_DATA)")
	fs.BoolVar(&c.AllowInsecureDataDir, "allow-insecure-data-dir", false,
		"use a data directory another user owns or others can write to, with a warning (VITALS_ALLOW_INSECURE_DATA_DIR)")
	fs.DurationVar(&c.Duration, "duration", 0,
		"how long to run, e.g. 90s or 2h; 0 runs until interrupted (VITALS_DURATION)")
	fs.Float64Var(&c.Rate, "rate", demo.DefaultRate,
		"requests per second the built-in load generator sends; 0 sends none (VITALS_RATE)")
	fs.StringVar(&c.Postgres, "postgres", "",
		"PostgreSQL URL for the database workload, e.g. postgres://user@127.0.0.1:5432/db; empty uses SQLite in the data directory. Put no password here: argv is visible to every user (VITALS_POSTGRES, PGPASSWORD, ~/.pgpass)")
	fs.StringVar(&c.Redis, "redis", "",
		"Redis for the L2 cache: host:port or a redis:// or rediss:// URL such as redis://user@127.0.0.1:6379/0; empty uses an embedded compressed cache. The password comes from VITALS_REDIS_PASSWORD (VITALS_REDIS)")
	fs.StringVar(&c.AdminAddr, "admin-addr", demo.DefaultAdminAddr,
		"admin listener for POST /admin/saturate and /admin/outage and the JSON APIs; empty for none (VITALS_ADMIN_ADDR)")
	fs.IntVar(&c.MaxConns, "max-conns", demo.DefaultMaxConns,
		"most open connections on the service listener; past it idle ones are closed first, then new ones refused (VITALS_MAX_CONNS)")
	fs.IntVar(&c.AdminMaxConns, "admin-max-conns", demo.DefaultAdminMaxConns,
		"most open connections on the admin listener (VITALS_ADMIN_MAX_CONNS)")
	fs.DurationVar(&c.SaturateEvery, "saturate-every", 0,
		"start a database-pool saturation episode this often, e.g. 2m, to watch readiness turn not-ready and recover; 0 for never (VITALS_SATURATE_EVERY)")
	fs.DurationVar(&c.SaturateFor, "saturate-for", demo.DefaultSaturateFor,
		"length of each scheduled saturation episode (VITALS_SATURATE_FOR)")
	fs.DurationVar(&c.DrainDelay, "drain-delay", demo.DefaultDrainDelay,
		"on SIGTERM or Ctrl-C, how long readiness fails while the servers keep serving; 0 stops at once (VITALS_DRAIN_DELAY)")
	fs.Func("history-on-corrupt", "what to do with a damaged history file: fail (the default: leave it untouched and exit saying what to do) or move-aside (rename it with a timestamp and start a fresh history)",
		func(s string) (err error) { c.HistoryOnCorrupt, err = demo.ParseHistoryOnCorrupt(s); return err })
	fs.StringVar(&c.Alertmanager, "alertmanager", "", "deliver the in-process alerts to this Alertmanager (its v2 API), e.g. http://127.0.0.1:9093; empty for none")
	fs.Func("stream-origins", "comma-separated host patterns of pages on other origins allowed to open the live stream, e.g. dash.example.com,*.example.com; by default only the demo's own pages (VITALS_STREAM_ORIGINS)",
		func(s string) error { c.StreamOrigins = splitList(s); return nil })
	c.Push.RegisterFlags(fs)
	fs.StringVar(&c.logFormat, "log-format", "text", "log format: text or json (VITALS_LOG_FORMAT)")
	fs.StringVar(&c.logLevel, "log-level", "info", "log level: debug, info, warn or error (VITALS_LOG_LEVEL)")
	return fs, c
}

// demoEnv lists the environment fallback of each flag. Secret ones are
// never echoed, not even in an error about their value.
var demoEnv = []envBinding{
	{"addr", "VITALS_ADDR", false},
	{"data", "VITALS_DATA", false},
	{"allow-insecure-data-dir", "VITALS_ALLOW_INSECURE_DATA_DIR", false},
	{"duration", "VITALS_DURATION", false},
	{"rate", "VITALS_RATE", false},
	{"postgres", "VITALS_POSTGRES", true},
	{"redis", "VITALS_REDIS", true},
	{"admin-addr", "VITALS_ADMIN_ADDR", false},
	{"max-conns", "VITALS_MAX_CONNS", false},
	{"admin-max-conns", "VITALS_ADMIN_MAX_CONNS", false},
	{"saturate-every", "VITALS_SATURATE_EVERY", false},
	{"saturate-for", "VITALS_SATURATE_FOR", false},
	{"drain-delay", "VITALS_DRAIN_DELAY", false},
	{"stream-origins", "VITALS_STREAM_ORIGINS", false},
	{"log-format", "VITALS_LOG_FORMAT", false},
	{"log-level", "VITALS_LOG_LEVEL", false},
}

func printDemoFlags(w io.Writer) {
	fs, _ := demoFlags(w)
	fs.PrintDefaults()
}

func runDemo(args []string, stderr io.Writer) int {
	fs, c := demoFlags(stderr)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "vitals demo: unexpected arguments %q\n", fs.Args())
		return 2
	}
	given, err := applyEnv(fs, demoEnv, os.LookupEnv)
	if err != nil {
		fmt.Fprintln(stderr, "vitals demo:", err)
		return 2
	}
	// Environment only: a flag would show in ps and /proc/PID/cmdline.
	c.AdminToken = os.Getenv("VITALS_ADMIN_TOKEN")
	c.MetricsToken = os.Getenv("VITALS_METRICS_TOKEN")
	c.APIToken = os.Getenv("VITALS_API_TOKEN")
	c.RedisPassword = os.Getenv("VITALS_REDIS_PASSWORD")
	log, err := newLogger(stderr, c.logFormat, c.logLevel)
	if err != nil {
		fmt.Fprintln(stderr, "vitals demo:", err)
		return 2
	}
	c.Logger = log
	warnPasswordFlags(log, fs, given)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		// After the first signal the demo drains; a second one ends it at once.
		<-ctx.Done()
		stop()
	}()
	if err := demo.Run(ctx, c.Config); err != nil {
		log.Error("vitals demo failed", "err", err)
		return 1
	}
	return 0
}

func newLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("bad log level %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("bad log format %q: want text or json", format)
}
