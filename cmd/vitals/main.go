// Command vitals runs the vitals demo and other tools.
//
//	vitals demo [flags]   run the example service under its own load
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
	"time"

	"github.com/bizra/vitals/cmd/vitals/internal/demo"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

const usage = `vitals: real-time performance monitoring for Go services.

Usage:
  vitals demo [flags]   run an example shop instrumented with vitals, under its
                        own mixed load, serving /metrics and the JSON APIs
  vitals help           show this help

Flags of demo (each falls back to the environment variable named). Admin
actions need a bearer token, read from VITALS_ADMIN_TOKEN only:
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
		return 0
	case "demo":
		return runDemo(args[1:], stderr)
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

func demoFlags(out io.Writer) (*flag.FlagSet, *demoConfig) {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(out)
	c := &demoConfig{}
	fs.StringVar(&c.Addr, "addr", envOr("VITALS_ADDR", demo.DefaultAddr),
		"listen address for the service, /metrics and the APIs (VITALS_ADDR); use :9911 to listen on all interfaces")
	fs.StringVar(&c.DataDir, "data", envOr("VITALS_DATA", demo.DefaultDataDir),
		"directory for state kept across restarts, such as history (VITALS_DATA)")
	fs.DurationVar(&c.Duration, "duration", envDuration("VITALS_DURATION", 0),
		"how long to run, e.g. 90s or 2h; 0 runs until interrupted (VITALS_DURATION)")
	fs.Float64Var(&c.Rate, "rate", envFloat("VITALS_RATE", demo.DefaultRate),
		"requests per second the built-in load generator sends (VITALS_RATE)")
	fs.StringVar(&c.Postgres, "postgres", envOr("VITALS_POSTGRES", ""),
		"PostgreSQL URL for the database workload, e.g. postgres://user@127.0.0.1:5432/db; empty uses SQLite in the data directory (VITALS_POSTGRES)")
	fs.StringVar(&c.Redis, "redis", envOr("VITALS_REDIS", ""),
		"Redis address for the L2 cache, e.g. 127.0.0.1:6379; empty uses an embedded compressed cache (VITALS_REDIS)")
	fs.StringVar(&c.AdminAddr, "admin-addr", envOr("VITALS_ADMIN_ADDR", demo.DefaultAdminAddr),
		"admin listener for POST /admin/saturate and /admin/outage; empty for none (VITALS_ADMIN_ADDR)")
	c.AdminToken = os.Getenv("VITALS_ADMIN_TOKEN") // environment only: a flag would show in ps
	fs.DurationVar(&c.SaturateEvery, "saturate-every", envDuration("VITALS_SATURATE_EVERY", 0),
		"start a database-pool saturation episode this often, e.g. 2m, to watch readiness turn not-ready and recover; 0 for never (VITALS_SATURATE_EVERY)")
	fs.DurationVar(&c.SaturateFor, "saturate-for", envDuration("VITALS_SATURATE_FOR", demo.DefaultSaturateFor),
		"length of each scheduled saturation episode (VITALS_SATURATE_FOR)")
	fs.DurationVar(&c.DrainDelay, "drain-delay", envDuration("VITALS_DRAIN_DELAY", demo.DefaultDrainDelay),
		"on SIGTERM or Ctrl-C, how long readiness fails while the servers keep serving (VITALS_DRAIN_DELAY)")
	fs.StringVar(&c.logFormat, "log-format", envOr("VITALS_LOG_FORMAT", "text"), "log format: text or json (VITALS_LOG_FORMAT)")
	fs.StringVar(&c.logLevel, "log-level", envOr("VITALS_LOG_LEVEL", "info"), "log level: debug, info, warn or error (VITALS_LOG_LEVEL)")
	return fs, c
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
	log, err := newLogger(stderr, c.logFormat, c.logLevel)
	if err != nil {
		fmt.Fprintln(stderr, "vitals demo:", err)
		return 2
	}
	c.Logger = log
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

func envOr(key, def string) string {
	if v, ok := os.LookupEnv(key); ok && v != "" {
		return v
	}
	return def
}

func envDuration(key string, def time.Duration) time.Duration {
	if v := os.Getenv(key); v != "" {
		if d, err := time.ParseDuration(v); err == nil {
			return d
		}
		fmt.Fprintf(os.Stderr, "vitals: ignoring %s=%q: not a duration\n", key, v)
	}
	return def
}

func envFloat(key string, def float64) float64 {
	if v := os.Getenv(key); v != "" {
		var f float64
		if _, err := fmt.Sscan(v, &f); err == nil {
			return f
		}
		fmt.Fprintf(os.Stderr, "vitals: ignoring %s=%q: not a number\n", key, v)
	}
	return def
}
