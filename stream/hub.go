package stream

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bizra/vitals"
	"github.com/bizra/vitals/health"
	"github.com/bizra/vitals/internal/httpx"
	"github.com/bizra/vitals/metric"
)

// Options configures a Hub. The zero value (or nil) gives the defaults
// written on each field.
type Options struct {
	// Health, when set, feeds the health group: the performance report
	// (scores, factors, advice) and the probes in frames, and health
	// transitions pushed the moment the engine publishes them.
	Health *health.Engine
	// AllowedOrigins are host patterns (path.Match syntax, e.g.
	// "dash.example.com" or "*.example.com"; with "://" the pattern is
	// matched against scheme://host) of pages on other origins allowed to
	// connect. A page served by this same host is always allowed, and a
	// client that sends no Origin (not a browser) too. nil: same origin
	// only.
	AllowedOrigins []string
	// Token, when not empty, is the bearer token every client must
	// present (Authorization: Bearer <token>). Empty: no token.
	Token string
	// MaxClients caps connected clients over both transports; the next one
	// is refused (WebSocket: close 1013 "server full"; SSE: 503).
	// 0: 20000.
	MaxClients int
	// MaxSubscriptions caps subscriptions per WebSocket client. 0: 16.
	MaxSubscriptions int
	// MaxTopics caps topics per subscription. 0: 32.
	MaxTopics int
	// ReadLimit caps the size of one client message in bytes; a larger
	// one closes the connection (1009). 0: 4096.
	ReadLimit int64
	// QueueLimit caps the messages other than data frames (answers,
	// errors, health and alert events) queued for one client; past it the
	// client is disconnected ("queue overflow"). Data frames never queue:
	// each subscription holds at most its latest frame. 0: 256.
	QueueLimit int
	// StallTimeout is how long a client may stay behind (a write blocked,
	// or frames being coalesced) before it is disconnected ("stalled").
	// A blocked write with no newer frame to notice it is cut by the
	// connection's write deadline, between StallTimeout and 1.5
	// StallTimeout after it began. 0: 10s.
	StallTimeout time.Duration
	// ChurnRate is the sustained rate of subscribe and unsubscribe
	// requests one client may make per second; past it requests are
	// refused with a rate_limited error. 0: 5.
	ChurnRate float64
	// ChurnBurst is how many such requests may come at once. 0: 20.
	ChurnBurst int
	// Logger receives connection problems worth an operator's look. nil:
	// slog.Default().
	Logger *slog.Logger
}

