package dbpool_test

import (
	"context"
	"fmt"
	"time"

	"github.com/bizra/vitals"
	"github.com/bizra/vitals/dbpool"
)

func Example() {
	clk := vitals.NewManualClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	m := vitals.New(&vitals.Options{Clock: clk}) // m.Start() in a real program
	p := dbpool.New(m, "orders", &dbpool.Options{Driver: "custom"})
	get := p.Op("order.get")

	acquire := func(ctx context.Context) error { return ctx.Err() } // stands in for a real pool
	for i := range 4 {
		ctx, cancel := context.WithCancel(context.Background())
		if i == 3 {
			cancel() // a caller that gave up
		}
		a := p.BeginAcquire()
		err := acquire(ctx)
		a.End(err)
		cancel()
		if err != nil {
			continue
		}
		q := get.Start()
		q.End(nil)
	}
	m.Collect()
	clk.Advance(time.Second)
	m.Collect()

	st := p.Stats()
	fmt.Println("acquired:", st.AcquiresOK, "canceled:", st.AcquiresCanceled, "queries:", st.Queries)
	fmt.Println("score:", st.Score.Value, st.Score.Status)
	for _, f := range st.Score.Factors {
		fmt.Printf("  %s target %g limit %g weight %g\n", f.Name, f.Target, f.Limit, f.Weight)
	}
	// Output:
	// acquired: 3 canceled: 1 queries: 3
	// score: 100 pass
	//   utilization target 0.75 limit 1 weight 1
	//   queue_depth target 0.1 limit 10 weight 2
	//   wait_p99 target 0.01 limit 0.25 weight 2
	//   error_rate target 0.001 limit 0.05 weight 2
}
