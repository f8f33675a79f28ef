package breaker_test

import (
	"fmt"
	"time"

	"github.com/bizra/vitals"
	"github.com/bizra/vitals/breaker"
)

func Example() {
	clk := vitals.NewManualClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	m := vitals.New(&vitals.Options{Clock: clk}) // m.Start() in a real program
	b := breaker.New(m, "payments", &breaker.Options{
		MinCalls: 4,
		OnEvent: func(e breaker.Event) {
			if e.Kind == breaker.EventTransition {
				fmt.Println("event:", e.From, "->", e.To)
				return
			}
			fmt.Printf("event: %s %.2f >= %.2f\n", e.Kind, e.Observed, e.Threshold)
		},
	})

	for range 5 {
		b.Record(breaker.Failure, 30*time.Millisecond)
	}
	b.Transition(breaker.Closed, breaker.Open)
	clk.Advance(200 * time.Millisecond) // open for less than any scrape interval
	b.Reject()
	b.Transition(breaker.Open, breaker.HalfOpen)
	b.Record(breaker.Success, 10*time.Millisecond)
	b.Transition(breaker.HalfOpen, breaker.Closed)
	m.Collect()

	st := b.Stats()
	fmt.Println("state:", st.State, "opened:", st.Transitions[breaker.Closed][breaker.Open], "time open:", st.TimeIn[breaker.Open])
	fmt.Printf("failure rate: %.2f, rejected: %d\n", st.FailureRate, st.Calls[breaker.Rejected])
	// Output:
	// event: closed -> open
	// event: open -> half_open
	// event: half_open -> closed
	// event: failure_rate_high 0.83 >= 0.50
	// state: closed opened: 1 time open: 200ms
	// failure rate: 0.83, rejected: 1
}
