package monitorsapi

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/bizra/vitals"
	"github.com/bizra/vitals/breaker"
	"github.com/bizra/vitals/cache"
	"github.com/bizra/vitals/dbpool"
)

type rig struct {
	m   *vitals.Monitor
	clk *vitals.ManualClock
	api *API
	mux *http.ServeMux
	p   *dbpool.Pool
	c   *cache.Cache
	b   *breaker.Breaker
}

func newRig(t testing.TB) *rig {
	clk := vitals.NewManualClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	m := vitals.New(&vitals.Options{Clock: clk})
	r := &rig{m: m, clk: clk, api: New(m), mux: http.NewServeMux()}
	r.p = dbpool.New(m, "main", &dbpool.Options{Driver: "test"})
	r.c = cache.New(m, "products", &cache.Options{Tiers: 2, LatencySampleEvery: 1})
	r.b = breaker.New(m, "payments", nil)
	r.api.AddPool(r.p)
	r.api.AddCache(r.c)
	r.api.AddBreaker(r.b)
	r.api.Mount(r.mux)
	return r
}

func (r *rig) get(t testing.TB, target string) (int, map[string]any) {
	t.Helper()
	rec := httptest.NewRecorder()
	r.mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, target, nil))
	if ct := rec.Header().Get("Content-Type"); ct != "application/json; charset=utf-8" {
		t.Fatalf("%s: content type %q", target, ct)
	}
	var body map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatalf("%s: invalid JSON %q: %v", target, rec.Body.String(), err)
	}
	return rec.Code, body
}

// path walks a decoded document: path(doc, "pools", 0, "score", "status").
func path(t testing.TB, v any, keys ...any) any {
	t.Helper()
	for _, k := range keys {
		switch k := k.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				t.Fatalf("not an object at %q: %v", k, v)
			}
			if _, ok := m[k]; !ok {
				t.Fatalf("key %q missing in %v", k, m)
			}
			v = m[k]
		case int:
			a, ok := v.([]any)
			if !ok || k >= len(a) {
				t.Fatalf("no index %d in %v", k, v)
			}
			v = a[k]
		}
	}
	return v
}

func TestEndpoints(t *testing.T) {
	r := newRig(t)
	get := r.p.Op("user.get")
	r.p.BeginAcquire().End(nil)
	get.Start().End(nil)
	r.c.Begin().End(cache.L1)
	r.c.Begin().End(cache.L2)
	r.c.Set(cache.L2, 1000, 250)
	r.b.Record(breaker.Failure, 20*time.Millisecond)
	r.b.Transition(breaker.Closed, breaker.Open)
	r.m.Collect()
	r.clk.Advance(time.Second)
	r.m.Collect()

	code, db := r.get(t, "/metrics/database")
	if code != 200 {
		t.Fatalf("database: %d", code)
	}
	if v := path(t, db, "pools", 0, "name"); v != "main" {
		t.Fatal(v)
	}
	if v := path(t, db, "pools", 0, "window", "acquires", "ok"); v != 1.0 {
		t.Fatalf("acquires ok %v", v)
	}
	if v := path(t, db, "pools", 0, "config", "max_open"); v != nil {
		t.Fatalf("unknown max_open must be null, got %v", v)
	}
	if v := path(t, db, "pools", 0, "operations", 0, "latency_seconds", "count"); v != 1.0 {
		t.Fatalf("operation count %v", v)
	}
	factors := path(t, db, "pools", 0, "score", "factors").([]any)
	if len(factors) != 4 || path(t, factors[2], "name") != "wait_p99" || path(t, factors[2], "weight") != 2.0 ||
		path(t, factors[2], "target") != 0.01 || path(t, factors[2], "limit") != 0.25 {
		t.Fatalf("factors %v", factors)
	}
	if path(t, db, "time") != "2026-01-01T00:00:01Z" {
		t.Fatalf("time %v", path(t, db, "time"))
	}

	code, c := r.get(t, "/metrics/cache?name=products")
	if code != 200 {
		t.Fatalf("cache: %d", code)
	}
	if v := path(t, c, "caches", 0, "window", "hit_ratio"); v != 1.0 {
		t.Fatalf("hit ratio %v", v)
	}
	if v := path(t, c, "caches", 0, "tiers", 1, "compression_ratio"); v != 4.0 {
		t.Fatalf("compression %v", v)
	}
	if v := path(t, c, "caches", 0, "tiers", 0, "entries"); v != nil {
		t.Fatalf("unbound entries must be null, got %v", v)
	}
	if v := path(t, c, "caches", 0, "window", "latency_seconds", "l2", "count"); v != 1.0 {
		t.Fatalf("l2 latency count %v", v)
	}

	code, b := r.get(t, "/metrics/circuit-breaker?pretty")
	if code != 200 {
		t.Fatalf("breaker: %d", code)
	}
	if v := path(t, b, "breakers", 0, "state"); v != "open" {
		t.Fatalf("state %v", v)
	}
	if v := path(t, b, "breakers", 0, "state_seconds", "open"); v != 1.0 {
		t.Fatalf("open seconds %v", v)
	}
	if v := path(t, b, "breakers", 0, "transitions", 1); path(t, v, "from") != "closed" || path(t, v, "to") != "open" || path(t, v, "count") != 1.0 {
		t.Fatalf("transition %v", v)
	}
	if v := path(t, b, "breakers", 0, "recent_events", 0, "kind"); v != "transition" {
		t.Fatalf("event %v", v)
	}
	if v := path(t, b, "breakers", 0, "score", "status"); v != "fail" {
		t.Fatalf("status %v", v)
	}
	if v := path(t, b, "breakers", 0, "score", "recommendations").([]any); len(v) == 0 {
		t.Fatal("no recommendation for an open breaker")
	}
}

