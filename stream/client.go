package stream

import (
	"net"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// frame is one encoded data message shared by every subscriber of a
// stream. It is immutable.
type frame struct {
	b    []byte
	at   time.Time // when its values were read
	seq  uint64
	full bool
}

// subscription is one client's subscription to a stream.
type subscription struct {
	c      *client
	id     string
	g      *streamGroup
	topics []string
	// Guarded by c.mu.
	slot    *frame // the frame waiting to be written; at most one
	queued  bool   // in c.ready
	started bool   // a full frame has been queued
}

// client is one connection's state shared by its transport and the feeds.
// The feeds only ever put a frame into a subscription's slot and queue the
// client for writing; they never wait for it.
type client struct {
	h         *Hub
	transport string
	ws        *websocket.Conn // WebSocket clients: written by the writer pool
	raw       net.Conn        // the WebSocket's connection: the hub writes its frames there

	wmu      sync.Mutex // held while a batch is written and while the close frame is
	wclosed  bool       // the close frame is being sent: no more frames (guarded by wmu)
	deadline time.Time  // raw's write deadline set by serveBatch (guarded by wmu)

	mu        sync.Mutex
	subs      map[string]*subscription
	groups    map[string]int // topic groups over subs, counted
	ctrl      [][]byte       // answers and events, FIFO, bounded
	ready     []*subscription
	behind    time.Time // zero, or when frames started coalescing
	scheduled bool      // WebSocket: queued in, or being served by, the writer pool
	closed    bool
	reason    string // disconnect reason label
	msg       string // close message for the peer

	// SSE only: the handler goroutine writes, woken by wake; done is
	// closed by close.
	wake chan struct{} // capacity 1
	done chan struct{}

	// Churn limit (token bucket), used by the reading goroutine only.
	tokens float64
	last   time.Time
}

func newClient(h *Hub, transport string) *client {
	c := &client{
		h:         h,
		transport: transport,
		subs:      map[string]*subscription{},
		groups:    map[string]int{},
		tokens:    float64(h.o.ChurnBurst),
		last:      time.Now(),
	}
	if transport == transportSSE {
		c.wake = make(chan struct{}, 1)
		c.done = make(chan struct{})
	}
	return c
}

// wakeLocked makes sure the client's writer will look at its queue. For a
// WebSocket client it reports whether the caller must push the client to
// the writer pool (after unlocking c.mu). The caller holds c.mu.
func (c *client) wakeLocked() (push bool) {
	if c.wake != nil {
		select {
		case c.wake <- struct{}{}:
		default:
		}
		return false
	}
	if c.scheduled {
		return false
	}
	c.scheduled = true
	return true
}

// offerData puts g's current frame into sub's slot. The caller holds g.mu.
// A subscription that has not had its full state, or whose last frame is
// still unwritten (the client is behind), gets the full state: updates
// carry only what changed, so one that replaced a missed update would
// lose the missed changes. It reports whether the caller must push the
// client to the writer pool.
func (c *client) offerData(sub *subscription, g *streamGroup) (push bool) {
	c.mu.Lock()
	if c.closed || c.subs[sub.id] != sub {
		c.mu.Unlock()
		return false
	}
	var stalled bool
	switch {
	case !sub.started:
		sub.slot = g.fullLocked()
		sub.started = true
	case sub.slot != nil:
		sub.slot = g.fullLocked()
		c.h.met.coalesced.Inc()
		if c.behind.IsZero() {
			c.behind = time.Now()
		} else if time.Since(c.behind) > c.h.o.StallTimeout {
			stalled = true
		}
	default:
		sub.slot = g.last
	}
	if !sub.queued {
		sub.queued = true
		c.ready = append(c.ready, sub)
	}
	if !stalled {
		push = c.wakeLocked()
	}
	c.mu.Unlock()
	if stalled {
		c.close(reasonStalled, "stalled: behind for more than "+c.h.o.StallTimeout.String())
	}
	return push
}

// offerControl queues an answer or event; past QueueLimit the client is
// disconnected.
func (c *client) offerControl(b []byte) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	if len(c.ctrl) >= c.h.o.QueueLimit {
		c.mu.Unlock()
		c.close(reasonQueueOverflow, "queue overflow: client too slow")
		return
	}
	c.ctrl = append(c.ctrl, b)
	push := c.wakeLocked()
	c.mu.Unlock()
	if push {
		c.h.writers.push(c)
	}
}

