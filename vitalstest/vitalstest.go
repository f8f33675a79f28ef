package vitalstest

import (
	"bytes"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bizra/vitals"
	"github.com/bizra/vitals/exposition"
	"github.com/bizra/vitals/metric"
)

// Epoch is the time NewMonitor's clock starts at: a fixed moment, so
// tests that print times are repeatable.
var Epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// NewMonitor returns a Monitor with a manual clock at Epoch and a logger
// that discards, stopped when the test ends. It is never started: call
// Tick (or m.Collect) to run a collector tick.
func NewMonitor(t testing.TB) (*vitals.Monitor, *vitals.ManualClock) {
	t.Helper()
	clk := vitals.NewManualClock(Epoch)
	m := vitals.New(&vitals.Options{Clock: clk, Logger: slog.New(slog.DiscardHandler)})
	t.Cleanup(m.Stop)
	return m, clk
}

// Tick advances the clock by d and runs one collector tick, returning its
// snapshot.
func Tick(m *vitals.Monitor, clk *vitals.ManualClock, d time.Duration) *vitals.Snapshot {
	clk.Advance(d)
	return m.Collect()
}

// Series returns the series of the named family with exactly these label
// values, failing the test when there is none.
func Series(t testing.TB, reg *metric.Registry, name string, labelValues ...string) *metric.Series {
	t.Helper()
	f := reg.Family(name)
	if f == nil {
		t.Fatalf("vitalstest: no metric named %q in the registry", name)
		return nil
	}
	s := f.Find(labelValues...)
	if s == nil {
		t.Fatalf("vitalstest: %s has no series with label values %q (labels %q)", name, labelValues, f.Labels)
	}
	return s
}

// Value returns a counter's or gauge's current value (a callback series
// is called). It fails the test for a histogram: use Histogram.
func Value(t testing.TB, reg *metric.Registry, name string, labelValues ...string) float64 {
	t.Helper()
	s := Series(t, reg, name, labelValues...)
	if s == nil {
		return 0
	}
	if s.Histogram != nil {
		t.Fatalf("vitalstest: %s is a histogram: use Histogram", name)
	}
	return s.Value()
}

// Histogram returns a histogram series' state: count, sum, buckets and
// quantiles (HistogramValue.Quantile).
func Histogram(t testing.TB, reg *metric.Registry, name string, labelValues ...string) metric.HistogramValue {
	t.Helper()
	s := Series(t, reg, name, labelValues...)
	var v metric.HistogramValue
	if s == nil {
		return v
	}
	if s.Histogram == nil {
		t.Fatalf("vitalstest: %s is not a histogram: use Value", name)
		return v
	}
	s.Histogram.Read(&v)
	return v
}

// CompareText renders the named families of reg in the Prometheus text
// format and compares them with expected, line by line after trimming
// surrounding blank space and indentation (so expected can be an indented
// raw string). It returns nil when they match, and otherwise an error that
// shows both. With no names, every family is compared.
func CompareText(reg *metric.Registry, expected string, names ...string) error {
	var buf bytes.Buffer
	filter := func(string) bool { return true }
	if len(names) > 0 {
		filter = func(n string) bool { return slices.Contains(names, n) }
	}
	if err := exposition.WriteText(&buf, reg, filter); err != nil {
		return fmt.Errorf("vitalstest: rendering the registry: %w", err)
	}
	got, want := normalize(buf.String()), normalize(expected)
	if got == want {
		return nil
	}
	return fmt.Errorf("vitalstest: exposition differs\n--- got\n%s\n--- want\n%s", got, want)
}

func normalize(s string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
