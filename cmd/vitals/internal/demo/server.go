package demo

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/bizra/vitals/metric"
)

func listen(ln net.Listener, addr string) (net.Listener, error) {
	if ln != nil {
		return ln, nil
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", addr, err)
	}
	return l, nil
}

// Server timeouts. IdleTimeout is short so that idle keep-alive
// connections give their slot back soon; the connection limit closes
// them earlier when it needs the room.
const (
	readHeaderTimeout = 5 * time.Second
	readTimeout       = 30 * time.Second
	writeTimeout      = 60 * time.Second
	idleTimeout       = 30 * time.Second
	maxHeaderBytes    = 64 << 10
	maxBodyBytes      = 1 << 20
)

// newServer returns an http.Server with every timeout and limit set: a
// slow or vanished client must not hold a connection forever. limit, when
// not nil, tracks the server's connections (see connLimiter).
func newServer(h http.Handler, log *slog.Logger, base context.Context, limit *connLimiter) *http.Server {
	s := &http.Server{
		Handler:           http.MaxBytesHandler(h, maxBodyBytes),
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return base },
	}
	if limit != nil {
		s.ConnState = limit.track
	}
	return s
}

// connMetrics are the connection limits' self-metrics, one series per
// listener.
type connMetrics struct {
	open    *metric.FuncVec
	refused *metric.Vec[*metric.Counter]
	evicted *metric.Vec[*metric.Counter]
}

func newConnMetrics(reg *metric.Registry) *connMetrics {
	return &connMetrics{
		open: reg.GaugeFuncVec(metric.Opts{Name: "vitals_demo_http_connections",
			Help: "Open connections per listener.", Labels: []string{"listener"}}),
		refused: reg.CounterVec(metric.Opts{Name: "vitals_demo_http_connections_refused_total",
			Help: "Connections closed at accept because the listener's connection limit was reached and every connection was busy.", Labels: []string{"listener"}}),
		evicted: reg.CounterVec(metric.Opts{Name: "vitals_demo_http_connections_evicted_total",
			Help: "Idle keep-alive or silent new connections closed to make room for a new connection at the limit.", Labels: []string{"listener"}}),
	}
}

// connLimiter bounds a listener's open connections, so that idle
// keep-alive connections cannot exhaust the process's file descriptors
// and starve the probes. At the limit a new connection takes the place
// of the longest-idle keep-alive connection (closed, as IdleTimeout would
// close it; HTTP clients retry such a request), else of the oldest
// connection that has not sent a request yet; with neither, every
// connection is serving a request, and the new one is refused: closed at
// once and counted. Connections handed off by a handler (hijacked, such as
// WebSockets) stop counting: their owner bounds them.
type connLimiter struct {
	max              int
	refused, evicted *metric.Counter

	mu    sync.Mutex
	conns map[net.Conn]connInfo
}

type connInfo struct {
	state http.ConnState
	since time.Time
}

func newConnLimiter(max int, name string, cm *connMetrics) *connLimiter {
	l := &connLimiter{max: max, conns: make(map[net.Conn]connInfo, max),
		refused: cm.refused.With(name), evicted: cm.evicted.With(name)}
	cm.open.Bind(l.open, name)
	return l
}

func (l *connLimiter) open() float64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return float64(len(l.conns))
}

// listener wraps ln so that its connections count against l.
func (l *connLimiter) listener(ln net.Listener) net.Listener {
	return &limitListener{Listener: ln, l: l}
}

type limitListener struct {
	net.Listener
	l *connLimiter
}

func (ll *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := ll.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if ll.l.admit(c) {
			return c, nil
		}
		c.Close()
	}
}

func (l *connLimiter) admit(c net.Conn) bool {
	now := time.Now()
	l.mu.Lock()
	if len(l.conns) < l.max {
		l.conns[c] = connInfo{http.StateNew, now}
		l.mu.Unlock()
		return true
	}
	var victim net.Conn
	var vi connInfo
	for vc, ci := range l.conns {
		if ci.state != http.StateIdle && ci.state != http.StateNew {
			continue
		}
		// Idle keep-alive connections go first, then the oldest.
		if victim == nil || (ci.state == http.StateIdle && vi.state != http.StateIdle) ||
			(ci.state == vi.state && ci.since.Before(vi.since)) {
			victim, vi = vc, ci
		}
	}
	if victim == nil {
		l.mu.Unlock()
		l.refused.Inc()
		return false
	}
	delete(l.conns, victim)
	l.conns[c] = connInfo{http.StateNew, now}
	l.mu.Unlock()
	victim.Close() // outside the lock: the server's StateClosed hook takes it
	l.evicted.Inc()
	return true
}

// track is the server's ConnState hook.
func (l *connLimiter) track(c net.Conn, st http.ConnState) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch st {
	case http.StateClosed, http.StateHijacked:
		delete(l.conns, c)
	default:
		if _, ok := l.conns[c]; ok { // evicted ones are gone for good
			l.conns[c] = connInfo{st, time.Now()}
		}
	}
}
