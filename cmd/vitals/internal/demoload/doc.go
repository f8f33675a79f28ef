// Package demoload holds the workloads of `vitals demo` that exercise the
// cache, database-pool and circuit-breaker monitors for real:
//
//   - DBLoad: a small shop schema with a read/write mix, on SQLite through
//     modernc.org/sqlite by default or PostgreSQL through pgx, on a small
//     pool; Saturate floods it with slow queries so the pool queues.
//   - CacheLoad: product lookups with a Zipf skew through an otter L1 and
//     an L2 that is Redis when an address or URL is given, or an embedded
//     byte cache; L2 values are S2-compressed, so compression figures are
//     real. Values read back are untrusted: one whose header claims more
//     than MaxValueBytes is a miss, counted, never allocated.
//   - BreakerLoad: the payment provider, with recurring outages, behind a
//     gobreaker breaker named "payments" that trips, half-opens and closes
//     on its own; the demo's checkout calls it with Call; Outage forces
//     an outage.
//
// Each is built with a constructor that takes the *vitals.Monitor and an
// options struct (nil: defaults), exposes its monitor, and runs with
// Run(ctx), which returns when ctx is done and releases what the load
// opened:
//
//	m := vitals.New(nil)
//	m.Start()
//	defer m.Stop()
//	db, err := demoload.NewDBLoad(m, &demoload.DBOptions{PostgresURL: os.Getenv("VITALS_POSTGRES")})
//	if err != nil {
//		return err
//	}
//	go db.Run(ctx) // owned: wait for it before exiting
//	db.Saturate(20 * time.Second)
//	fmt.Println(db.Monitor().Saturation(), db.Monitor().Score().Status)
package demoload
