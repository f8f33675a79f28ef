// Package stream serves a Monitor's series live to browsers and programs:
// a WebSocket at /stream and Server-Sent Events at /events, carrying one
// versioned JSON message schema (docs/STREAMING.md).
//
// A client subscribes to topics — the groups performance, cache,
// database, circuit-breaker, health and alerts, or series selectors such
// as vitals_operation_duration_seconds{operation=~"check.*"} — at an
// interval of at least 100 ms (default 1 s). It receives the full state
// first, then updates that carry only the series that changed. Health
// transitions and alert changes are pushed the moment they happen.
//
//	m := vitals.New(nil)
//	hub := stream.New(m, &stream.Options{Health: engine})
//	defer hub.Close()
//	mux := http.NewServeMux()
//	hub.Mount(mux) // GET /stream, GET /events
//	srv := &http.Server{Handler: mux}
//	srv.RegisterOnShutdown(hub.Drain) // clients get a going-away close
//
// # Cost and fan-out
//
// One goroutine per distinct interval reads the instruments the
// subscriptions select, once per interval, straight from the registry as
// a scrape does: a 100 ms subscription sees values 100 ms apart, and the
// collector tick never waits for a stream. Each distinct (topic set,
// interval) is encoded once per interval and the bytes are shared by all
// its subscribers. Per client, the hub keeps at most one unwritten frame
// per subscription: a client that falls behind is sent the latest full
// state instead of the frames it missed (counted as coalesced), and one
// that stays behind for StallTimeout is disconnected. A WebSocket client
// costs one goroutine (its reader) and a few KiB: the hub's pool of writer
// goroutines writes for all of them, and starts more only while a write is
// blocked on a client that stopped reading. An SSE client costs one
// goroutine (its handler's) and net/http's per-request state.
//
// # Concurrency
//
// A Hub is safe for concurrent use. New starts nothing; feeds start with
// their first subscriber and stop with their last; Close stops everything
// and waits.
package stream
