package queryapi

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/bizra/vitals"
	"github.com/bizra/vitals/aggregate"
	"github.com/bizra/vitals/history"
	"github.com/bizra/vitals/metric"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var t0 = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

// fixture is two hours of 10-second ticks of a counter, a gauge and a
// labelled histogram, behind a Handler.
type fixture struct {
	clk *vitals.ManualClock
	h   http.Handler
	api *API
	agg *aggregate.Aggregator
	st  *history.Store
	log *slog.Logger
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	clk := vitals.NewManualClock(t0.Add(-10 * time.Second))
	quiet := slog.New(slog.DiscardHandler)
	m := vitals.New(&vitals.Options{Clock: clk, Logger: quiet})
	agg := aggregate.New(m, nil)
	st, err := history.Open(m, &history.Options{Dir: t.TempDir(), Logger: quiet, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	r := m.Registry()
	reqs := r.Counter(metric.Opts{Name: "http_requests_total", Help: "Requests."})
	temp := r.Gauge(metric.Opts{Name: "queue_depth", Help: "Queue depth."})
	lat := r.HistogramVec(metric.Opts{Name: "http_request_duration_seconds", Help: "Latency.", Unit: "seconds", Labels: []string{"route"}})
	l := lat.With("/api")
	for i := 0; i < 720; i++ {
		clk.Advance(10 * time.Second)
		reqs.Add(10)
		temp.Set(int64(i % 7))
		for k := 0; k < 10; k++ {
			l.Observe(float64(1+(i*10+k)%100) / 1000)
		}
		m.Collect()
	}
	if err := st.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	api := New(agg, st, &Options{Clock: clk, Logger: quiet})
	return &fixture{clk: clk, h: api, api: api, agg: agg, st: st, log: quiet}
}

func (f *fixture) get(t testing.TB, target string) (int, map[string]any) {
	t.Helper()
	rec := httptest.NewRecorder()
	f.h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, target, nil))
	if ct := rec.Header().Get("Content-Type"); ct != "application/json; charset=utf-8" {
		t.Fatalf("%s: content type %q", target, ct)
	}
	var body map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatalf("%s: not JSON: %v\n%s", target, err, rec.Body.String())
	}
	return rec.Code, body
}

const histKey = `http_request_duration_seconds{route="/api"}`

func TestEndpoints(t *testing.T) {
	f := newFixture(t)
	esc := url.QueryEscape(histKey)

	code, body := f.get(t, "/api/v1/window?series="+esc+"&window=5m")
	ws := body["windows"].([]any)
	w := ws[0].(map[string]any)
	if code != 200 || len(ws) != 1 || w["window"] != "5m" || w["p99"].(float64) < 0.098 || w["p99"].(float64) > 0.1 || body["type"] != "histogram" {
		t.Fatalf("window: %d %v", code, body)
	}
	if _, body := f.get(t, "/api/v1/window?series=http_requests_total"); len(body["windows"].([]any)) != 4 {
		t.Fatalf("all windows: %v", body)
	}
	// A counter has no percentiles: null, not 0.
	if _, body := f.get(t, "/api/v1/window?series=http_requests_total&window=1m"); body["windows"].([]any)[0].(map[string]any)["p99"] != nil {
		t.Fatalf("counter p99: %v", body)
	}

	code, body = f.get(t, "/api/v1/series")
	var found bool
	for _, s := range body["series"].([]any) {
		e := s.(map[string]any)
		if e["key"] == histKey {
			found = e["type"] == "histogram" && e["unit"] == "seconds" && e["history"] == true && e["windows"] == true
		}
	}
	if code != 200 || !found {
		t.Fatalf("series: %d %v", code, body)
	}

	from := t0.Format(time.RFC3339)
	code, body = f.get(t, "/api/v1/query_range?series="+esc+"&stat=p99&from="+from+"&to="+rfc3339(t0.Add(time.Hour))+"&step=5m")
	pts := body["points"].([]any)
	if code != 200 || len(pts) != 13 || body["step_seconds"] != 300.0 || body["tier_seconds"] != 300.0 {
		t.Fatalf("query_range: %d %v", code, body)
	}
	p := pts[0].([]any)
	if p[0].(float64) != float64(t0.Unix()) || p[1].(float64) < 0.098 || p[1].(float64) > 0.1 {
		t.Fatalf("first point %v", p)
	}
	// Defaults: the last hour, about 720 points at the finest tier.
	code, body = f.get(t, "/api/v1/query_range?series=http_requests_total&stat=rate")
	if code != 200 || body["tier_seconds"] != 60.0 || len(body["points"].([]any)) < 59 {
		t.Fatalf("defaults: %d %v", code, body)
	}
	if v := body["points"].([]any)[5].([]any)[1].(float64); v != 1 {
		t.Fatalf("rate %v, want 1/s", v)
	}
	code, body = f.get(t, "/api/v1/query_range?series=queue_depth&stat=max&from=now-2h&to=now&step=3600")
	if code != 200 || len(body["points"].([]any)) != 2 { // the hours from 00:00; none before t0
		t.Fatalf("relative times: %d %v", code, body)
	}
}

