// Package monitorsapi serves the cache, database-pool and circuit-breaker
// monitors as JSON: GET /metrics/database, /metrics/cache and
// /metrics/circuit-breaker return each monitor's current state, its
// rolling-window figures, and its health score with the factors that
// explain it. Unknown or undefined figures are null, never 0. The schema
// is documented in docs/MONITORING-SYSTEM.md.
//
// A complete program:
//
//	m := vitals.New(nil)
//	m.Start()
//	defer m.Stop()
//	api := monitorsapi.New(m)
//	api.AddPool(db.Monitor())       // sqlmon or pgxpoolmon
//	api.AddCache(productsCache)     // cache.New
//	api.AddBreaker(cb.Monitor())    // gobreakermon
//	mux := http.NewServeMux() // the admin listener's mux, not the public one
//	api.Mount(mux)
//	srv := &http.Server{Addr: "127.0.0.1:9912",
//		Handler:           vitalshttp.HostGuard(http.MaxBytesHandler(mux, 1<<20), "127.0.0.1:9912", nil),
//		ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second,
//		WriteTimeout: 30 * time.Second, IdleTimeout: 30 * time.Second, MaxHeaderBytes: 64 << 10}
//	log.Fatal(srv.ListenAndServe())
//
// The handlers take no request body, start no goroutines, copy each
// monitor's stats by value and encode outside any lock. They are meant for
// an admin listener: they reveal names and figures, never DSNs or
// credentials.
package monitorsapi
