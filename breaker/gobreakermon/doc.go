// Package gobreakermon monitors sony/gobreaker v2 circuit breakers with
// package breaker: per-state gauges, transitions, time in each state,
// calls by outcome (success, failure, rejected, excluded), latency, rolling
// failure and slow-call rates, alert events and a score.
//
// A complete program:
//
//	m := vitals.New(nil)
//	m.Start()
//	defer m.Stop()
//	cb := gobreakermon.New[[]byte](m, gobreaker.Settings{
//		Name:        "payments",
//		Timeout:     5 * time.Second,
//		ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= 5 },
//	}, &breaker.Options{SlowCall: 300 * time.Millisecond})
//
//	body, err := cb.Execute(func() ([]byte, error) { return callPayments(ctx) })
//
//	st := cb.Monitor().Stats() // state, time in state, rates, alerts, recent events
//
// gobreaker calls OnStateChange while holding its own lock, and has no
// clock to inject: the monitor's part of the chained callback only records
// (never calls back into the breaker), and time in state is measured with
// the vitals Monitor's clock.
package gobreakermon