func rfc3339(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func TestBadRequests(t *testing.T) {
	f := newFixture(t)
	esc := url.QueryEscape(histKey)
	for _, c := range []struct {
		target string
		code   int
		say    string
	}{
		{"/api/v1/window", 400, "series is required"},
		{"/api/v1/window?series=nope", 400, "unknown series"},
		{"/api/v1/window?series=" + esc + "&window=2m", 400, "not one of 1m, 5m, 15m, 1h"},
		{"/api/v1/window?series=" + esc + "&series=x", 400, "given 2 times"},
		{"/api/v1/window?series=%zz", 400, "malformed query"},
		{"/api/v1/query_range?stat=p99", 400, "series is required"},
		{"/api/v1/query_range?series=nope&stat=p99", 400, "unknown series"},
		{"/api/v1/query_range?series=" + esc, 400, "stat is required"},
		{"/api/v1/query_range?series=" + esc + "&stat=p98", 400, "not one of count"},
		{"/api/v1/query_range?series=http_requests_total&stat=p99", 400, "not defined for counter"},
		{"/api/v1/query_range?series=queue_depth&stat=rate", 400, "not defined for gauge"},
		{"/api/v1/query_range?series=" + esc + "&stat=p99&from=2026-03-02T00:00:00Z&to=2026-03-01T00:00:00Z", 400, "is after"},
		{"/api/v1/query_range?series=" + esc + "&stat=p99&from=yesterday", 400, "neither RFC 3339"},
		{"/api/v1/query_range?series=" + esc + "&stat=p99&from=1e300", 400, "Unix seconds"},
		{"/api/v1/query_range?series=" + esc + "&stat=p99&from=NaN", 400, "neither RFC 3339"},
		{"/api/v1/query_range?series=" + esc + "&stat=p99&to=now-", 400, "now-<duration>"},
		{"/api/v1/query_range?series=" + esc + "&stat=p99&step=0", 400, "step"},
		{"/api/v1/query_range?series=" + esc + "&stat=p99&step=-5m", 400, "step"},
		{"/api/v1/query_range?series=" + esc + "&stat=p99&step=fast", 400, "step"},
		{"/api/v1/query_range?series=" + esc + "&stat=p99&from=0&to=now&step=1h", 400, "too many points"},
		{"/api/v1/query_range?series=" + esc + "&stat=p99&from=" + strings.Repeat("9", 100), 400, "longer than"},
		{"/api/v1/query_range?" + strings.Repeat("a=b&", 3000), 400, "query string longer"},
		{"/api/v1/nothing", 404, "no such endpoint"},
	} {
		code, body := f.get(t, c.target)
		msg, _ := body["error"].(string)
		if code != c.code || !strings.Contains(msg, c.say) {
			t.Errorf("%s: %d %q, want %d saying %q", c.target, code, msg, c.code, c.say)
		}
	}
	rec := httptest.NewRecorder()
	f.h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/api/v1/series", strings.NewReader("x")))
	if rec.Code != 405 || rec.Header().Get("Allow") != "GET, HEAD" {
		t.Fatalf("POST: %d %v", rec.Code, rec.Header())
	}
}

func TestDisabledParts(t *testing.T) {
	h := New(nil, nil, nil)
	for _, target := range []string{"/api/v1/window?series=x", "/api/v1/query_range?series=x&stat=p99"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, target, nil))
		if rec.Code != 404 || !strings.Contains(rec.Body.String(), "not enabled") {
			t.Fatalf("%s: %d %s", target, rec.Code, rec.Body)
		}
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/v1/series", nil))
	if rec.Code != 200 || rec.Body.String() != "{\"series\":[]}\n" {
		t.Fatalf("series: %d %s", rec.Code, rec.Body)
	}
}

func TestAppendString(t *testing.T) {
	for _, s := range []string{"plain", `q"uo\te`, "ctl\x00\x1f\n\r\t", "<script>&", "bad\xff\xfeutf8", "ünïcode ✓ \u2028"} {
		var got string
		if err := json.Unmarshal(appendString(nil, s), &got); err != nil {
			t.Fatalf("%q: %v", s, err)
		}
		if want := strings.ToValidUTF8(s, "\ufffd"); got != want && !strings.Contains(s, "\xff") {
			t.Fatalf("%q round-tripped as %q", s, got)
		}
	}
}
