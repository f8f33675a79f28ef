package health

import (
	"bytes"
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/bizra/vitals"
	"github.com/bizra/vitals/score"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func quiet() *slog.Logger { return slog.New(slog.DiscardHandler) }

// logBuffer is a concurrency-safe log sink for asserting on log lines.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// fixture is an Engine on a ManualClock, not started: tests drive it
// with RunChecks and clk.Advance.
type fixture struct {
	clk *vitals.ManualClock
	m   *vitals.Monitor
	e   *Engine
}

func newFixture(t testing.TB, o *Options) *fixture {
	t.Helper()
	clk := vitals.NewManualClock(t0)
	m := vitals.New(&vitals.Options{Clock: clk, Logger: quiet()})
	var opts Options
	if o != nil {
		opts = *o
	}
	if opts.Logger == nil {
		opts.Logger = quiet()
	}
	e := New(m, &opts)
	t.Cleanup(e.Stop)
	return &fixture{clk: clk, m: m, e: e}
}

// step advances the clock, ticks the collector (so liveness stays
// fresh) and runs every check once.
func (f *fixture) step(d time.Duration) {
	f.clk.Advance(d)
	f.m.Collect()
	f.e.RunChecks(context.Background())
}

// switchable is a check whose result the test sets.
type switchable struct {
	mu sync.Mutex
	r  Result
}

func (s *switchable) set(st score.Status, out string) {
	s.mu.Lock()
	s.r = Result{Status: st, Output: out}
	s.mu.Unlock()
}

func (s *switchable) check(context.Context) Result {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.r
}

func ready(t *testing.T, e *Engine) score.Status {
	t.Helper()
	return e.Status(Readiness).Status
}

func newTextLogger(w *logBuffer) *slog.Logger { return slog.New(slog.NewTextHandler(w, nil)) }
