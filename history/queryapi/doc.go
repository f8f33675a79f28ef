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
//	mux := http.NewServeMux()
//	mux.Handle("/api/v1/", queryapi.Handler(agg, st, nil))
//	srv := &http.Server{Addr: ":8080", Handler: mux,
//		ReadHeaderTimeout: 5 * time.Second, WriteTimeout: 30 * time.Second}
//	log.Fatal(srv.ListenAndServe())
//
// The Handler is safe for concurrent use; it holds no state of its own.
package queryapi
