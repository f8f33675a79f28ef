// Package pgxpoolmon monitors a pgx v5 pgxpool.Pool with package dbpool:
// pgxpool.Stat sampled at scrape and tick time (connections by state,
// connections being opened, empty acquires and their wait, connections
// opened and closed for idle time or lifetime), the pool's configuration,
// and a thin wrapper that measures every acquire's wait, callers waiting
// now, acquire timeouts and cancellations, connection errors by kind
// (Classify knows PostgreSQL's SQLSTATEs), and query latency and errors
// per operation.
//
// A complete program:
//
//	m := vitals.New(nil)
//	m.Start()
//	defer m.Stop()
//	raw, err := pgxpool.New(ctx, os.Getenv("DATABASE_URL"))
//	if err != nil {
//		return err
//	}
//	defer raw.Close()
//	pool := pgxpoolmon.New(m, "orders", raw, nil)
//	getOrder := pool.Op("order.get") // look up once, keep the handle
//
//	var total int64
//	err = pool.QueryRow(ctx, getOrder, "SELECT total FROM orders WHERE id = $1", id).Scan(&total)
//
//	st := pool.Monitor().Stats() // waits, queue, errors by kind, per-operation latency, score
//
// Rows from Query hold their connection until exhausted or closed, as in
// pgx; QueryRow's result holds it until Scan. The DSN, and its password,
// never reach a metric, a Stats value or a log line.
package pgxpoolmon
