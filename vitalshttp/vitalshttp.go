// Package vitalshttp tracks HTTP handlers as vitals operations.
//
//	m := vitals.New(nil)
//	mux := http.NewServeMux()
//	mux.Handle("GET /users/{id}", vitalshttp.Route(m, "GET /users/{id}", usersHandler))
//
// Each route is one operation (vitals_operation_duration_seconds and
// friends, with p50/p95/p99/p99.9 per minute from Monitor.OperationStats),
// and responses are counted by status class in
// vitals_http_responses_total{operation,code="1xx".."5xx"}. A response
// with status 500 or above, or a handler that panics, counts as an error.
//
// Name routes by their pattern, never by the raw path: operation names are
// label values and must come from a closed set.
package vitalshttp

import (
	"net/http"

	"github.com/bizra/vitals"
	"github.com/bizra/vitals/metric"
)

var statusClasses = [...]string{"1xx", "2xx", "3xx", "4xx", "5xx"}

type route struct {
	op    *vitals.Operation
	codes [len(statusClasses)]*metric.Counter
	next  http.Handler
}

// Route wraps next so that every request is tracked as the named operation.
// Call it once per route when building the mux, not per request.
func Route(m *vitals.Monitor, operation string, next http.Handler) http.Handler {
	v := m.Registry().CounterVec(metric.Opts{
		Name:      "vitals_http_responses_total",
		Help:      "HTTP responses by tracked operation and status class.",
		Labels:    []string{"operation", "code"},
		MaxSeries: 5 * 500,
	})
	r := &route{op: m.Operation(operation), next: next}
	for i, c := range statusClasses {
		r.codes[i] = v.With(operation, c)
	}
	return r
}

func (r *route) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	span := r.op.Start()
	sw := statusWriter{ResponseWriter: w}
	var err error
	defer func() {
		if p := recover(); p != nil {
			err = errPanic
			sw.status = http.StatusInternalServerError
			r.finish(span, &sw, &err)
			panic(p) // net/http logs it and closes the connection
		}
		r.finish(span, &sw, &err)
	}()
	r.next.ServeHTTP(&sw, req)
}

func (r *route) finish(span vitals.Span, sw *statusWriter, err *error) {
	code := sw.status
	if code == 0 {
		code = http.StatusOK
	}
	if code >= 500 && *err == nil {
		*err = errServer
	}
	if i := code/100 - 1; i >= 0 && i < len(r.codes) {
		r.codes[i].Inc()
	}
	span.End(err)
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
