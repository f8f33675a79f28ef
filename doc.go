// Package vitals is real-time, low-overhead performance monitoring for Go
// services: latency percentiles, throughput and errors per operation,
// cache, database-pool and circuit-breaker monitors, Prometheus
// exposition, health probes, rolling windows and history, and live
// streams, from one import.
//
// The data flows one way:
//
//	instruments (package metric: atomic, allocation-free)
//	    -> one collector tick per Monitor (Interval, 1 s) -> immutable Snapshot
//	    -> consumers: rolling windows and history, health scoring, alerts, streams
//
// A Prometheus scrape (package exposition) reads the instruments directly.
//
// A complete program:
//
//	m := vitals.New(nil)
//	m.Start()
//	defer m.Stop()
//
//	get := m.Operation("store.get") // look up once, keep the handle
//	handle := func(id string) (err error) {
//		defer get.Start().End(&err)
//		return load(id)
//	}
//	http.Handle("/metrics", exposition.Handler(m.Registry(), nil))
//
//	st, _ := m.OperationStats("store.get") // p50/p95/p99/p99.9, rate, error ratio over the last minute
//
// Everything here is safe for concurrent use. Instruments never allocate or
// lock on their hot path; the collector never calls user callbacks under a
// vitals lock; consumers and subscribers never slow down instruments.
package vitals