func (o *Options) withDefaults() Options {
	var c Options
	if o != nil {
		c = *o
	}
	if c.MaxClients <= 0 {
		c.MaxClients = 20000
	}
	if c.MaxSubscriptions <= 0 {
		c.MaxSubscriptions = 16
	}
	if c.MaxTopics <= 0 {
		c.MaxTopics = 32
	}
	if c.ReadLimit <= 0 {
		c.ReadLimit = 4096
	}
	if c.QueueLimit <= 0 {
		c.QueueLimit = 256
	}
	if c.StallTimeout <= 0 {
		c.StallTimeout = 10 * time.Second
	}
	if c.ChurnRate <= 0 {
		c.ChurnRate = 5
	}
	if c.ChurnBurst <= 0 {
		c.ChurnBurst = 20
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// ErrClosed is returned by operations on a closed Hub.
var ErrClosed = errors.New("stream: hub closed")

// Hub serves live streams of a Monitor's series to WebSocket (/stream)
// and SSE (/events) clients. One feed goroutine per distinct interval
// reads the selected instruments once per interval and encodes one frame
// per distinct topic set; subscribers share the bytes. A pool of writer
// goroutines writes to WebSocket clients (the SSE handler's own goroutine
// writes for SSE); a client never holds more than one frame per
// subscription: one that falls behind gets the latest full state instead
// of the frames it missed, and past StallTimeout it is disconnected.
// Nothing a client does delays the collector or other clients.
//
// Construct with New; Mount registers the routes; Drain sends every client
// a going-away close; Close drains, stops every goroutine and waits.
type Hub struct {
	m     *vitals.Monitor
	reg   *metric.Registry
	o     Options
	token *httpx.Token
	log   *slog.Logger
	met   *hubMetrics

	mu       sync.Mutex
	clients  map[*client]struct{}
	feeds    map[time.Duration]*feed
	nextID   uint64
	draining bool
	closed   bool
	wg       sync.WaitGroup // feeds, the health forwarder, client writers

	writers *writers // WebSocket writes

	healthOnce sync.Once
	healthStop chan struct{}
	alerts     atomic.Pointer[[]byte] // the current alert list, encoded
	nclients   atomic.Int64
}

// New returns a Hub over m's registry and registers its self-metrics
// there. It starts nothing: feeds start with their first subscriber.
func New(m *vitals.Monitor, opts *Options) *Hub {
	o := opts.withDefaults()
	h := &Hub{
		m:          m,
		reg:        m.Registry(),
		o:          o,
		token:      httpx.NewToken(o.Token),
		log:        o.Logger,
		clients:    make(map[*client]struct{}),
		feeds:      make(map[time.Duration]*feed),
		healthStop: make(chan struct{}),
	}
	h.met = newHubMetrics(h.reg)
	h.writers = newWriters(h)
	return h
}

// Mount registers GET /stream (WebSocket) and GET /events (SSE) on mux.
func (h *Hub) Mount(mux *http.ServeMux) {
	mux.HandleFunc("GET /stream", h.ServeWebSocket)
	mux.HandleFunc("GET /events", h.ServeSSE)
}

// Clients returns the number of connected clients.
func (h *Hub) Clients() int { return int(h.nclients.Load()) }

// Drain closes every client with a going-away close (WebSocket 1001;
// SSE: the response ends after a "bye" message, and EventSource
// reconnects) and refuses new ones. Call it when shutdown begins, before
// http.Server.Shutdown waits for SSE handlers (for example with
// Server.RegisterOnShutdown). It is idempotent.
func (h *Hub) Drain() {
	h.mu.Lock()
	h.draining = true
	cs := make([]*client, 0, len(h.clients))
	for c := range h.clients {
		cs = append(cs, c)
	}
	h.mu.Unlock()
	for _, c := range cs {
		c.close(reasonGoingAway, "server going away")
	}
}

// Close drains, stops the feeds and the health forwarder, and waits for
// every goroutine the Hub started. It is idempotent.
func (h *Hub) Close() {
	h.Drain()
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return
	}
	h.closed = true
	feeds := make([]*feed, 0, len(h.feeds))
	for _, f := range h.feeds {
		feeds = append(feeds, f)
	}
	h.feeds = map[time.Duration]*feed{}
	h.mu.Unlock()
	for _, f := range feeds {
		close(f.stop)
	}
	close(h.healthStop)
	h.writers.stop()
	h.wg.Wait()
}

// admit registers a new client, or says why it cannot.
func (h *Hub) admit(c *client) (reason, msg string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case h.closed || h.draining:
		return reasonGoingAway, "server going away"
	case len(h.clients) >= h.o.MaxClients:
		return reasonServerFull, fmt.Sprintf("server full: %d clients", h.o.MaxClients)
	}
	h.clients[c] = struct{}{}
	h.wg.Add(1) // the transport's goroutine; Done in finish
	h.nclients.Add(1)
	h.met.clients[c.transport].Inc()
	if h.o.Health != nil {
		h.healthOnce.Do(func() {
			sub := h.o.Health.Subscribe(0)
			h.wg.Add(1)
			go h.forwardHealth(sub)
		})
	}
	return "", ""
}

func (h *Hub) forget(c *client) {
	h.mu.Lock()
	_, ok := h.clients[c]
	delete(h.clients, c)
	h.mu.Unlock()
	if ok {
		h.nclients.Add(-1)
		h.met.clients[c.transport].Dec()
	}
}

// join subscribes sub to the stream of (topics, interval), creating the
// stream and its feed when they are new.
func (h *Hub) join(sub *subscription, topics []Topic, interval time.Duration, ack func(*streamGroup)) error {
	key, ts := streamKey(topics)
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return ErrClosed
	}
	f := h.feeds[interval]
	if f == nil {
		f = newFeed(h, interval)
		h.feeds[interval] = f
		h.wg.Add(1)
		go func() { defer h.wg.Done(); f.run() }()
		h.met.feeds.Inc()
	}
	f.mu.Lock()
	g := f.streams[key]
	fresh := g == nil
	if fresh {
		h.nextID++
		g = &streamGroup{f: f, id: h.nextID, key: key, topics: ts, groups: map[string]bool{},
			subs: map[*subscription]struct{}{}, ids: map[*metric.Series]uint32{}, sent: map[uint32][]byte{}}
		for _, t := range ts {
			if t.group != "" {
				g.groups[t.group] = true
			}
		}
		f.streams[key] = g
		h.met.streams.Inc()
	}
	f.mu.Unlock()
	h.mu.Unlock()

	ack(g)
	g.mu.Lock()
	sub.g = g
	g.subs[sub] = struct{}{}
	push := g.seq > 0 && sub.c.offerData(sub, g)
	g.mu.Unlock()
	if push {
		h.writers.push(sub.c)
	}
	if fresh {
		select {
		case f.kick <- struct{}{}:
		default:
		}
	}
	return nil
}

