package store_test

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/prometheus/promql"

	"github.com/bizra/vitals"
	"github.com/bizra/vitals/alerting/store"
)

// A Store keeps a Monitor's samples for Prometheus' own engine: here a
// minute of 5-s ticks, 10 operations a tick, read back as a rate.
func ExampleNew() {
	clk := vitals.NewManualClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	m := vitals.New(&vitals.Options{Clock: clk, Logger: slog.New(slog.DiscardHandler)})
	defer m.Stop()
	st := store.New(m, &store.Options{Labels: map[string]string{"job": "shop", "instance": "host:9911"}})
	defer st.Close()

	op := m.Operation("GET /cart")
	for range 13 {
		for range 10 {
			op.Observe(20*time.Millisecond, nil)
		}
		clk.Advance(5 * time.Second)
		m.Collect()
	}

	engine := promql.NewEngine(promql.EngineOpts{MaxSamples: 1e6, Timeout: time.Minute, LookbackDelta: 5 * time.Minute})
	q, err := engine.NewInstantQuery(context.Background(), st, nil,
		`sum by (job, instance, operation) (rate(vitals_operations_started_total[1m]))`, clk.Now())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer q.Close()
	vec, err := q.Exec(context.Background()).Vector()
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, s := range vec {
		fmt.Println(s.Metric, s.F)
	}
	// Output: {instance="host:9911", job="shop", operation="GET /cart"} 2
}