// take returns what is ready to write, in order: control messages, then
// one frame per subscription. ok is false once the client is closed.
func (c *client) take(ctrl [][]byte, frames []*frame) ([][]byte, []*frame, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return ctrl, frames, false
	}
	ctrl = append(ctrl, c.ctrl...)
	clear(c.ctrl)
	c.ctrl = c.ctrl[:0]
	for _, s := range c.ready {
		if s.slot != nil {
			frames = append(frames, s.slot)
			s.slot = nil
		}
		s.queued = false
	}
	clear(c.ready)
	c.ready = c.ready[:0]
	return ctrl, frames, true
}

// caughtUp records that everything taken has been written.
func (c *client) caughtUp() {
	c.mu.Lock()
	if len(c.ready) == 0 {
		c.behind = time.Time{}
	}
	c.mu.Unlock()
}

func (c *client) wants(group string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.groups[group] > 0
}

// close marks the client closed with a reason (the first reason wins) and
// wakes its transport, which ends the connection.
func (c *client) close(reason, msg string) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	c.reason, c.msg = reason, msg
	c.mu.Unlock()
	if c.done != nil {
		close(c.done)
	}
	if c.ws != nil {
		// The close handshake waits for the peer: not on the caller's
		// goroutine (a feed, a writer, the reader).
		c.h.wg.Add(1)
		go c.h.closeWS(c)
	}
}

// closeReason returns the reason given to close, or "" if open.
func (c *client) closeReason() (reason, msg string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.reason, c.msg
}

// finish detaches the client from every stream and the hub. The
// transport calls it once, when the connection has ended.
func (c *client) finish(reason string) {
	c.close(reason, "")
	c.mu.Lock()
	subs := make([]*subscription, 0, len(c.subs))
	for _, s := range c.subs {
		subs = append(subs, s)
	}
	c.subs = map[string]*subscription{}
	r := c.reason
	c.mu.Unlock()
	if c.h.met.disconnects[r] == nil {
		r = reasonClientClosed
	}
	for _, s := range subs {
		c.h.leave(s)
	}
	c.h.met.subscriptions.Add(-int64(len(subs)))
	c.h.forget(c)
	c.h.met.disconnects[r].Inc()
	c.h.wg.Done()
}

// allowChurn takes a token from the churn bucket.
func (c *client) allowChurn(now time.Time) bool {
	c.tokens += now.Sub(c.last).Seconds() * c.h.o.ChurnRate
	c.last = now
	if burst := float64(c.h.o.ChurnBurst); c.tokens > burst {
		c.tokens = burst
	}
	if c.tokens < 1 {
		return false
	}
	c.tokens--
	return true
}

// subscribe handles a validated subscribe request.
func (c *client) subscribe(r Request) error {
	topics := make([]Topic, len(r.Topics))
	for i, s := range r.Topics {
		t, err := ParseTopic(s)
		if err != nil {
			return &requestError{code: CodeBadTopic, id: r.ID, msg: err.Error()}
		}
		topics[i] = t
	}
	interval := DefaultInterval
	if r.IntervalMS > 0 {
		interval = time.Duration(r.IntervalMS) * time.Millisecond
	}
	c.mu.Lock()
	if _, taken := c.subs[r.ID]; taken {
		c.mu.Unlock()
		return &requestError{code: CodeBadID, id: r.ID, msg: "id already subscribed: unsubscribe it first"}
	}
	if len(c.subs) >= c.h.o.MaxSubscriptions {
		c.mu.Unlock()
		return &requestError{code: CodeTooMany, id: r.ID, msg: "more than " + itoa(c.h.o.MaxSubscriptions) + " subscriptions on one connection"}
	}
	sub := &subscription{c: c, id: r.ID}
	c.subs[r.ID] = sub
	for _, t := range topics {
		if t.group != "" {
			c.groups[t.group]++
		}
	}
	c.mu.Unlock()
	c.h.met.subscriptions.Add(1)

	_, ts := streamKey(topics)
	sub.topics = make([]string, len(ts))
	for i, t := range ts {
		sub.topics[i] = t.String()
	}
	ack := appendHeader(nil, "subscribed")
	ack = append(ack, `,"id":`...)
	ack = appendString(ack, r.ID)
	ack = append(ack, `,"interval_ms":`...)
	ack = appendInt(ack, interval.Milliseconds())
	ack = append(ack, `,"topics":`...)
	ack = append(ack, marshal(sub.topics)...)
	// The answer is queued before the subscription joins its stream, so
	// the client reads it before the first frame.
	return c.h.join(sub, topics, interval, func(g *streamGroup) {
		b := append(ack, `,"stream":`...)
		b = appendInt(b, int64(g.id))
		c.offerControl(append(b, '}'))
	})
}

