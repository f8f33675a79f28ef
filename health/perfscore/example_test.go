package perfscore_test

import (
	"fmt"
	"time"

	"github.com/bizra/vitals"
	"github.com/bizra/vitals/health/perfscore"
)

var start = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func ExampleNewSLOScorer() {
	clk := vitals.NewManualClock(start)
	m := vitals.New(&vitals.Options{Clock: clk})
	get := m.Operation("store.get")
	m.Collect()
	for range 50 {
		get.Observe(900*time.Millisecond, nil)
	}
	clk.Advance(time.Second)
	m.Collect()

	s := perfscore.NewSLOScorer(m, &perfscore.SLOOptions{Default: perfscore.Objective{P99: 300 * time.Millisecond}}).Score()
	fmt.Println(s.Value, s.Status)
	fmt.Println(s.Recommendations[0])
	// Output:
	// 66.7 warn
	// store.get p99 is 900 ms against a 300 ms target: find its slowest step (pool wait, cache misses, a slow dependency), or raise the objective if this is expected
}