func TestBadRequests(t *testing.T) {
	r := newRig(t)
	for _, c := range []struct {
		target string
		code   int
		msg    string
	}{
		{"/metrics/database?name=nope", 404, "no monitor named"},
		{"/metrics/cache?foo=1", 400, "unknown parameter"},
		{"/metrics/cache?name=a&name=b", 400, "more than once"},
		{"/metrics/cache?name=", 400, "name must be"},
		{"/metrics/cache?name=%ff", 400, "name must be"},
		{"/metrics/cache?name=" + strings.Repeat("x", 201), 400, "name must be"},
		{"/metrics/circuit-breaker?pretty=maybe", 400, "pretty must be"},
		{"/metrics/circuit-breaker?%zz", 400, "malformed"},
		{"/metrics/circuit-breaker?" + strings.Repeat("a", 5000), 400, "longer than"},
		{"/metrics/database/main", 404, "no such endpoint"},
		{"/metrics/cache/", 404, "no such endpoint"},
		{"/metrics/circuit-breaker/x/y", 404, "no such endpoint"},
	} {
		code, body := r.get(t, c.target)
		if code != c.code || !strings.Contains(body["error"].(string), c.msg) {
			t.Errorf("%s: %d %v, want %d %q", c.target, code, body, c.code, c.msg)
		}
	}
	rec := httptest.NewRecorder()
	r.mux.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/metrics/cache", strings.NewReader("x")))
	if rec.Code != 405 || rec.Header().Get("Allow") != "GET, HEAD" {
		t.Fatalf("POST: %d %q", rec.Code, rec.Header().Get("Allow"))
	}
	rec = httptest.NewRecorder()
	r.mux.ServeHTTP(rec, httptest.NewRequest(http.MethodHead, "/metrics/cache", nil))
	if rec.Code != 200 || rec.Body.Len() != 0 {
		t.Fatalf("HEAD: %d with %d bytes", rec.Code, rec.Body.Len())
	}
	code, body := r.get(t, "/metrics/database?name=main&pretty=0")
	if code != 200 || len(body["pools"].([]any)) != 1 {
		t.Fatalf("filtered: %d %v", code, body)
	}
}

func TestEmptyAPI(t *testing.T) {
	m := vitals.New(nil)
	a := New(m)
	rec := httptest.NewRecorder()
	a.Database().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), `"pools":[]`) {
		t.Fatalf("%d %s", rec.Code, rec.Body.String())
	}
}

// FuzzQuery feeds arbitrary query strings and methods to every handler:
// the answer is always 200, 400, 404 or 405 with a JSON body, never a
// panic or a 500.
func FuzzQuery(f *testing.F) {
	r := newRig(f)
	r.m.Collect()
	for _, s := range []string{"", "name=main", "pretty", "name=%ff", "a=1&a=2", "name=products&pretty=true", "%", ";"} {
		f.Add("GET", 0, s)
	}
	f.Add("POST", 1, "name=x")
	paths := []string{PathDatabase, PathCache, PathCircuitBreaker}
	f.Fuzz(func(t *testing.T, method string, which int, query string) {
		if which < 0 {
			which = -which
		}
		req := httptest.NewRequest(http.MethodGet, paths[which%3], nil)
		req.URL.RawQuery = query
		if method == "POST" || method == "HEAD" || method == "DELETE" {
			req.Method = method
		}
		rec := httptest.NewRecorder()
		r.mux.ServeHTTP(rec, req)
		switch rec.Code {
		case 200, 400, 404, 405:
		default:
			t.Fatalf("%s %q: status %d", method, query, rec.Code)
		}
		if req.Method != http.MethodHead && !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("%q: invalid JSON %q", query, rec.Body.String())
		}
	})
}
