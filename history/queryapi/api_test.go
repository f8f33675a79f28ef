package queryapi

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bizra/vitals/metric"
)

// TestMount: the API's routes on a service's mux, JSON answers for wrong
// methods and unknown paths under /api/v1/, and nothing taken from the
// rest of the mux.
func TestMount(t *testing.T) {
	f := newFixture(t)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /shop", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("shop")) })
	f.api.Mount(mux)
	do := func(method, target string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest(method, target, nil))
		return rec
	}
	for _, c := range []struct {
		method, target string
		code           int
		say            string
	}{
		{"GET", "/api/v1/series", 200, `"series"`},
		{"HEAD", "/api/v1/series", 200, ""},
		{"GET", "/api/v1/query_range?series=http_requests_total&stat=rate", 200, `"points"`},
		{"POST", "/api/v1/query_range", 405, `"error"`},
		{"DELETE", "/api/v1/window", 405, `"error"`},
		{"GET", "/api/v1/nothing", 404, `"error":"no such endpoint`},
		{"GET", "/api/v1/", 404, `"error"`},
		{"GET", "/shop", 200, "shop"},
	} {
		rec := do(c.method, c.target)
		if rec.Code != c.code || !strings.Contains(rec.Body.String(), c.say) {
			t.Errorf("%s %s: %d %s", c.method, c.target, rec.Code, rec.Body)
		}
		if c.say != "shop" && c.method != "HEAD" && !json.Valid(rec.Body.Bytes()) {
			t.Errorf("%s %s: not JSON: %s", c.method, c.target, rec.Body)
		}
	}
	// A mux that already has a handler for /api/v1/ keeps it.
	mux2 := http.NewServeMux()
	mux2.HandleFunc("/api/v1/", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(418) })
	f.api.Mount(mux2)
	rec := httptest.NewRecorder()
	mux2.ServeHTTP(rec, httptest.NewRequest("GET", "/api/v1/other", nil))
	if rec.Code != 418 {
		t.Fatalf("the mux's own /api/v1/ handler was replaced: %d", rec.Code)
	}
}

// TestParameterRules: one rule on every endpoint: an unknown parameter,
// or a known one without a value, is a 400 that names it.
func TestParameterRules(t *testing.T) {
	f := newFixture(t)
	esc := url.QueryEscape(histKey)
	for _, c := range []struct{ target, say string }{
		{"/api/v1/series?name[]=", `unknown parameter "name[]"`},
		{"/api/v1/series?x=1", `takes none`},
		{"/api/v1/window?series=" + esc + "&name[]=", `unknown parameter "name[]"`},
		{"/api/v1/window?series=" + esc + "&windows=5m", `takes series, window`},
		{"/api/v1/window?series=" + esc + "&window=", "window has no value"},
		{"/api/v1/query_range?series=" + esc + "&stat=p99&name[]=", `unknown parameter "name[]"`},
		{"/api/v1/query_range?series=" + esc + "&stat=p99&_=1700000000", `unknown parameter "_"`},
		{"/api/v1/query_range?series=" + esc + "&stat=p99&from=", "from has no value"},
		{"/api/v1/query_range?series=" + esc + "&stat=p99&step=", "step has no value"},
		{"/api/v1/query_range?series=&stat=p99", "series has no value"},
	} {
		code, body := f.get(t, c.target)
		if msg, _ := body["error"].(string); code != 400 || !strings.Contains(msg, c.say) {
			t.Errorf("%s: %d %q, want 400 saying %q", c.target, code, msg, c.say)
		}
	}
}

// TestDaysAndWeeks: every duration parameter takes days and weeks, since
// history spans 90 days.
func TestDaysAndWeeks(t *testing.T) {
	f := newFixture(t)
	f.clk.Set(t0.Add(24 * time.Hour))
	for _, c := range []struct {
		q    string
		step float64
	}{
		{"from=now-90d&step=1d", 86400},
		{"from=now-7d", 0},
		{"from=now-2w&to=now-1d&step=1w", 7 * 86400},
		{"from=now-1d12h&step=1h", 3600},
	} {
		code, body := f.get(t, "/api/v1/query_range?series=http_requests_total&stat=count&"+c.q)
		if code != 200 || (c.step != 0 && body["step_seconds"] != c.step) {
			t.Errorf("%s: %d %v", c.q, code, body)
		}
	}
	for _, c := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"90d", 90 * 24 * time.Hour, true}, {"2w", 14 * 24 * time.Hour, true}, {"1d12h", 36 * time.Hour, true},
		{"1.5h", 90 * time.Minute, true}, {"5m", 5 * time.Minute, true}, {"0", 0, true}, {"300ms", 300 * time.Millisecond, true},
		{"", 0, false}, {"d", 0, false}, {"5", 0, false}, {"5y", 0, false}, {"-5m", 0, false}, {"1..5h", 0, false},
		{"99999999w", 0, false}, {"1h-5m", 0, false},
	} {
		got, err := parseDuration(c.in)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("parseDuration(%q) = %v, %v", c.in, got, err)
		}
	}
}

