// Package vitalshttp tracks HTTP handlers as vitals operations.
//
//	m := vitals.New(nil)
//	mux := http.NewServeMux()
//	mux.Handle("GET /users/{id}", usersHandler)
//	mux.Handle("POST /orders", ordersHandler)
//	srv := &http.Server{Handler: vitalshttp.Handler(m, mux)}
//
// Handler names each request's operation by the ServeMux pattern that
// matched it (http.Request.Pattern, "GET /users/{id}"), so every route is
// tracked without writing its pattern twice; it works around a whole mux,
// as above, or around one handler inside it. Route names the operation
// explicitly, for handlers that are not behind a ServeMux or that should
// share or change a name.
//
// Each operation is tracked as Monitor.Operation does
// (vitals_operation_duration_seconds and friends, with p50/p95/p99/p99.9
// per minute from Monitor.OperationStats), and responses are counted by
// status class in vitals_http_responses_total{operation,code="1xx".."5xx"}.
// A response with status 500 or above, or a handler that panics, counts as
// an error. Both follow the Monitor's Options.MaxOperations: operations past
// it are tracked under "__overflow__".
//
// Operation names are label values and must come from a closed set: name
// routes by their pattern, never by the raw path. A request that no
// pattern matched (a 404 of the mux, or a handler reached without a
// ServeMux) is tracked as Unmatched.
//
// Tracking a request allocates nothing: the ResponseWriter wrapper that
// records the status comes from a pool and goes back to it when the
// handler returns; as net/http requires, a handler must not use its
// ResponseWriter after ServeHTTP returns (a late write is dropped with
// ErrWriterDone, but could reach a later request's response once the
// wrapper is reused).
package vitalshttp

import (
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bizra/vitals"
	"github.com/bizra/vitals/metric"
)

// Unmatched is the operation of requests that reached Handler with no
// ServeMux pattern.
const Unmatched = "unmatched"

// ErrWriterDone is what a handler's Write returns when it writes after its
// ServeHTTP returned.
var ErrWriterDone = errors.New("vitalshttp: ResponseWriter used after the handler returned")

var statusClasses = [...]string{"1xx", "2xx", "3xx", "4xx", "5xx"}

// tracked is one operation's handles: looked up once, used per request.
type tracked struct {
	op    *vitals.Operation
	codes [len(statusClasses)]*metric.Counter
}

// responses returns the response counter family, capped like the
// Monitor's operations: five status classes for each of MaxOperations.
func responses(m *vitals.Monitor) *metric.Vec[*metric.Counter] {
	return m.Registry().CounterVec(metric.Opts{
		Name:      "vitals_http_responses_total",
		Help:      "HTTP responses by tracked operation and status class.",
		Labels:    []string{"operation", "code"},
		MaxSeries: len(statusClasses) * maxOperations(m),
	})
}

// maxOperations reads the Monitor's Options.MaxOperations from the family
// that enforces it, the operation duration histogram.
func maxOperations(m *vitals.Monitor) int {
	if f := m.Registry().Family("vitals_operation_duration_seconds"); f != nil {
		return f.MaxSeries
	}
	return metric.DefaultMaxSeries
}

func newTracked(m *vitals.Monitor, v *metric.Vec[*metric.Counter], operation string) *tracked {
	t := &tracked{op: m.Operation(operation)}
	for i, c := range statusClasses {
		t.codes[i] = v.With(operation, c)
	}
	return t
}

// Route wraps next so that every request is tracked as the named
// operation. Call it once per route when building the mux, not per
// request. Handler does the same with the name taken from the mux.
func Route(m *vitals.Monitor, operation string, next http.Handler) http.Handler {
	t := newTracked(m, responses(m), operation)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		serve(w, r, next, t, nil)
	})
}

// Handler wraps next, a ServeMux or a handler registered in one, so that
// every request is tracked as the operation named by the pattern that
// matched it (r.Pattern, read when next returns), or as Unmatched. Wrap
// once, when building the server, not per request.
func Handler(m *vitals.Monitor, next http.Handler) http.Handler {
	p := &byPattern{m: m, resp: responses(m)}
	p.all.Store(&map[string]*tracked{})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		serve(w, r, next, nil, p)
	})
}

