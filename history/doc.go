// Package history keeps every series of a vitals.Monitor for up to 90
// days in one embedded bbolt file, at several resolutions, and answers
// range queries over it.
//
// A Store is a vitals.Consumer. Each collector tick adds to the current
// step's records in memory; when a step of the finest tier ends (a
// minute, by default) its records are encoded into one frame and written
// by the Store's own goroutine, in one transaction with the coarser
// frames it completes (5 minutes, 1 hour) and the deletion of expired
// ones. Coarser frames are merges of finer ones, and a histogram's record
// keeps its buckets, so percentiles at every tier are exact merges.
// Retention deletes whole frames; bbolt reuses their pages, so the file
// stops growing once every tier is full.
//
// Faults: a process killed at any moment restarts with an intact file and
// loses only the steps not yet written (the current minute). An
// unwritable directory or a full disk is logged once, counted in
// vitals_history_write_errors_total, and history is held in memory
// (Options.MaxPending steps) until writing works again. Clock steps back
// are absorbed, big ones rewind the history (Options.RewindAfter).
//
// docs/HISTORY.md describes the tiers, the file format, sizing and the
// HTTP API (package queryapi).
//
// A complete program:
//
//	m := vitals.New(nil)
//	st, err := history.Open(m, &history.Options{Dir: "./vitals-data"})
//	if err != nil {
//		log.Fatal(err) // another process holds the file, or it is not a history file
//	}
//	m.Start()
//	defer st.Close() // after m.Stop: writes the current minute
//	defer m.Stop()
//
//	// ... later ...
//	res, err := st.Query(ctx, history.QueryRequest{
//		Series: `http_request_duration_seconds{route="/api"}`,
//		Stat:   history.StatP99,
//		From:   time.Now().Add(-24 * time.Hour),
//		To:     time.Now(),
//		Step:   time.Minute, // read from the 1-minute tier
//	})
//	for _, p := range res.Points {
//		fmt.Println(p.T, p.V)
//	}
//
// All methods are safe for concurrent use. Consume never waits for the
// disk; Flush and Close do.
package history
