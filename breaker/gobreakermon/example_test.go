package gobreakermon_test

import (
	"errors"
	"fmt"

	"github.com/sony/gobreaker/v2"

	"github.com/bizra/vitals"
	"github.com/bizra/vitals/breaker"
	"github.com/bizra/vitals/breaker/gobreakermon"
)

func Example() {
	m := vitals.New(nil)
	cb := gobreakermon.New[string](m, gobreaker.Settings{
		Name:        "payments",
		ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= 2 },
	}, nil)
	fail := func() (string, error) { return "", errors.New("503") }
	cb.Execute(fail)
	cb.Execute(fail) // trips
	_, err := cb.Execute(func() (string, error) { return "ok", nil })
	m.Collect()

	st := cb.Monitor().Stats()
	fmt.Println(err, st.State, st.Transitions[breaker.Closed][breaker.Open])
	fmt.Println("failure", st.Calls[breaker.Failure], "rejected", st.Calls[breaker.Rejected])
	// Output:
	// circuit breaker is open open 1
	// failure 2 rejected 1
}
