// Package aggregate is the metrics aggregator: rolling 1m, 5m, 15m and 1h
// windows (configurable) over every series of a vitals.Monitor, with
// count, sum, rate, min, max, avg and last, and p50, p90, p95, p99 and
// p99.9 for histograms — merged buckets, never averaged percentiles.
//
// An Aggregator is a vitals.Consumer: the collector hands it each
// snapshot and it updates a window.Stack per series, in time proportional
// to the tick's changes. Reads (Stats, StatsAll, Series) are as of the
// last snapshot. Package queryapi serves them over HTTP
// (GET /api/v1/window).
//
// A complete program:
//
//	m := vitals.New(nil)
//	agg := aggregate.New(m, nil)
//	m.Start()
//	defer m.Stop()
//
//	get := m.Operation("store.get")
//	// ... serve traffic ...
//	st, ok := agg.Stats(`vitals_operation_duration_seconds{operation="store.get"}`, 5*time.Minute)
//	if ok {
//		fmt.Printf("%.1f/s, p99 %v\n", st.Rate, time.Duration(st.P99*1e9))
//	}
//
// Memory: about 3 KB for a counter or gauge and 50–60 KB for a busy
// histogram at the defaults (BenchmarkMemoryOneHour in package history:
// 8.6 MB for 1,000 series of which 100 histograms). All methods are safe
// for concurrent use.
package aggregate
