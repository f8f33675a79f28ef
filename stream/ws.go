package stream

import (
	"bufio"
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/coder/websocket"
)

// ServeWebSocket serves GET /stream: it upgrades to a WebSocket, sends a
// hello, then answers subscribe, unsubscribe and ping messages and writes
// the frames of the client's subscriptions.
//
// The handler returns as soon as the connection is upgraded: net/http's
// per-connection state (its goroutine, request, buffers) is released, and
// the client costs one goroutine (its reader) and small buffers of its own
// (wsReadBuffer, wsWriteBuffer). The hub's writer pool does the writes.
func (h *Hub) ServeWebSocket(w http.ResponseWriter, r *http.Request) {
	if !h.authorize(w, r) {
		return
	}
	hj := &hijacker{ResponseWriter: w}
	conn, err := websocket.Accept(hj, r, &websocket.AcceptOptions{
		OriginPatterns: h.o.AllowedOrigins,
		// Compression would cost each connection a flate writer's state
		// (tens of KiB) and each frame a compression per client, since
		// the shared bytes could not be shared any more.
		CompressionMode: websocket.CompressionDisabled,
	})
	if err != nil {
		return // Accept has answered (403 for a foreign origin, 426, ...)
	}
	conn.SetReadLimit(h.o.ReadLimit)
	c := newClient(h, transportWS)
	c.ws, c.raw = conn, hj.conn
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
	go h.readWS(c) // counted in h.wg by admit; Done in finish
}

// readWS is a WebSocket client's only goroutine: it reads until the
// connection ends. The read has no deadline of its own: closing the
// connection (closeWS does, with the close reason) ends it; cancelling its
// context instead would drop the connection before the close handshake.
func (h *Hub) readWS(c *client) {
	for {
		typ, msg, err := c.ws.Read(context.Background())
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

// writeWS writes one message as a WebSocket text frame, on a writer of
// the pool. A failed write closes the client: "stalled" when the write
// deadline (StallTimeout to 1.5 StallTimeout, serveBatch) passed, the
// client went away otherwise.
//
// The hub writes its frames to the socket itself rather than through
// coder/websocket's Conn.Write: one writev of the frame header and the
// shared frame bytes, with no copy into a per-connection buffer, so a
// connection needs no write buffer of its size (a 3 KiB frame through a
// 2 KiB buffer cost two system calls; a 4 KiB buffer each cost 4 KiB per
// idle client). coder/websocket still reads, answers pings and does the
// close handshake. Frames cannot interleave with its control frames: each
// side writes a whole frame in one Write call, and a socket serialises
// Write calls; closeWS takes c.wmu, so no frame follows the close frame.
func (h *Hub) writeWS(c *client, msg []byte, at time.Time, b *batch) bool {
	hdr := appendFrameHeader(b.hdr[:0], len(msg))
	var err error
	if tc, ok := c.raw.(*net.TCPConn); ok {
		b.vec = [2][]byte{hdr, msg}
		bufs := net.Buffers(b.vec[:])
		_, err = bufs.WriteTo(tc)
		b.vec = [2][]byte{}
	} else {
		// TLS and other wrappers: one Write call keeps the frame whole.
		b.one = append(append(b.one[:0], hdr...), msg...)
		_, err = c.raw.Write(b.one)
	}
	if err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			c.close(reasonStalled, "stalled: a write blocked for more than "+h.o.StallTimeout.String())
		} else {
			c.close(reasonClientClosed, "")
		}
		return false
	}
	h.sent(transportWS, len(msg), at)
	return true
}

// appendFrameHeader appends the header of an unmasked, final text frame
// of n payload bytes (RFC 6455 section 5.2), as a server sends.
func appendFrameHeader(b []byte, n int) []byte {
	switch {
	case n < 126:
		return append(b, 0x81, byte(n))
	case n <= 0xffff:
		return append(b, 0x81, 126, byte(n>>8), byte(n))
	default:
		return append(b, 0x81, 127, byte(uint64(n)>>56), byte(uint64(n)>>48), byte(uint64(n)>>40), byte(uint64(n)>>32),
			byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
}

// closeWS ends a closed client's connection with its close reason. It
// runs on its own goroutine (started by client.close) because the close
// handshake waits for the peer.
func (h *Hub) closeWS(c *client) {
	defer h.wg.Done()
	conn := c.ws
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
	// One deadline for the rest: it cuts short a batch blocked on a full
	// socket, and the last batch's deadline may have passed while the
	// client idled.
	_ = c.raw.SetWriteDeadline(time.Now().Add(closeTimeout))
	// No frame after the close frame: wait for a batch being written.
	c.wmu.Lock()
	c.wclosed = true
	c.wmu.Unlock()
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

// Buffer sizes of a WebSocket connection. net/http hands a hijacked
// connection over with 4 KiB read and write buffers; the hub replaces them
// (when nothing is buffered yet, which is always the case right after the
// handshake): clients send only small requests (ReadLimit), and only
// coder/websocket's own control frames (pong, close: at most 131 bytes)
// go through the write buffer — the hub writes its frames itself
// (writeWS).
const (
	// closeTimeout bounds writing the close frame (coder/websocket then
	// waits up to 5 s for the peer's).
	closeTimeout = 5 * time.Second

	wsReadBuffer  = 512
	wsWriteBuffer = 256
)

// hijacker hands coder/websocket a connection with the hub's buffer sizes
// and no deadlines (an http.Server's ReadTimeout and WriteTimeout put them
// on the connection; a stream lives longer than any request, and the hub
// sets its own write deadline, serveBatch). It keeps the connection for
// those deadlines.
type hijacker struct {
	http.ResponseWriter
	conn net.Conn
}

func (w *hijacker) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err != nil {
		return conn, brw, err
	}
	_ = conn.SetDeadline(time.Time{})
	w.conn = conn
	if brw.Reader.Buffered() > 0 || brw.Writer.Buffered() > 0 {
		return conn, brw, nil // keep what is in flight
	}
	return conn, bufio.NewReadWriter(bufio.NewReaderSize(conn, wsReadBuffer), bufio.NewWriterSize(conn, wsWriteBuffer)), nil
}
