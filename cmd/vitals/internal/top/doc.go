// Package top is "vitals top": a live terminal view of a running service's
// stream (WebSocket /stream, falling back to SSE /events): operations by
// rate with p50/p99 and errors, database pools, cache tiers, circuit
// breakers and pending or firing alerts, redrawn in place with every frame.
//
// Build and Render are pure: a client.State and an alert list become a
// Snapshot, and a Snapshot and a View (sort, filter, connection status)
// become lines of at most the screen's width. ParseKeys and View.Handle
// turn terminal input into view changes. Run owns the I/O: the
// connection (reconnecting with backoff), /dev/tty in raw mode on the
// alternate screen, and resizes.
package top