// leave removes sub from its stream, dropping the stream and feed when
// they are left without subscribers.
func (h *Hub) leave(sub *subscription) {
	g := sub.g
	if g == nil {
		return
	}
	g.mu.Lock()
	delete(g.subs, sub)
	empty := len(g.subs) == 0
	g.mu.Unlock()
	if !empty {
		return
	}
	f := g.f
	h.mu.Lock()
	defer h.mu.Unlock()
	f.mu.Lock()
	g.mu.Lock()
	if len(g.subs) == 0 && f.streams[g.key] == g {
		delete(f.streams, g.key)
		h.met.streams.Dec()
	}
	g.mu.Unlock()
	stopFeed := len(f.streams) == 0 && h.feeds[f.interval] == f
	if stopFeed {
		delete(h.feeds, f.interval)
		h.met.feeds.Dec()
	}
	f.mu.Unlock()
	if stopFeed {
		close(f.stop)
	}
}

// value reads a counter or gauge series; a callback that panics reads
// NaN (the collector logs such panics; the stream only counts them).
func (h *Hub) value(f *metric.Family, s *metric.Series) (v float64) {
	if !s.IsFunc() {
		return s.Value()
	}
	defer func() {
		if r := recover(); r != nil {
			h.met.callbackPanics.Inc()
			v = math.NaN()
		}
	}()
	return s.Value()
}

// forwardHealth pushes every health transition to the clients subscribed
// to the health group the moment the engine publishes it.
func (h *Hub) forwardHealth(sub *health.Subscription) {
	defer h.wg.Done()
	defer sub.Close()
	for {
		select {
		case <-h.healthStop:
			return
		case ev, ok := <-sub.C():
			if !ok {
				return
			}
			b := appendHeader(nil, "health_event")
			b = append(b, `,"time":`...)
			b = appendInt(b, time.Now().UnixMilli())
			b = append(b, `,"event":`...)
			b = append(b, marshal(ev)...)
			b = append(b, '}')
			h.broadcast(GroupHealth, b)
		}
	}
}

// Alert is one alert's state as the alerts group shows it.
type Alert struct {
	Name     string            `json:"name"`
	State    string            `json:"state"` // "firing" or "pending"
	Severity string            `json:"severity,omitempty"`
	Labels   map[string]string `json:"labels,omitempty"`
	Summary  string            `json:"summary,omitempty"`
	Value    float64           `json:"value"`
	Since    time.Time         `json:"since"`
}

// PublishAlerts replaces the current alert list (the alerts that are
// pending or firing) and pushes it at once to every client subscribed to
// the alerts group; frames carry it from then on. An alert evaluator
// calls it on every state change. It never blocks.
func (h *Hub) PublishAlerts(alerts []Alert) {
	if alerts == nil {
		alerts = []Alert{}
	}
	for i := range alerts {
		if math.IsNaN(alerts[i].Value) || math.IsInf(alerts[i].Value, 0) {
			alerts[i].Value = 0
		}
	}
	enc := marshal(alerts)
	h.alerts.Store(&enc)
	b := appendHeader(nil, "alerts")
	b = append(b, `,"time":`...)
	b = appendInt(b, time.Now().UnixMilli())
	b = append(b, `,"alerts":`...)
	b = append(b, enc...)
	b = append(b, '}')
	h.broadcast(GroupAlerts, b)
}

func (h *Hub) broadcast(group string, msg []byte) {
	h.mu.Lock()
	cs := make([]*client, 0, len(h.clients))
	for c := range h.clients {
		cs = append(cs, c)
	}
	h.mu.Unlock()
	for _, c := range cs {
		if c.wants(group) {
			c.offerControl(msg)
		}
	}
}

// healthJSON is the health block of a frame.
type healthJSON struct {
	Time       time.Time `json:"time"`
	Live       string    `json:"live"`
	Ready      string    `json:"ready"`
	Draining   bool      `json:"draining"`
	Overall    any       `json:"overall"`
	Components any       `json:"components"`
}

// extras returns the encoded health block and alert list for a stream
// that wants them (nil otherwise).
func (h *Hub) extras(g *streamGroup) (healthB, alertsB []byte) {
	if g.wants(GroupHealth) && h.o.Health != nil {
		e := h.o.Health
		r := e.Performance()
		healthB = marshal(healthJSON{
			Time:       r.Time,
			Live:       e.Status(health.Liveness).Status.String(),
			Ready:      e.Status(health.Readiness).Status.String(),
			Draining:   e.Draining(),
			Overall:    r.Overall,
			Components: r.Components,
		})
	}
	if g.wants(GroupAlerts) {
		if a := h.alerts.Load(); a != nil {
			alertsB = *a
		} else {
			alertsB = []byte("[]")
		}
	}
	return healthB, alertsB
}

func (h *Hub) authorize(w http.ResponseWriter, r *http.Request) bool {
	if h.token.Enabled() && !h.token.Allow(r) {
		h.met.rejected[reasonUnauthorized].Inc()
		httpx.Unauthorized(w, r)
		return false
	}
	return true
}

func appendInt(b []byte, v int64) []byte { return strconv.AppendInt(b, v, 10) }

func itoa(n int) string { return strconv.Itoa(n) }

func ftoa(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
