package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/bizra/vitals/cmd/vitals/internal/top"
)

const topUsage = `
vitals top [flags] URL
  A live view of a running service's stream (WebSocket /stream, falling back
  to SSE /events): operations by rate with p50/p99 and errors, database
  pools, cache tiers, circuit breakers and firing alerts, redrawn in place.
  URL is the service's address, e.g. http://127.0.0.1:9911.
  Keys: r p e n sort by rate, p99, errors, name (again: reverse); s next
  sort; / type a filter (Enter keeps it, Esc clears it); q or Ctrl-C quit.
  VITALS_TOKEN  bearer token the stream requires (never shown)
Flags of top:
`

func topFlags(out io.Writer) (*flag.FlagSet, *top.Config) {
	fs := flag.NewFlagSet("top", flag.ContinueOnError)
	fs.SetOutput(out)
	c := &top.Config{}
	fs.DurationVar(&c.Interval, "interval", 0, "time between updates, 100ms or more (default 1s)")
	fs.StringVar(&c.Transport, "transport", top.TransportAuto, "auto (WebSocket, then SSE), ws or sse")
	fs.StringVar(&c.Token, "token", "", "bearer token; prefer VITALS_TOKEN: every local user can read the command line")
	fs.BoolVar(&c.Once, "once", false, "print one screen as plain text once rates are known, and exit (for pipes and scripts)")
	fs.IntVar(&c.Width, "width", 0, "with --once: the width in columns (default 80)")
	return fs, c
}

func printTopUsage(w io.Writer) {
	fmt.Fprint(w, topUsage)
	fs, _ := topFlags(w)
	fs.PrintDefaults()
}

func runTop(args []string, stdout, stderr io.Writer) int {
	fs, c := topFlags(stderr)
	fs.Usage = func() { printTopUsage(stderr) }
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		// Flags may follow the URL too.
		c.URL = fs.Arg(0)
		if err := fs.Parse(fs.Args()[1:]); err != nil {
			return 2
		}
	}
	if c.URL == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "vitals top: give one URL, the service's, e.g. vitals top http://127.0.0.1:9911")
		return 2
	}
	tokenFlag := c.Token != ""
	if !tokenFlag {
		c.Token = os.Getenv("VITALS_TOKEN")
	}
	c.Out = stdout
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	err := top.Run(ctx, *c)
	if tokenFlag {
		// After the screen is restored, so it stays in view.
		fmt.Fprintln(stderr, "vitals top: warning: --token is visible to every local user in the process list; set VITALS_TOKEN instead")
	}
	if err != nil {
		fmt.Fprintln(stderr, "vitals top:", err)
		return 1
	}
	return 0
}
