package history

import (
	"log/slog"
	"os"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/bizra/vitals"
	"github.com/bizra/vitals/metric"
)

func TestMain(m *testing.M) {
	if os.Getenv(crashChildEnv) != "" {
		crashChild() // the child process of TestCrashSafety
		return
	}
	goleak.VerifyTestMain(m)
}

func quiet() *slog.Logger { return slog.New(slog.DiscardHandler) }

var t0 = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

// rig is a Monitor on a manual clock with one series of each kind.
type rig struct {
	clk  *vitals.ManualClock
	mon  *vitals.Monitor
	reqs *metric.Counter
	temp *metric.Gauge
	lat  *metric.Histogram
}

func newRig(start time.Time) *rig {
	clk := vitals.NewManualClock(start)
	mon := vitals.New(&vitals.Options{Clock: clk, Logger: quiet()})
	r := mon.Registry()
	return &rig{
		clk:  clk,
		mon:  mon,
		reqs: r.Counter(metric.Opts{Name: "test_requests_total", Help: "Requests."}),
		temp: r.Gauge(metric.Opts{Name: "test_temperature_celsius", Help: "Temperature.", Unit: "celsius"}),
		lat:  r.Histogram(metric.Opts{Name: "test_latency_seconds", Help: "Latency.", Unit: "seconds"}),
	}
}

// tick moves the clock by d, records one request of latency v, sets the
// gauge to g and collects.
func (r *rig) tick(d time.Duration, v float64, g int64) *vitals.Snapshot {
	r.clk.Advance(d)
	r.reqs.Inc()
	r.lat.Observe(v)
	r.temp.Set(g)
	return r.mon.Collect()
}

func openStore(t testing.TB, m *vitals.Monitor, dir string, mod func(*Options)) *Store {
	t.Helper()
	// Tests make minutes far faster than a disk takes them: let them all
	// wait rather than be dropped (TestDiskFull tests dropping).
	o := &Options{Dir: dir, Logger: quiet(), NoSync: true, MaxPending: 1 << 20}
	if mod != nil {
		mod(o)
	}
	st, err := Open(m, o)
	if err != nil {
		t.Fatal(err)
	}
	return st
}
