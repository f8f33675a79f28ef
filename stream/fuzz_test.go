package stream

import (
	"testing"

	"github.com/bizra/vitals"
)

// FuzzHandle feeds whole client messages through a connection's handler,
// as the WebSocket reader does: nothing may panic, every message gets at
// most a bounded answer, and the client's state stays within its caps.
func FuzzHandle(f *testing.F) {
	for _, s := range []string{
		`{"type":"subscribe","id":"a","topics":["cache","performance"],"interval_ms":100}`,
		`{"type":"subscribe","id":"b","topics":["vitals_*{x=~\"a|b\"}"]}`,
		`{"type":"unsubscribe","id":"a"}`, `{"type":"ping"}`, `{"type":"subscribe","id":"a","topics":["health"],"interval_ms":99}`,
		"\x00\xff", `{"type":"subscribe","id":"a","topics":["alerts"]}{"x":1}`,
	} {
		f.Add([]byte(s))
	}
	m := vitals.New(nil)
	h := New(m, &Options{MaxSubscriptions: 4, QueueLimit: 8, ChurnBurst: 1000, ChurnRate: 1000})
	f.Cleanup(h.Close)
	f.Fuzz(func(t *testing.T, b []byte) {
		// A client without a connection: what it is sent stays queued
		// (an SSE-style client, woken by its channel, has no writer here).
		c := newClient(h, transportSSE)
		if reason, _ := h.admit(c); reason != "" {
			t.Fatal(reason)
		}
		defer c.finish(reasonClientClosed)
		for i := 0; i < 3; i++ {
			c.handle(b)
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		if len(c.subs) > 4 || len(c.ctrl) > 8 {
			t.Fatalf("caps exceeded: %d subs, %d queued", len(c.subs), len(c.ctrl))
		}
	})
}
