package stream

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"os"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/bizra/vitals/internal/httpx"
)

// ServeSSE serves GET /events: one subscription given by the query, as
// Server-Sent Events carrying the same JSON messages as the WebSocket.
// Parameters: topic (repeated, or comma-free list items; at least one),
// interval_ms (default 1000, at least 100). A bad parameter answers 400
// with a JSON error before the stream starts.
func (h *Hub) ServeSSE(w http.ResponseWriter, r *http.Request) {
	if !h.authorize(w, r) {
		return
	}
	if origin := r.Header.Get("Origin"); origin != "" && !h.originAllowed(r, origin) {
		httpx.WriteError(w, r, http.StatusForbidden, "origin "+strconv.Quote(origin)+" is not allowed to read this stream")
		return
	}
	q := r.URL.Query()
	req := Request{Type: "subscribe", ID: "events", Topics: q["topic"]}
	if s := q.Get("interval_ms"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			httpx.WriteError(w, r, http.StatusBadRequest, "interval_ms "+strconv.Quote(truncate(s, 32))+": not an integer")
			return
		}
		req.IntervalMS = n
	}
	if _, err := parseRequest(marshal(req), h.o.MaxTopics); err != nil {
		httpx.WriteError(w, r, http.StatusBadRequest, err.(*requestError).msg)
		return
	}
	for _, t := range req.Topics {
		if _, err := ParseTopic(t); err != nil {
			httpx.WriteError(w, r, http.StatusBadRequest, err.Error())
			return
		}
	}
	c := newClient(h, transportSSE)
	if reason, msg := h.admit(c); reason != "" {
		h.met.rejected[reason].Inc()
		w.Header().Set("Retry-After", "5")
		httpx.WriteError(w, r, http.StatusServiceUnavailable, msg)
		return
	}
	rc := http.NewResponseController(w)
	// The server's ReadTimeout would end the stream (net/http's background
	// read fails and cancels the request); a stream lives as long as its
	// client. Writes set their own deadline.
	_ = rc.SetReadDeadline(time.Time{})
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	c.offerControl(h.hello())
	c.handle(marshal(req))
	reason := h.writeSSE(c, w, rc, r)
	c.finish(reason)
}

// writeSSE is the SSE handler's write loop: each message is one event,
// "data: <json>", flushed at once; every write is bounded by StallTimeout.
func (h *Hub) writeSSE(c *client, w http.ResponseWriter, rc *http.ResponseController, r *http.Request) string {
	stop := context.AfterFunc(r.Context(), func() { c.close(reasonClientClosed, "") })
	defer stop()
	write := func(b []byte, at time.Time) bool {
		_ = rc.SetWriteDeadline(time.Now().Add(h.o.StallTimeout))
		_, err := w.Write(sseData)
		if err == nil {
			_, err = w.Write(b)
		}
		if err == nil {
			_, err = w.Write(sseEnd)
		}
		if err == nil {
			err = rc.Flush()
		}
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				c.close(reasonStalled, "")
			} else {
				c.close(reasonClientClosed, "")
			}
			return false
		}
		h.sent(transportSSE, len(b), at)
		return true
	}
	// A retry hint for EventSource, then the messages.
	_, _ = w.Write([]byte("retry: 2000\n\n"))
	c.writeLoop(write)
	reason, msg := c.closeReason()
	if reason == reasonGoingAway || reason == reasonQueueOverflow {
		b := appendHeader(nil, "bye")
		b = append(b, `,"reason":`...)
		b = appendString(b, msg)
		write(append(b, '}'), time.Time{})
	}
	return reason
}

var (
	sseData = []byte("data: ")
	sseEnd  = []byte("\n\n")
)

// originAllowed applies the WebSocket origin rule to SSE: the same host,
// or a host matching AllowedOrigins.
func (h *Hub) originAllowed(r *http.Request, origin string) bool {
	return originOK(r.Host, origin, h.o.AllowedOrigins)
}

func originOK(host, origin string, patterns []string) bool {
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	if strings.EqualFold(u.Host, host) {
		return true
	}
	for _, p := range patterns {
		target := u.Host
		if strings.Contains(p, "://") {
			target = u.Scheme + "://" + u.Host
		}
		if ok, _ := path.Match(strings.ToLower(p), strings.ToLower(target)); ok {
			return true
		}
	}
	return false
}
