// Package queryapi serves the rolling windows (package aggregate)
// and the history (package history) over HTTP as JSON:
//
//	GET /api/v1/window?series=<key>[&window=5m]
//	GET /api/v1/series
//	GET /api/v1/query_range?series=<key>&stat=p99[&from=…][&to=…][&step=…]
//
// Times are RFC 3339, Unix seconds, "now" or "now-<duration>"; steps and
// durations are Go durations extended with days and weeks ("90d", "2w",
// "1d12h") or seconds. A query returns at most history.MaxPoints (11,000)
// points. Malformed parameters, parameters an endpoint does not take, and
// parameters without a value get 400 with {"error": "..."} saying what is
// wrong; no input yields a 500 or a panic (FuzzHandler). query_range runs
// Options.MaxInFlight queries at once with a queue; past it, 503 with
// Retry-After, counted in vitals_history_query_rejected_total{reason}
// (Options.Registry). docs/HISTORY.md has the full reference with curl examples.
//
// A complete program:
//
//	m := vitals.New(nil)
//	agg := aggregate.New(m, nil)
//	st, err := history.Open(m, &history.Options{Dir: "./vitals-data"})
//	if err != nil {
//		log.Fatal(err)
//	}
//	m.Start()
//
//	// The API lists every series and its history: serve it on an admin
//	// listener (loopback or an internal network), not the public one.
//	// HostGuard refuses DNS-rebinding requests from web pages.
//	mux := http.NewServeMux()
//	queryapi.New(agg, st, nil).Mount(mux)
//	srv := &http.Server{Addr: "127.0.0.1:9912",
//		Handler:           vitalshttp.HostGuard(http.MaxBytesHandler(mux, 1<<20), "127.0.0.1:9912", nil),
//		ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second,
//		WriteTimeout: 30 * time.Second, IdleTimeout: 30 * time.Second, MaxHeaderBytes: 64 << 10}
//	log.Fatal(srv.ListenAndServe())
//
// The API is safe for concurrent use; its only state is the admission
// queue.
package queryapi
