package stream

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/coder/websocket"
)

// ServeWebSocket serves GET /stream: it upgrades to a WebSocket, sends a
// hello, then answers subscribe, unsubscribe and ping messages and writes
// the frames of the client's subscriptions.
func (h *Hub) ServeWebSocket(w http.ResponseWriter, r *http.Request) {
	if !h.authorize(w, r) {
		return
	}
	conn, err := websocket.Accept(clearDeadlines{w}, r, &websocket.AcceptOptions{OriginPatterns: h.o.AllowedOrigins})
	if err != nil {
		return // Accept has answered (403 for a foreign origin, 426, ...)
	}
	conn.SetReadLimit(h.o.ReadLimit)
	c := newClient(h, transportWS)
	if reason, msg := h.admit(c); reason != "" {
		h.met.rejected[reason].Inc()
		code := websocket.StatusTryAgainLater
		if reason == reasonGoingAway {
			code = websocket.StatusGoingAway
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = conn.Write(ctx, websocket.MessageText, errorMessage(reason, "", msg))
		conn.Close(code, msg)
		return
	}
	c.offerControl(h.hello())

	h.wg.Add(1)
	go func() { defer h.wg.Done(); h.writeWS(c, conn) }()

	// Read until the connection ends. The read has no deadline of its own:
	// closing the connection (the writer does, with the close reason) ends
	// it; cancelling its context instead would drop the connection before
	// the close handshake.
	for {
		typ, msg, err := conn.Read(context.Background())
		if err != nil {
			if strings.Contains(err.Error(), "read limited at") {
				c.close(reasonTooBig, "message too big")
			}
			break
		}
		if typ != websocket.MessageText {
			c.close(reasonProtocol, "binary messages are not part of the protocol")
			break
		}
		c.handle(msg)
	}
	c.finish(reasonClientClosed)
}

// writeWS is a WebSocket client's writer goroutine: each write is bounded
// by StallTimeout; at the end it closes the connection with the client's
// close reason.
func (h *Hub) writeWS(c *client, conn *websocket.Conn) {
	c.writeLoop(func(b []byte, at time.Time) bool {
		ctx, cancel := context.WithTimeout(context.Background(), h.o.StallTimeout)
		err := conn.Write(ctx, websocket.MessageText, b)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				c.close(reasonStalled, "stalled: a write blocked for "+h.o.StallTimeout.String())
			} else {
				c.close(reasonClientClosed, "")
			}
			return false
		}
		h.sent(transportWS, len(b), at)
		return true
	})
	h.closeWS(c, conn)
}

func (h *Hub) closeWS(c *client, conn *websocket.Conn) {
	reason, msg := c.closeReason()
	code := websocket.StatusNormalClosure
	switch reason {
	case reasonGoingAway:
		code = websocket.StatusGoingAway
	case reasonStalled, reasonQueueOverflow, reasonProtocol:
		code = websocket.StatusPolicyViolation
	case reasonTooBig:
		code = websocket.StatusMessageTooBig
	case reasonClientClosed:
		conn.CloseNow()
		return
	}
	if reason == reasonStalled {
		conn.CloseNow() // its writes block: a close frame would too
		return
	}
	conn.Close(code, msg)
}

// hello is the first message on a connection: the schema version and the
// limits that apply.
func (h *Hub) hello() []byte {
	b := appendHeader(nil, "hello")
	b = append(b, `,"time":`...)
	b = appendInt(b, time.Now().UnixMilli())
	b = append(b, `,"groups":`...)
	b = append(b, marshal(Groups)...)
	b = append(b, `,"limits":{"min_interval_ms":`...)
	b = appendInt(b, MinInterval.Milliseconds())
	b = append(b, `,"default_interval_ms":`...)
	b = appendInt(b, DefaultInterval.Milliseconds())
	b = append(b, `,"max_subscriptions":`...)
	b = appendInt(b, int64(h.o.MaxSubscriptions))
	b = append(b, `,"max_topics":`...)
	b = appendInt(b, int64(h.o.MaxTopics))
	b = append(b, `,"read_limit":`...)
	b = appendInt(b, h.o.ReadLimit)
	b = append(b, `,"stall_timeout_ms":`...)
	b = appendInt(b, h.o.StallTimeout.Milliseconds())
	return append(b, "}}"...)
}

// clearDeadlines clears the deadlines an http.Server's ReadTimeout and
// WriteTimeout put on a connection when it is hijacked: a stream lives
// longer than any request, and its writes carry their own timeout.
type clearDeadlines struct{ http.ResponseWriter }

func (w clearDeadlines) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err == nil {
		_ = conn.SetDeadline(time.Time{})
	}
	return conn, brw, err
}