// TestAdmission: past MaxInFlight, query_range requests wait in the
// queue; past QueueTimeout, or with the queue full, they get 503 with
// Retry-After; cheap endpoints are not queued. Every refusal is counted
// in vitals_history_query_rejected_total by reason.
func TestAdmission(t *testing.T) {
	f := newFixture(t)
	reg := metric.NewRegistry()
	api := New(f.agg, f.st, &Options{Clock: f.clk, MaxInFlight: 1, MaxQueue: 1, QueueTimeout: 50 * time.Millisecond, Logger: f.log, Registry: reg})
	rejected := func(want map[string]uint64) {
		t.Helper()
		v := reg.CounterVec(rejectedOpts)
		for _, reason := range []string{RejectQueueFull, RejectQueueTimeout, RejectClientGone, RejectQueryTimeout} {
			if got := v.With(reason).Value(); got != want[reason] {
				t.Errorf("%s{reason=%q} = %d, want %d", QueryRejectedName, reason, got, want[reason])
			}
		}
	}
	target := "/api/v1/query_range?series=http_requests_total&stat=rate"
	get := func() *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		api.ServeHTTP(rec, httptest.NewRequest("GET", target, nil))
		return rec
	}
	if rec := get(); rec.Code != 200 {
		t.Fatalf("idle: %d %s", rec.Code, rec.Body)
	}
	rejected(nil)             // every reason exported at 0 from the start
	api.h.slots <- struct{}{} // a query in flight
	if rec := get(); rec.Code != 503 || rec.Header().Get("Retry-After") != "1" || !strings.Contains(rec.Body.String(), "too many queries") {
		t.Fatalf("after the queue timeout: %d %v %s", rec.Code, rec.Header(), rec.Body)
	}
	rejected(map[string]uint64{RejectQueueTimeout: 1})
	// A client that leaves while queued.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	api.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", target, nil).WithContext(ctx))
	rejected(map[string]uint64{RejectQueueTimeout: 1, RejectClientGone: 1})
	api.h.queue <- struct{}{} // the queue full
	start := time.Now()
	if rec := get(); rec.Code != 503 || time.Since(start) > 40*time.Millisecond {
		t.Fatalf("with the queue full: %d after %v", rec.Code, time.Since(start))
	}
	rejected(map[string]uint64{RejectQueueTimeout: 1, RejectClientGone: 1, RejectQueueFull: 1})
	rec := httptest.NewRecorder()
	api.ServeHTTP(rec, httptest.NewRequest("GET", "/api/v1/series", nil))
	if rec.Code != 200 {
		t.Fatalf("series while queries are saturated: %d", rec.Code)
	}
	<-api.h.queue
	// A waiting request runs when the slot frees.
	var wg sync.WaitGroup
	var code int
	wg.Add(1)
	api2 := New(f.agg, f.st, &Options{Clock: f.clk, MaxInFlight: 1, QueueTimeout: 10 * time.Second, Logger: f.log, Registry: reg})
	api2.h.slots <- struct{}{}
	go func() {
		defer wg.Done()
		rec := httptest.NewRecorder()
		api2.ServeHTTP(rec, httptest.NewRequest("GET", target, nil))
		code = rec.Code
	}()
	for len(api2.h.queue) == 0 {
		time.Sleep(time.Millisecond)
	}
	<-api2.h.slots
	wg.Wait()
	if code != 200 {
		t.Fatalf("queued request: %d", code)
	}
	<-api.h.slots
	// A query that runs past Timeout: 503, counted apart from admission
	// (a statistic not asked before, so it is computed, not cached).
	api3 := New(f.agg, f.st, &Options{Clock: f.clk, Timeout: time.Nanosecond, Logger: f.log, Registry: reg})
	rec = httptest.NewRecorder()
	api3.ServeHTTP(rec, httptest.NewRequest("GET", "/api/v1/query_range?series=queue_depth&stat=max", nil))
	if rec.Code != 503 || !strings.Contains(rec.Body.String(), "did not finish") {
		t.Fatalf("query past its timeout: %d %s", rec.Code, rec.Body)
	}
	rejected(map[string]uint64{RejectQueueTimeout: 1, RejectClientGone: 1, RejectQueueFull: 1, RejectQueryTimeout: 1})
}
