package vitals_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/bizra/vitals"
	"github.com/bizra/vitals/metric"
)

func ExampleMonitor_Operation() {
	clock := vitals.NewManualClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	m := vitals.New(&vitals.Options{Clock: clock})
	get := m.Operation("store.get") // look up once, keep the handle

	m.Collect()
	for i := 1; i <= 100; i++ {
		var err error
		if i%20 == 0 {
			err = errors.New("not found")
		}
		get.Observe(time.Duration(i)*time.Millisecond, err) // or: defer get.Start().End(&err)
	}
	clock.Advance(time.Second)
	m.Collect()

	st, _ := m.OperationStats("store.get")
	fmt.Printf("count=%d errors=%d rate=%.0f/s error_ratio=%.2f\n", st.Count, st.Errors, st.Rate, st.ErrorRatio)
	fmt.Println("p50", st.P50.Round(time.Millisecond), "p99", st.P99.Round(time.Millisecond))
	// Output:
	// count=100 errors=5 rate=100/s error_ratio=0.05
	// p50 50ms p99 99ms
}

func ExampleMonitor_Subscribe() {
	m := vitals.New(&vitals.Options{Interval: 10 * time.Millisecond})
	sub := m.Subscribe() // holds the latest snapshot; never slows the collector
	m.Start()
	s := <-sub.C()
	fmt.Println(s.Seq >= 1, len(s.Points) > 0)
	m.Stop() // closes every subscription
	// Output: true true
}

func ExampleMonitor_AddConsumer() {
	m := vitals.New(nil)
	jobs := m.Registry().Counter(metric.Opts{Name: "app_jobs_total", Help: "Jobs processed."})
	m.AddConsumer(vitals.ConsumerFunc(func(s *vitals.Snapshot) {
		if p, ok := s.Lookup("app_jobs_total"); ok {
			fmt.Println("tick", s.Seq, "jobs", p.Value)
		}
	}))
	jobs.Add(3)
	m.Collect()
	jobs.Inc()
	m.Collect()
	// Output:
	// tick 1 jobs 3
	// tick 2 jobs 4
}

func ExampleMonitor_MaxOperations() {
	m := vitals.New(&vitals.Options{MaxOperations: 50})
	fmt.Println(m.MaxOperations(), vitals.New(nil).MaxOperations())
	// Output: 50 500
}
