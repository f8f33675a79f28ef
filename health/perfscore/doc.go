// Package perfscore holds the built-in component scorers of
// /health/performance: SLOScorer rates every operation of a Monitor
// against its latency and error objectives, RuntimeScorer rates the Go
// runtime (goroutines, scheduler latency, GC pauses and CPU, memory
// against GOMEMLIMIT, live-heap growth). Each returns a score.Score with
// its factors and advice.
//
// It is apart from package health, which schedules checks, serves the
// probes and drains, so that the two concerns read and change apart:
// health.New adds both scorers (configured by health.Options.SLO and
// Runtime), and anything else that wants the scores (a stream, an alert
// evaluator) can use them without the probe machinery. It imports only
// vitals and score.
//
//	m := vitals.New(nil)
//	m.Start()
//	defer m.Stop()
//	slo := perfscore.NewSLOScorer(m, &perfscore.SLOOptions{
//		Default:    perfscore.Objective{P99: 300 * time.Millisecond, ErrorBudget: 0.01},
//		Operations: map[string]perfscore.Objective{"report.export": {P99: 5 * time.Second}},
//	})
//	s := slo.Score() // factors per operation, worst advice first
//	fmt.Println(s.Value, s.Status, s.Recommendations)
//
// Scorers are safe for concurrent use. SLOScorer reads the Monitor's
// one-minute operation windows and keeps no state; RuntimeScorer keeps
// the previous runtime/metrics reading, so its latencies and CPU share
// cover the time between two Score calls.
package perfscore
