package delta_test

import (
	"fmt"
	"time"

	"github.com/bizra/vitals"
	"github.com/bizra/vitals/metric"
	"github.com/bizra/vitals/window/delta"
)

func ExampleTracker() {
	clk := vitals.NewManualClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	m := vitals.New(&vitals.Options{Clock: clk})
	jobs := m.Registry().Counter(metric.Opts{Name: "jobs_total", Help: "Jobs."})
	lat := m.Registry().Histogram(metric.Opts{Name: "job_duration_seconds", Help: "Job time.", Unit: "seconds"})

	var tr delta.Tracker[int] // the int counts ticks per series
	for i := 1; i <= 3; i++ {
		clk.Advance(time.Second)
		jobs.Add(uint64(10 * i))
		lat.Observe(0.25)
		tr.Update(m.Collect(), func(c *delta.Change, ticks *int) {
			*ticks++
			switch c.Point.Name() {
			case "jobs_total":
				fmt.Printf("tick %d: jobs +%v (total %v)\n", *ticks, c.Increase, c.Value)
			case "job_duration_seconds":
				fmt.Printf("tick %d: %d jobs timed\n", *ticks, c.Hist.Count)
			}
		}, nil)
	}
	// Output:
	// tick 1: jobs +10 (total 10)
	// tick 1: 1 jobs timed
	// tick 2: jobs +20 (total 30)
	// tick 2: 1 jobs timed
	// tick 3: jobs +30 (total 60)
	// tick 3: 1 jobs timed
}
