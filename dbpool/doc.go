// Package dbpool monitors database connection pools: what the pool library
// reports (open, in-use and idle connections, its own wait counters,
// connections closed by its limits, its configuration), and what only a
// thin wrapper around it can measure: the wait of every acquire as a
// histogram, the callers waiting right now (queue depth), the longest wait
// in the window, acquire timeouts and cancellations, connection errors by
// kind (dial, auth, broken), and query latency and errors per operation.
// From those it derives the average number of callers queued (Little's
// law: total wait over time) and an explainable 0-100 score whose factors
// (utilization, queue_depth, wait_p99, error_rate) show their observed
// value, target, limit and weight in Stats and in the JSON endpoint, and
// their scores as metrics.
//
// The adapters dbpool/sqlmon (database/sql) and dbpool/pgxpoolmon
// (pgxpool) do the wrapping; any other pool reports through the generic
// API. A complete program with a pool of your own:
//
//	m := vitals.New(nil)
//	m.Start()
//	defer m.Stop()
//	p := dbpool.New(m, "orders", &dbpool.Options{Source: mySource}) // Source: optional
//	get := p.Op("order.get") // look up once, keep the handle
//
//	a := p.BeginAcquire()
//	conn, err := myPool.Acquire(ctx)
//	a.End(err) // wait histogram, waiters, timeouts, cancellations, connection errors
//	if err != nil {
//		return err
//	}
//	defer conn.Release()
//	q := get.Start()
//	err = conn.QueryRow(ctx, "select ...").Scan(&order)
//	q.End(err)
//
//	st := p.Stats()        // window figures, per-operation latency, score with factors
//	sat := p.Saturation()  // (in use + waiting) / max: above 1 callers queue
//
// Metrics (pool and operation are label values chosen by the program;
// result ok|timeout|canceled|error; kind dial|auth|broken; state
// in_use|idle; reason max_idle|max_idle_time|max_lifetime; factor
// utilization|queue_depth|wait_p99|error_rate):
//
//	vitals_db_pool_waiters{pool}                              gauge
//	vitals_db_pool_wait_duration_seconds{pool}                histogram
//	vitals_db_pool_acquires_total{pool,result}                counter
//	vitals_db_connection_errors_total{pool,kind}              counter
//	vitals_db_query_duration_seconds{pool,operation}          histogram
//	vitals_db_query_errors_total{pool,operation}              counter
//	vitals_db_pool_connections{pool,state}                    gauge    (from the library)
//	vitals_db_pool_connections_constructing{pool}             gauge    (pgxpool)
//	vitals_db_pool_driver_waits_total{pool}                   counter  (from the library)
//	vitals_db_pool_driver_wait_seconds_total{pool}            counter  (from the library)
//	vitals_db_pool_connections_opened_total{pool}             counter  (pgxpool)
//	vitals_db_pool_connections_closed_total{pool,reason}      counter  (from the library)
//	vitals_db_pool_max_open_connections{pool}                 gauge    (configuration)
//	vitals_db_pool_max_idle_connections{pool}                 gauge    (configuration)
//	vitals_db_pool_min_connections{pool}                      gauge    (configuration)
//	vitals_db_pool_max_lifetime_seconds{pool}                 gauge    (configuration)
//	vitals_db_pool_max_idle_time_seconds{pool}                gauge    (configuration)
//	vitals_db_pool_score{pool}                                gauge
//	vitals_db_pool_score_factor{pool,factor}                  gauge
//
// Series a library does not report are left out, never shown as zero.
// Recording an acquire or a query never allocates; library figures are
// sampled at most once per 10 ms (Options.SampleMaxAge) however many
// series and readers ask.
// Everything is safe for concurrent use.
package dbpool
