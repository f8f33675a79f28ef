package histstore_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/storage"

	"github.com/bizra/vitals"
	"github.com/bizra/vitals/alerting/histstore"
	"github.com/bizra/vitals/alerting/store"
	"github.com/bizra/vitals/history"
)

// The ring keeps the last 10 minutes here; history keeps the rest. An
// hour of 5-s ticks at 4 operations a second for the first half hour, then
// 1: a rate 40 minutes back is read from history, the current one from
// the ring, through one Queryable.
func ExampleNew() {
	dir, err := os.MkdirTemp("", "vitals-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)

	clk := vitals.NewManualClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	quiet := slog.New(slog.DiscardHandler)
	m := vitals.New(&vitals.Options{Clock: clk, Logger: quiet})
	defer m.Stop()
	hist, err := history.Open(m, &history.Options{Dir: dir, Logger: quiet})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer hist.Close()
	ring := store.New(m, &store.Options{Retention: 10 * time.Minute, Labels: map[string]string{"job": "shop"}})
	defer ring.Close()

	op := m.Operation("GET /cart")
	for tick := range 720 {
		n := 20
		if tick >= 360 {
			n = 5
		}
		for range n {
			op.Observe(20*time.Millisecond, nil)
		}
		clk.Advance(5 * time.Second)
		m.Collect()
	}

	engine := promql.NewEngine(promql.EngineOpts{MaxSamples: 1e6, Timeout: time.Minute, LookbackDelta: 5 * time.Minute})
	for _, expr := range []string{
		`sum(rate(vitals_operations_started_total[10m] offset 40m))`,
		`sum(rate(vitals_operations_started_total[5m]))`,
	} {
		for _, src := range []struct {
			name string
			q    storage.Queryable
		}{{"ring alone", ring}, {"ring and history", histstore.New(ring, hist)}} {
			fmt.Printf("%s, %s: %s\n", expr, src.name, instant(engine, src.q, expr, clk.Now()))
		}
	}
	// Output:
	// sum(rate(vitals_operations_started_total[10m] offset 40m)), ring alone: no data
	// sum(rate(vitals_operations_started_total[10m] offset 40m)), ring and history: 4
	// sum(rate(vitals_operations_started_total[5m])), ring alone: 1
	// sum(rate(vitals_operations_started_total[5m])), ring and history: 1
}

// instant evaluates expr at t and prints its one value, or "no data".
func instant(engine *promql.Engine, q storage.Queryable, expr string, t time.Time) string {
	qry, err := engine.NewInstantQuery(context.Background(), q, nil, expr, t)
	if err != nil {
		return err.Error()
	}
	defer qry.Close()
	vec, err := qry.Exec(context.Background()).Vector()
	switch {
	case err != nil:
		return err.Error()
	case len(vec) == 0:
		return "no data"
	}
	return fmt.Sprintf("%.3g", vec[0].F)
}
