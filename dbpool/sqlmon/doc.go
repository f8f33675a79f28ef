// Package sqlmon monitors a database/sql pool with package dbpool:
// DBStats sampled at scrape and tick time (connections by state, the
// pool's own wait counters, connections closed by its limits, the
// maximum), the configuration it applied, and a thin wrapper that
// measures what DBStats does not: every acquire's wait, callers waiting
// now, acquire timeouts and cancellations, connection errors by kind, and
// query latency and errors per operation.
//
// A complete program with SQLite (modernc.org/sqlite, pure Go):
//
//	m := vitals.New(nil)
//	m.Start()
//	defer m.Stop()
//	sqlDB, err := sql.Open("sqlite", "file:shop.db?_pragma=busy_timeout(5000)")
//	if err != nil {
//		return err
//	}
//	defer sqlDB.Close()
//	db := sqlmon.New(m, "shop", sqlDB, &sqlmon.Options{Config: &sqlmon.Config{MaxOpen: 4, MaxIdle: 4}})
//	getItem := db.Op("item.get") // look up once, keep the handle
//
//	var name string
//	err = db.QueryRow(ctx, getItem, "SELECT name FROM items WHERE id = ?", 42).Scan(&name)
//
//	st := db.Monitor().Stats() // waits, queue, errors, per-operation latency, score
//
// Rows from Query hold their connection until exhausted or closed, as in
// database/sql; QueryRow's result holds it until Scan. The wrapper adds
// two clock reads per acquire and per query and no allocation to what
// database/sql does.
package sqlmon