// unsubscribe handles a validated unsubscribe request.
func (c *client) unsubscribe(r Request) error {
	c.mu.Lock()
	sub := c.subs[r.ID]
	if sub == nil {
		c.mu.Unlock()
		return &requestError{code: CodeBadID, id: r.ID, msg: "no subscription with this id"}
	}
	delete(c.subs, r.ID)
	sub.slot = nil
	g := sub.g
	if g != nil {
		for t := range g.groups {
			if c.groups[t]--; c.groups[t] <= 0 {
				delete(c.groups, t)
			}
		}
	}
	c.mu.Unlock()
	c.h.leave(sub)
	c.h.met.subscriptions.Add(-1)
	b := appendHeader(nil, "unsubscribed")
	b = append(b, `,"id":`...)
	b = appendString(b, r.ID)
	c.offerControl(append(b, '}'))
	return nil
}

// handle processes one client message; a mistake is answered with an
// error message and the connection stays open.
func (c *client) handle(msg []byte) {
	r, err := parseRequest(msg, c.h.o.MaxTopics)
	if err == nil {
		switch r.Type {
		case "ping":
			b := appendHeader(nil, "pong")
			b = append(b, `,"time":`...)
			b = appendInt(b, time.Now().UnixMilli())
			c.offerControl(append(b, '}'))
			return
		case "subscribe", "unsubscribe":
			if !c.allowChurn(time.Now()) {
				err = &requestError{code: CodeRateLimited, id: r.ID,
					msg: "too many subscribe/unsubscribe requests: at most " + ftoa(c.h.o.ChurnRate) + " per second sustained"}
			} else if r.Type == "subscribe" {
				err = c.subscribe(r)
			} else {
				err = c.unsubscribe(r)
			}
		}
	}
	if err != nil {
		c.h.met.requestErrors.Inc()
		re, ok := err.(*requestError)
		if !ok {
			re = &requestError{code: CodeBadMessage, id: safeID(r.ID), msg: err.Error()}
		}
		c.offerControl(errorMessage(re.code, re.id, re.msg))
	}
}

// writeLoop writes what offerData and offerControl leave, in order, until
// the client is closed or write fails (write closes the client then). It
// is the body of an SSE handler once the stream has started.
func (c *client) writeLoop(write func(b []byte, at time.Time) bool) {
	var ctrl [][]byte
	var frames []*frame
	for {
		select {
		case <-c.wake:
		case <-c.done:
			return
		}
		var ok bool
		ctrl, frames, ok = c.take(ctrl[:0], frames[:0])
		if !ok {
			return
		}
		for _, b := range ctrl {
			if !write(b, time.Time{}) {
				return
			}
		}
		for _, f := range frames {
			if !write(f.b, f.at) {
				return
			}
		}
		clear(ctrl)
		clear(frames)
		c.caughtUp()
	}
}

// serveBatch writes everything a WebSocket client has pending, in order,
// on a writer of the pool. It reports whether more arrived meanwhile (the
// client stays scheduled and goes to the back of the queue); otherwise the
// client is unscheduled.
func (c *client) serveBatch(b *batch) (more bool) {
	var ok bool
	b.ctrl, b.frames, ok = c.take(b.ctrl[:0], b.frames[:0])
	if !ok {
		return false
	}
	defer func() {
		clear(b.ctrl)
		clear(b.frames)
	}()
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.wclosed {
		return false
	}
	// A write that blocks for StallTimeout means the client stopped
	// reading. The deadline is moved only when less than that is left,
	// to 1.5 StallTimeout ahead: each move is a change to the runtime's
	// timer heap, and moving it for every batch cost 10,000 of them a
	// second at 10,000 clients. A stopped client is closed after
	// StallTimeout anyway, by offerData, as soon as it is that long
	// behind; the deadline is the backstop when no frame comes to tell.
	if now := time.Now(); c.deadline.Sub(now) < c.h.o.StallTimeout {
		c.deadline = now.Add(c.h.o.StallTimeout + c.h.o.StallTimeout/2)
		_ = c.raw.SetWriteDeadline(c.deadline)
	}
	for _, m := range b.ctrl {
		if !c.h.writeWS(c, m, time.Time{}, b) {
			return false
		}
	}
	for _, f := range b.frames {
		if !c.h.writeWS(c, f.b, f.at, b) {
			return false
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.ready) == 0 {
		c.behind = time.Time{}
	}
	more = !c.closed && (len(c.ctrl) > 0 || len(c.ready) > 0)
	if !more {
		c.scheduled = false
	}
	return more
}

// sent counts a written message.
func (h *Hub) sent(transport string, n int, at time.Time) {
	h.met.messages[transport].Inc()
	h.met.bytes[transport].Add(uint64(n))
	if !at.IsZero() {
		h.met.lag.ObserveDuration(time.Since(at))
	}
}
