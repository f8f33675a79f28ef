package vitalshttp_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/bizra/vitals"
	"github.com/bizra/vitals/vitalshttp"
)

func responses(t *testing.T, s *vitals.Snapshot, op, class string) float64 {
	t.Helper()
	p, ok := s.Lookup("vitals_http_responses_total", op, class)
	if !ok {
		return -1
	}
	return p.Value
}

// Handler names operations by the matched pattern, whether it wraps one
// route inside the mux or the whole mux.
func TestHandlerNamesByPattern(t *testing.T) {
	m := vitals.New(nil)
	mux := http.NewServeMux()
	mux.Handle("GET /users/{id}", vitalshttp.Handler(m, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(r.PathValue("id")))
	})))
	mux.HandleFunc("POST /orders", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusCreated) })
	mux.HandleFunc("GET /fail", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "down", http.StatusServiceUnavailable) })
	outer := vitalshttp.Handler(m, mux)

	for _, req := range []struct{ method, path string }{
		{"GET", "/users/1"}, {"GET", "/users/2"}, {"POST", "/orders"}, {"GET", "/fail"}, {"GET", "/nowhere"},
	} {
		outer.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(req.method, req.path, nil))
	}
	s := m.Collect()
	for _, c := range []struct {
		op, class string
		want      float64
	}{
		// The inner wrapper and the outer one both see GET /users/{id}.
		{"GET /users/{id}", "2xx", 4},
		{"POST /orders", "2xx", 1},
		{"GET /fail", "5xx", 1},
		{vitalshttp.Unmatched, "4xx", 1},
	} {
		if got := responses(t, s, c.op, c.class); got != c.want {
			t.Errorf("responses{%s,%s} = %v, want %v", c.op, c.class, got, c.want)
		}
	}
	if p, _ := s.Lookup("vitals_operation_errors_total", "GET /fail"); p.Value != 1 {
		t.Errorf("errors{GET /fail} = %v, want 1", p.Value)
	}
}

// The responses family follows Options.MaxOperations, not a fixed cap.
func TestRouteHonoursMaxOperations(t *testing.T) {
	m := vitals.New(&vitals.Options{MaxOperations: 2})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
	for _, name := range []string{"a", "b", "c", "d"} {
		vitalshttp.Route(m, name, h).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	}
	f := m.Registry().Family("vitals_http_responses_total")
	if f.MaxSeries != 5*2 {
		t.Fatalf("responses MaxSeries %d, want 10 (five classes for each of MaxOperations)", f.MaxSeries)
	}
	s := m.Collect()
	if got := responses(t, s, "__overflow__", "__overflow__"); got != 2 {
		t.Errorf("overflow responses %v, want 2 (c and d)", got)
	}
}

type nopWriter struct{ h http.Header }

func (w *nopWriter) Header() http.Header         { return w.h }
func (w *nopWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *nopWriter) WriteHeader(int)             {}

// Tracking a request allocates nothing, in either form.
func TestNoAllocationPerRequest(t *testing.T) {
	m := vitals.New(nil)
	body := []byte("ok")
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(body) })
	mux := http.NewServeMux()
	mux.Handle("GET /x/{id}", vitalshttp.Handler(m, h))
	w := &nopWriter{h: http.Header{}}
	// The ServeMux allocates for wildcard matches by itself; the wrapper
	// must add nothing to that.
	bare := http.NewServeMux()
	bare.Handle("GET /x/{id}", h)
	muxReq := httptest.NewRequest("GET", "/x/1", nil)
	if base, with := testing.AllocsPerRun(1000, func() { bare.ServeHTTP(w, muxReq) }),
		testing.AllocsPerRun(1000, func() { mux.ServeHTTP(w, muxReq) }); with != base {
		t.Errorf("Handler in a mux: %v allocations per request, the mux alone %v", with, base)
	}
	for name, c := range map[string]struct {
		h   http.Handler
		req *http.Request
	}{
		"Route":           {vitalshttp.Route(m, "x", h), httptest.NewRequest("GET", "/x", nil)},
		"Handler pattern": {vitalshttp.Handler(m, h), withPattern(httptest.NewRequest("GET", "/x/1", nil), "GET /x/{id}")},
	} {
		c.h.ServeHTTP(w, c.req)
		if n := testing.AllocsPerRun(1000, func() { c.h.ServeHTTP(w, c.req) }); n != 0 {
			t.Errorf("%s: %v allocations per request, want 0", name, n)
		}
	}
}

func withPattern(r *http.Request, p string) *http.Request { r.Pattern = p; return r }

// A handler that keeps its writer and writes after returning gets an
// error; the response it belonged to is untouched.
func TestLateWriteFails(t *testing.T) {
	m := vitals.New(nil)
	var kept http.ResponseWriter
	h := vitalshttp.Route(m, "late", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		kept = w
		w.Write([]byte("on time"))
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if _, err := kept.Write([]byte("late")); !errors.Is(err, vitalshttp.ErrWriterDone) {
		t.Fatalf("late write: %v, want ErrWriterDone", err)
	}
	if rec.Body.String() != "on time" {
		t.Fatalf("body %q", rec.Body.String())
	}
}
