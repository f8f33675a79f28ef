// Package web is the live dashboard page: one HTML page with its
// stylesheet and script, embedded in the binary (nothing is fetched from
// the internet), that reads a service's live stream (package stream:
// WebSocket /stream) and its history API (package history/queryapi:
// /api/v1/query_range) and shows, per operation, latency p50/p95/p99,
// throughput and error ratio; cache hit ratios per tier and end to end;
// the connection pool (in use, idle, waiters, wait p99); every circuit
// breaker's state with its transitions marked; the health scores with
// their factors and advice; and the pending and firing alerts. A range
// selector (live, 15m, 1h, 24h, 7d, 90d) switches the charts to the
// history; the page reconnects by itself after a restart and refills its
// charts from the history. It follows the system's dark or light theme
// and fits a phone's width.
//
// The page asks for stream and API paths relative to where it is served,
// so mount it at the root of the mux that serves /stream and /api/v1/:
//
//	mux := http.NewServeMux()
//	hub.Mount(mux)                              // GET /stream, GET /events
//	queryapi.New(agg, hist, nil).Mount(mux)     // GET /api/v1/...
//	web.NewHandler().Mount(mux)                 // GET /, GET /ui/...
//
// Every response carries a Content-Security-Policy that allows scripts,
// styles and connections from the page's own origin only (no inline
// script or style), and forbids framing.
//
// A Handler holds only the embedded files; it is safe for concurrent use
// and starts no goroutines.
package web