// byPattern maps patterns to their handles: a copy-on-write map read
// without a lock, and the last pattern seen for the common case of a
// Handler wrapping one route.
type byPattern struct {
	m    *vitals.Monitor
	resp *metric.Vec[*metric.Counter]
	last atomic.Pointer[patternTracked]
	all  atomic.Pointer[map[string]*tracked]
	mu   sync.Mutex // serialises additions to all
}

type patternTracked struct {
	pattern string
	t       *tracked
}

func (p *byPattern) lookup(r *http.Request) *tracked {
	pattern := r.Pattern
	if pattern == "" {
		pattern = Unmatched
	}
	if l := p.last.Load(); l != nil && l.pattern == pattern {
		return l.t
	}
	t := (*p.all.Load())[pattern]
	if t == nil {
		t = p.add(pattern)
	}
	p.last.Store(&patternTracked{pattern: pattern, t: t})
	return t
}

// add registers a pattern seen for the first time. Patterns come from the
// mux's registrations, never from the request, so the map stays as small
// as the route table.
func (p *byPattern) add(pattern string) *tracked {
	p.mu.Lock()
	defer p.mu.Unlock()
	old := *p.all.Load()
	if t := old[pattern]; t != nil {
		return t
	}
	next := make(map[string]*tracked, len(old)+1)
	for k, v := range old {
		next[k] = v
	}
	t := newTracked(p.m, p.resp, pattern)
	next[pattern] = t
	p.all.Store(&next)
	return t
}

var writers = sync.Pool{New: func() any { return new(statusWriter) }}

// serve runs next and records the request under t (Route) or under the
// operation of its pattern (Handler, p). r.Pattern is set before next runs
// when the wrapper sits inside a ServeMux, and the span starts then, so the
// request counts as in flight; around the mux, next sets it, and the
// request is recorded when it ends, not counted in flight.
func serve(w http.ResponseWriter, r *http.Request, next http.Handler, t *tracked, p *byPattern) {
	var span vitals.Span
	if t == nil && r.Pattern != "" {
		t = p.lookup(r)
	}
	if t != nil {
		span = t.op.Start()
	}
	start := metric.Nanotime()
	sw := writers.Get().(*statusWriter)
	sw.ResponseWriter, sw.status = w, 0
	panicked := true
	defer func() {
		code := sw.status
		sw.ResponseWriter, sw.status = doneWriter{}, 0
		writers.Put(sw)
		if panicked {
			code = http.StatusInternalServerError
		} else if code == 0 {
			code = http.StatusOK
		}
		var err error
		switch {
		case panicked:
			err = errPanic
		case code >= 500:
			err = errServer
		}
		if i := code/100 - 1; t != nil {
			if i >= 0 && i < len(t.codes) {
				t.codes[i].Inc()
			}
			span.End(&err)
		} else {
			t = p.lookup(r)
			if i >= 0 && i < len(t.codes) {
				t.codes[i].Inc()
			}
			t.op.Observe(time.Duration(metric.Nanotime()-start), err)
		}
		// A panic goes on up: net/http logs it and closes the connection.
	}()
	next.ServeHTTP(sw, r)
	panicked = false
}

type httpError string

func (e httpError) Error() string { return string(e) }

const (
	errServer httpError = "server error status"
	errPanic  httpError = "handler panicked"
)

// statusWriter records the status code. Unwrap lets http.ResponseController
// reach the original writer's Flush, Hijack and deadlines.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Flush passes through for streaming handlers.
func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// doneWriter stands in for the ResponseWriter of a finished request in a
// pooled statusWriter, so a late write fails instead of reaching a stale
// connection.
type doneWriter struct{}

func (doneWriter) Header() http.Header       { return http.Header{} }
func (doneWriter) Write([]byte) (int, error) { return 0, ErrWriterDone }
func (doneWriter) WriteHeader(int)           {}
