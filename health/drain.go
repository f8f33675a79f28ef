package health

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"
)

// Drainer shuts HTTP servers down the way Kubernetes expects: when the
// pod is told to stop (SIGTERM), readiness fails first, the servers keep
// serving for Delay while endpoints and load balancers stop routing to
// the pod, and only then do they shut down, waiting up to Timeout for
// requests in progress. Liveness keeps passing throughout, so the pod is
// not killed early.
//
// Give the pod a terminationGracePeriodSeconds above Delay + Timeout.
//
// Fields are read when Run or Drain is called; the zero values of Delay,
// Timeout, Signals and Logger take the defaults written on each.
type Drainer struct {
	// Engine's readiness fails when draining starts. Optional.
	Engine *Engine
	// Servers are shut down after Delay, concurrently.
	Servers []*http.Server
	// Delay is how long the servers keep serving after readiness fails.
	// 0: 5 s. A negative Delay means none.
	Delay time.Duration
	// Timeout bounds each server's graceful Shutdown; past it, remaining
	// connections are closed. 0: 10 s.
	Timeout time.Duration
	// Signals start the drain. nil: SIGTERM and os.Interrupt.
	Signals []os.Signal
	// Logger receives the drain's progress. nil: slog.Default().
	Logger *slog.Logger

	// wait waits d or until ctx is done; tests replace it.
	wait func(ctx context.Context, d time.Duration)
}

// Run waits for one of Signals (or for ctx to be done) and then drains.
// After the first signal, signal handling returns to the default, so a
// second SIGTERM or Ctrl-C ends the process at once. Run returns Drain's
// error.
func (d *Drainer) Run(ctx context.Context) error {
	sigs := d.Signals
	if len(sigs) == 0 {
		sigs = []os.Signal{syscall.SIGTERM, os.Interrupt}
	}
	sctx, stop := signal.NotifyContext(ctx, sigs...)
	<-sctx.Done()
	stop()
	// The drain itself must not be cut short by the ctx that started it.
	return d.Drain(context.WithoutCancel(ctx))
}

// Drain fails readiness, keeps serving for Delay (less if ctx is done
// first), then shuts the servers down within Timeout each. It returns the
// servers' shutdown errors, joined.
func (d *Drainer) Drain(ctx context.Context) error {
	log := d.Logger
	if log == nil {
		log = slog.Default()
	}
	delay, timeout := d.Delay, d.Timeout
	if delay == 0 {
		delay = 5 * time.Second
	}
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	if d.Engine != nil {
		d.Engine.Drain()
	}
	if delay > 0 {
		log.Info("health: draining: readiness fails, still serving", "delay", delay.String())
		wait := d.wait
		if wait == nil {
			wait = sleepCtx
		}
		wait(ctx, delay)
	}
	log.Info("health: shutting servers down", "servers", len(d.Servers), "timeout", timeout.String())
	errs := make([]error, len(d.Servers))
	var wg sync.WaitGroup
	for i, srv := range d.Servers {
		wg.Go(func() {
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
			defer cancel()
			if err := srv.Shutdown(sctx); err != nil {
				// Requests still running past the timeout: cut them.
				_ = srv.Close()
				errs[i] = errors.New("health: server " + srv.Addr + ": shutdown: " + err.Error())
			}
		})
	}
	wg.Wait()
	err := errors.Join(errs...)
	if err != nil {
		log.Warn("health: shutdown incomplete", "error", err.Error())
	}
	return err
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
