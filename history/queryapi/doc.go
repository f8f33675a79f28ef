// Package queryapi serves the rolling windows (package aggregate)
// and the history (package history) over HTTP as JSON:
//
//	GET /api/v1/window?series=<key>[&window=5m]
//	GET /api/v1/series
//	GET /api/v1/query_range?series=<key>&stat=p99[&from=…][&to=…][&step=…]
//
// Times are RFC 3339, Unix seconds, "now" or "now-<duration>"; steps are
// Go durations or seconds. A query returns at most history.MaxPoints
// (11,000) points. Malformed or unknown parameters get 400 with
// {"error": "..."} saying what is wrong; no input yields a 500 or a panic
// (FuzzHandler). docs/HISTORY.md has the full reference with curl
// examples.
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
//	mux.Handle("/api/v1/", queryapi.Handler(agg, st, nil))
//	srv := &http.Server{Addr: "127.0.0.1:9912",
//		Handler:           vitalshttp.HostGuard(http.MaxBytesHandler(mux, 1<<20), "127.0.0.1:9912", nil),
//		ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second,
//		WriteTimeout: 30 * time.Second, IdleTimeout: 30 * time.Second, MaxHeaderBytes: 64 << 10}
//	log.Fatal(srv.ListenAndServe())
//
// The Handler is safe for concurrent use; it holds no state of its own.
package queryapi
