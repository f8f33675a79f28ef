package health

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/bizra/vitals/internal/httpx"
	"github.com/bizra/vitals/score"
)

func serve(h http.Handler, method, target string, hdr http.Header) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, target, nil)
	for k, v := range hdr {
		r.Header[k] = v
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// httpFixture has one readiness check the test switches, one liveness
// gate, and results from one run.
func httpFixture(t *testing.T) (*fixture, *switchable, http.Handler) {
	t.Helper()
	f := newFixture(t, &Options{Version: "1.2.3", ServiceID: "demo", Hysteresis: Hysteresis{FailAfter: 1, RecoverAfter: 1}})
	sw := &switchable{}
	must(f.e.AddCheck(Check{Name: "pool", ComponentType: "datastore", ComponentID: "main", Func: func(ctx context.Context) Result {
		r := sw.check(ctx)
		r.ObservedValue, r.ObservedUnit = 0.5, "ratio"
		return r
	}}))
	f.step(0)
	mux := http.NewServeMux()
	f.e.Mount(mux)
	return f, sw, mux
}

func TestHTTPStatusCodes(t *testing.T) {
	t.Parallel()
	f, sw, h := httpFixture(t)
	for _, c := range []struct {
		set  score.Status
		code int
		body string
	}{{P, 200, "pass"}, {W, 200, "warn"}, {F, 503, "fail"}, {P, 200, "pass"}} {
		sw.set(c.set, "because "+c.set.String())
		f.step(time.Second)
		for _, path := range []string{"/health/ready", "/readyz", "/readyz/pool", "/health/ready/pool"} {
			w := serve(h, "GET", path, nil)
			var doc healthJSON
			if err := json.Unmarshal(w.Body.Bytes(), &doc); err != nil {
				t.Fatalf("%s: %v: %s", path, err, w.Body)
			}
			if w.Code != c.code || doc.Status != c.body {
				t.Fatalf("%s with %v: %d %s", path, c.set, w.Code, w.Body)
			}
		}
		if w := serve(h, "GET", "/livez", nil); w.Code != 200 {
			t.Fatalf("liveness follows a readiness check: %d", w.Code)
		}
	}
}

func TestHTTPHeaders(t *testing.T) {
	t.Parallel()
	_, _, h := httpFixture(t)
	for _, c := range []struct{ target, ctype string }{
		{"/health/live", ContentTypeHealthJSON},
		{"/health/ready", ContentTypeHealthJSON},
		{"/health/performance", ContentTypeHealthJSON},
		{"/livez/collector", ContentTypeHealthJSON},
		{"/readyz?verbose", ContentTypeText},
		{"/livez?verbose=1", ContentTypeText},
		{"/readyz/pool?verbose", ContentTypeText},
		{"/health/performance?verbose", ContentTypeText},
		{"/readyz?verbose=false", ContentTypeHealthJSON},
		{"/readyz?verbose=maybe", httpx.ContentTypeJSON},
	} {
		for _, method := range []string{"GET", "HEAD"} {
			w := serve(h, method, c.target, nil)
			hd := w.Header()
			if hd.Get("Content-Type") != c.ctype || hd.Get("Cache-Control") != "no-store" {
				t.Errorf("%s %s: Content-Type %q Cache-Control %q", method, c.target, hd.Get("Content-Type"), hd.Get("Cache-Control"))
			}
			for _, k := range []string{"Etag", "Last-Modified", "Expires", "Age"} {
				if hd.Get(k) != "" {
					t.Errorf("%s %s: caching header %s", method, c.target, k)
				}
			}
			if method == "HEAD" && w.Body.Len() != 0 {
				t.Errorf("HEAD %s has a body", c.target)
			}
			if method == "HEAD" && hd.Get("Content-Length") == "0" {
				t.Errorf("HEAD %s: Content-Length should be the GET body's", c.target)
			}
		}
	}
}

func TestHTTPMethodNotAllowed(t *testing.T) {
	t.Parallel()
	_, _, h := httpFixture(t)
	for _, m := range []string{"POST", "PUT", "DELETE", "PATCH", "OPTIONS"} {
		w := serve(h, m, "/readyz", nil)
		if w.Code != 405 || w.Header().Get("Allow") != "GET, HEAD" || !strings.Contains(w.Body.String(), `"error"`) {
			t.Errorf("%s: %d %v %s", m, w.Code, w.Header(), w.Body)
		}
	}
}

func TestHTTPJSONBody(t *testing.T) {
	t.Parallel()
	f, sw, h := httpFixture(t)
	sw.set(W, "pool 85% in use")
	f.step(time.Second)
	w := serve(h, "GET", "/readyz", nil)
	var doc struct {
		Status    string                       `json:"status"`
		Version   string                       `json:"version"`
		ServiceID string                       `json:"serviceId"`
		Checks    map[string][]json.RawMessage `json:"checks"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Status != "warn" || doc.Version != "1.2.3" || doc.ServiceID != "demo" || len(doc.Checks) != 2 {
		t.Fatalf("%s", w.Body)
	}
	want := `{"componentId":"main","componentType":"datastore","observedValue":0.5,"observedUnit":"ratio","status":"warn","time":"2026-01-01T00:00:01.000Z","output":"pool 85% in use"}`
	if got := string(doc.Checks["pool"][0]); got != want {
		t.Fatalf("check entry\n got %s\nwant %s", got, want)
	}
	if got := string(doc.Checks["shutdown"][0]); got != `{"componentType":"system","status":"pass","time":"2026-01-01T00:00:01.000Z"}` {
		t.Fatalf("pass entry has no output: %s", got)
	}
}

func TestHTTPVerbose(t *testing.T) {
	t.Parallel()
	f, sw, h := httpFixture(t)
	sw.set(F, "pool 100% in use\nwith 3 callers waiting")
	f.step(time.Second)
	w := serve(h, "GET", "/readyz?verbose&exclude=nosuch", nil)
	want := `warning: exclude: no ready check named "nosuch"; ignored
[+]shutdown ok
[-]pool failed: pool 100% in use with 3 callers waiting
readyz check failed
`
	if w.Code != 503 || w.Body.String() != want {
		t.Fatalf("%d\n%s", w.Code, w.Body)
	}
	w = serve(h, "GET", "/readyz?verbose&exclude=pool", nil)
	want = "[+]shutdown ok\n[+]pool excluded: fail\nreadyz check passed\n"
	if w.Code != 200 || w.Body.String() != want {
		t.Fatalf("%d\n%s", w.Code, w.Body)
	}
	if w := serve(h, "GET", "/livez/collector?verbose", nil); w.Body.String() != "[+]collector ok\n" {
		t.Fatalf("%s", w.Body)
	}
}

func TestHTTPExclude(t *testing.T) {
	t.Parallel()
	f, sw, h := httpFixture(t)
	f.e.Drain()
	sw.set(F, "x")
	f.step(time.Second)
	for _, c := range []struct {
		target string
		code   int
	}{
		{"/readyz", 503},
		{"/readyz?exclude=pool", 503},
		{"/readyz?exclude=pool&exclude=shutdown", 200},
		{"/readyz?exclude=pool,shutdown", 200},
		{"/readyz?exclude=pool,%20shutdown,", 200},
		{"/readyz?exclude=collector&exclude=pool&exclude=shutdown", 200}, // a liveness check: noted, ignored
		{"/readyz?exclude=bad%20name", 400},
		{"/readyz?exclude=%zz", 400},
		{"/readyz?exclude=" + strings.Repeat("a,", 101), 400},
		{"/readyz/pool?exclude=pool", 503}, // a per-check path ignores exclude
		{"/readyz?unrelated=1&exclude=pool&exclude=shutdown", 200},
	} {
		w := serve(h, "GET", c.target, nil)
		if w.Code != c.code {
			t.Errorf("%s: %d, want %d: %s", c.target, w.Code, c.code, w.Body)
		}
		if c.code == 400 && !json.Valid(w.Body.Bytes()) {
			t.Errorf("%s: 400 without a JSON body: %s", c.target, w.Body)
		}
	}
	w := serve(h, "GET", "/readyz?exclude=collector", nil)
	if !strings.Contains(w.Body.String(), `"notes":["exclude: no ready check named \"collector\"; ignored"]`) {
		t.Fatalf("notes: %s", w.Body)
	}
}

func TestHTTPPerCheckPaths(t *testing.T) {
	t.Parallel()
	_, _, h := httpFixture(t)
	for _, c := range []struct {
		target string
		code   int
	}{
		{"/readyz/pool", 200},
		{"/readyz/shutdown", 200},
		{"/livez/collector", 200},
		{"/health/live/collector", 200},
		{"/livez/pool", 404},    // a readiness check
		{"/readyz/nosuch", 404}, // unknown
		{"/readyz/a/b", 404},
		{"/readyz/", 200}, // the probe itself
		{"/health/perf", 404},
	} {
		if w := serve(h, "GET", c.target, nil); w.Code != c.code {
			t.Errorf("%s: %d, want %d: %s", c.target, w.Code, c.code, w.Body)
		}
	}
	// Unmounted paths reach the handler directly too.
	w := serve(newFixture(t, nil).e.Handler(), "GET", "/elsewhere", nil)
	if w.Code != 404 || w.Header().Get("Content-Type") != httpx.ContentTypeJSON || w.Header().Get("Cache-Control") != "no-store" {
		t.Fatalf("unknown path %d %v", w.Code, w.Header())
	}
}

func TestHTTPPerformance(t *testing.T) {
	t.Parallel()
	f, _, h := httpFixture(t)
	must(f.e.AddScorer("db", ScorerFunc(func() score.Score {
		return score.New("ignored", []score.Factor{{Name: "wait p99", Unit: "seconds", Observed: 0.12, Target: 0.05, Limit: 0.25, Weight: 2,
			Advice: "pool wait p99 is 120 ms against a 50 ms target: raise MaxOpenConns or shorten transactions"},
			{Name: "idle", NoData: true, Weight: 1}})
	})))
	w := serve(h, "GET", "/health/performance", nil)
	var doc struct {
		Status          string   `json:"status"`
		Score           float64  `json:"score"`
		Recommendations []string `json:"recommendations"`
		Checks          map[string][]struct {
			ObservedValue float64 `json:"observedValue"`
			Status        string  `json:"status"`
		} `json:"checks"`
		Components []struct {
			Component string `json:"component"`
			Score     float64
			Factors   []map[string]any `json:"factors"`
		} `json:"components"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &doc); err != nil {
		t.Fatalf("%v: %s", err, w.Body)
	}
	if w.Code != 200 || doc.Status != "warn" || len(doc.Components) != 3 || doc.Components[2].Component != "db" {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	if db := doc.Checks["db:score"]; len(db) != 1 || db[0].ObservedValue != 65 || db[0].Status != "warn" {
		t.Fatalf("db entry %+v", db)
	}
	if len(doc.Recommendations) == 0 || !strings.HasPrefix(doc.Recommendations[0], "pool wait p99 is 120 ms") {
		t.Fatalf("recommendations %v", doc.Recommendations)
	}
	if obs, has := doc.Components[2].Factors[1]["observed"]; !has || obs != nil {
		t.Fatal("a factor with no data must show a null observed value")
	}
	v := serve(h, "GET", "/health/performance?verbose", nil).Body.String()
	if !strings.Contains(v, "[!]db 65 warn\n    - pool wait p99 is 120 ms") || !strings.Contains(v, "\noverall ") {
		t.Fatalf("verbose performance:\n%s", v)
	}
}
