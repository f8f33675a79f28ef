// Package breaker monitors circuit breakers of any library: one 0/1 gauge
// per state, transitions counted by from and to, time spent in each state
// (so an open period shorter than a scrape still shows), calls by outcome
// (success, failure, rejected, excluded), failure and slow-call rates over
// a rolling window, a latency histogram, per-breaker alert thresholds that
// raise events when crossed, and an explainable 0-100 score. The
// gobreakermon package adapts sony/gobreaker v2.
//
// A complete program around a hand-rolled breaker:
//
//	m := vitals.New(nil)
//	m.Start()
//	defer m.Stop()
//	b := breaker.New(m, "payments", &breaker.Options{
//		SlowCall: 500 * time.Millisecond,
//		OnEvent:  func(e breaker.Event) { log.Println(e.Breaker, e.Kind, e.From, e.To) },
//	})
//
//	// In the breaker library's state-change hook, even under its lock:
//	b.Transition(breaker.Closed, breaker.Open)
//
//	// Around each call:
//	if !myBreaker.Allow() {
//		b.Reject()
//		return errOpen
//	}
//	start := time.Now()
//	err := call()
//	if err != nil {
//		b.Record(breaker.Failure, time.Since(start))
//	} else {
//		b.Record(breaker.Success, time.Since(start))
//	}
//
//	st := b.Stats() // state, time in each state, window rates, alerts, recent events, score
//
// Record never allocates. Transition takes only the monitor's own short
// lock and never calls out, so it is safe inside a library callback that
// runs under the library's lock; events are delivered to Options.OnEvent on
// the Monitor's collector goroutine with no lock held. Time in state is
// measured with the Monitor's clock, so tests drive it with a
// vitals.ManualClock.
package breaker
