package eval

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/bizra/vitals"
	"github.com/bizra/vitals/alerting/rules"
	"github.com/bizra/vitals/alerting/store"
	"github.com/bizra/vitals/metric"
	"github.com/bizra/vitals/vitalstest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fixture: a Monitor with a gauge, a counter and a histogram, a store
// keeping every tick, and an evaluator over one alert on the gauge.
type fixture struct {
	t     *testing.T
	tick  func() time.Time
	gauge *metric.Gauge
	ev    *Evaluator
	st    *store.Store
	clk   *vitals.ManualClock
	now   time.Time
}

func newFixture(t *testing.T, r rules.Rule, n *Notifier) *fixture {
	m, clk := vitalstest.NewMonitor(t)
	reg := m.Registry()
	g := reg.GaugeVec(metric.Opts{Name: "vitals_db_pool_waiters", Help: "h", Labels: []string{"pool"}}).With("shop")
	op := m.Operation("GET /x")
	st := store.New(m, &store.Options{Resolution: time.Second, Labels: map[string]string{"job": "shop", "instance": "a:1"}})
	t.Cleanup(st.Close)
	r.Severity, r.Summary, r.Description, r.Runbook, r.Test = rules.Warning, "pool {{ $labels.pool }}", "waiters {{ $value }}", "rb", &rules.Case{}
	ev, err := New(st, &Options{Groups: []rules.Group{{Name: "g", Interval: time.Second, Rules: []rules.Rule{r}}}, Notifier: n, ResendDelay: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, gauge: g, ev: ev, st: st, clk: clk}
	f.tick = func() time.Time {
		for range 5 {
			op.Observe(200*time.Millisecond, nil)
		}
		f.now = vitalstest.Tick(m, clk, time.Second).Time
		return f.now
	}
	return f
}

func (f *fixture) state() string {
	var s []string
	for _, a := range f.ev.Alerts() {
		s = append(s, a.State.String())
	}
	return strings.Join(s, ",")
}

// TestForAndKeepFiringFor walks one alert through pending, firing,
// keep_firing_for and resolved, evaluating every second.
func TestForAndKeepFiringFor(t *testing.T) {
	f := newFixture(t, rules.Rule{Alert: "VitalsWaiting", Expr: "vitals_db_pool_waiters > 0", For: 3 * time.Second, KeepFiringFor: 2 * time.Second}, nil)
	var events []Event
	var mu sync.Mutex
	f.ev.opts.OnEvent = func(ev []Event) { mu.Lock(); events = append(events, ev...); mu.Unlock() }
	step := func(waiters int64, want string) {
		t.Helper()
		f.gauge.Set(waiters)
		f.ev.Eval(context.Background(), f.tick())
		if got := f.state(); got != want {
			t.Fatalf("waiters=%d: state %q, want %q", waiters, got, want)
		}
	}
	step(0, "")
	step(2, "pending")
	step(2, "pending")
	step(2, "pending")
	step(2, "firing") // 3 s after it became active
	step(0, "firing") // keep_firing_for 2 s
	step(0, "firing")
	step(0, "") // resolved
	step(2, "pending")
	step(0, "") // a pending alert is dropped at once
	mu.Lock()
	defer mu.Unlock()
	var trans []string
	for _, e := range events {
		trans = append(trans, e.From.String()+">"+e.To.String())
	}
	if got := strings.Join(trans, " "); got != "inactive>pending pending>firing firing>inactive inactive>pending pending>inactive" {
		t.Fatalf("events %s", got)
	}
	if a := events[1].Alert; a.Labels.Get("pool") != "shop" || a.Labels.Get("alertname") != "VitalsWaiting" || a.Labels.Get("severity") != "warning" ||
		a.Annotations.Get("summary") != "pool shop" || a.Annotations.Get("description") != "waiters 2" {
		t.Fatalf("alert %v %v", a.Labels, a.Annotations)
	}
}

// TestDefaultRulesEvaluate runs every shipped rule through the engine:
// none may fail (a histogram function over a float series, a bad
// matcher), and the recording rules must record.
func TestDefaultRulesEvaluate(t *testing.T) {
	m, clk := vitalstest.NewMonitor(t)
	reg := m.Registry()
	_ = reg
	op := m.Operation("GET /x")
	fail := errors.New("failed")
	st := store.New(m, &store.Options{Resolution: time.Second})
	defer st.Close()
	ev, err := New(st, nil)
	if err != nil {
		t.Fatal(err)
	}
	var now time.Time
	for range 400 {
		for i := range 10 { // 50% errors, 2 s each: error-ratio, burn-rate and latency alerts go pending
			var err error
			if i%2 == 0 {
				err = fail
			}
			op.Observe(2*time.Second, err)
		}
		now = vitalstest.Tick(m, clk, time.Second).Time
	}
	ev.Eval(context.Background(), now)
	ev.mu.RLock()
	for _, g := range ev.groups {
		for _, r := range g.rules {
			if r.health != "ok" {
				t.Errorf("%s: %s %s", r.r.Name(), r.health, r.lastErr)
			}
		}
	}
	ev.mu.RUnlock()
	got := map[string]bool{}
	for _, a := range ev.Alerts() {
		got[a.Labels.Get("alertname")] = true
	}
	for _, want := range []string{"VitalsOperationErrorRatioHigh", "VitalsOperationLatencyP99High", "VitalsOperationErrorBudgetBurnFast"} {
		if !got[want] {
			t.Errorf("%s not active; active: %v", want, got)
		}
	}
}

func get(t *testing.T, srv *httptest.Server, path string, wantCode int) map[string]any {
	t.Helper()
	resp, err := http.Get(srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != wantCode {
		t.Fatalf("GET %s: %d %s, want %d", path, resp.StatusCode, b, wantCode)
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("GET %s: %v: %s", path, err, b)
	}
	return out
}

// TestAPI checks the Prometheus-shaped endpoints and their errors.
func TestAPI(t *testing.T) {
	f := newFixture(t, rules.Rule{Alert: "VitalsWaiting", Expr: "vitals_db_pool_waiters > 0"}, nil)
	f.gauge.Set(3)
	for range 90 {
		f.tick()
	}
	f.ev.Eval(context.Background(), f.now)
	f.ev.opts.Now = func() time.Time { return f.now }
	mux := http.NewServeMux()
	f.ev.Mount(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	a := get(t, srv, "/api/v1/alerts", 200)
	alerts := a["data"].(map[string]any)["alerts"].([]any)
	if len(alerts) != 1 || alerts[0].(map[string]any)["state"] != "firing" || alerts[0].(map[string]any)["value"] != "3e+00" {
		t.Fatalf("alerts %v", a)
	}
	ru := get(t, srv, "/api/v1/rules", 200)
	g := ru["data"].(map[string]any)["groups"].([]any)[0].(map[string]any)
	if g["name"] != "g" || g["rules"].([]any)[0].(map[string]any)["state"] != "firing" {
		t.Fatalf("rules %v", ru)
	}
	q := get(t, srv, "/promql/api/v1/query?query="+url.QueryEscape(`sum by (operation) (rate(vitals_operations_started_total[30s]))`), 200)
	res := q["data"].(map[string]any)
	if res["resultType"] != "vector" || len(res["result"].([]any)) != 1 {
		t.Fatalf("query %v", q)
	}
	v := res["result"].([]any)[0].(map[string]any)["value"].([]any)[1]
	if v != "5" {
		t.Fatalf("rate = %v, want 5", v)
	}
	end := f.now.Unix()
	qr := get(t, srv, "/promql/api/v1/query_range?query="+url.QueryEscape(`histogram_quantile(0.5, sum(rate(vitals_operation_duration_seconds[30s])))`)+
		"&start="+itoa(end-60)+"&end="+itoa(end)+"&step=15", 200)
	if r := qr["data"].(map[string]any); r["resultType"] != "matrix" || len(r["result"].([]any)) != 1 {
		t.Fatalf("query_range %v", qr)
	}
	if al := get(t, srv, "/promql/api/v1/query?query=ALERTS", 200); len(al["data"].(map[string]any)["result"].([]any)) != 1 {
		t.Fatalf("ALERTS %v", al)
	}
	s := get(t, srv, "/promql/api/v1/series?match[]=vitals_db_pool_waiters", 200)
	if d := s["data"].([]any); len(d) != 1 || d[0].(map[string]any)["pool"] != "shop" {
		t.Fatalf("series %v", s)
	}
	l := get(t, srv, "/promql/api/v1/labels", 200)
	if !strings.Contains(toString(l["data"]), "operation") {
		t.Fatalf("labels %v", l)
	}
	lv := get(t, srv, "/promql/api/v1/label/job/values", 200)
	if toString(lv["data"]) != "[shop]" {
		t.Fatalf("job values %v", lv)
	}
	for _, bad := range []string{
		"/promql/api/v1/query",
		"/promql/api/v1/query?query=rate(",
		"/promql/api/v1/query?query=up&time=yesterday",
		"/promql/api/v1/query_range?query=up&start=1&end=0&step=1",
		"/promql/api/v1/query_range?query=up&start=0&end=100000&step=1",
		"/promql/api/v1/query_range?query=up&start=0&end=10&step=-1",
		"/promql/api/v1/series",
		"/promql/api/v1/series?match[]=%7B",
		"/promql/api/v1/query?query=up&timeout=x",
	} {
		e := get(t, srv, bad, 400)
		if e["status"] != "error" || e["errorType"] != "bad_data" || e["error"] == "" {
			t.Errorf("%s: %v", bad, e)
		}
	}
	if e := get(t, srv, "/promql/api/v1/nope", 404); e["error"] == nil {
		t.Errorf("unknown path: %v", e)
	}
}

func itoa(i int64) string    { return jsonNum(i) }
func jsonNum(i int64) string { b, _ := json.Marshal(i); return string(b) }
func toString(v any) string {
	var parts []string
	for _, x := range v.([]any) {
		parts = append(parts, x.(string))
	}
	return "[" + strings.Join(parts, " ") + "]"
}

// TestNotifier delivers to a fake Alertmanager, retries a 503, and never
// blocks Send when the Alertmanager hangs: the queue drops the oldest.
func TestNotifier(t *testing.T) {
	var calls atomic.Int32
	got := make(chan []AMAlert, 10)
	am := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v2/alerts" || r.Method != "POST" {
			http.NotFound(w, r)
			return
		}
		if calls.Add(1) == 1 {
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		var a []AMAlert
		_ = json.NewDecoder(r.Body).Decode(&a)
		got <- a
	}))
	defer am.Close()
	n, err := NewNotifier(NotifierOptions{URL: am.URL, Backoff: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	n.Start()
	f := newFixture(t, rules.Rule{Alert: "VitalsWaiting", Expr: "vitals_db_pool_waiters > 0"}, n)
	f.gauge.Set(1)
	f.ev.Eval(context.Background(), f.tick())
	select {
	case a := <-got:
		if len(a) != 1 || a[0].Labels["alertname"] != "VitalsWaiting" || a[0].StartsAt.IsZero() || !a[0].EndsAt.After(a[0].StartsAt) {
			t.Fatalf("delivered %+v", a)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("nothing delivered")
	}
	f.gauge.Set(0)
	f.ev.Eval(context.Background(), f.tick()) // resolved: sent with EndsAt = resolution
	select {
	case a := <-got:
		if len(a) != 1 || !a[0].EndsAt.Equal(f.now) {
			t.Fatalf("resolved %+v", a)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("resolution not delivered")
	}
	n.Stop()

	hang := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-hang }))
	defer slow.Close()
	defer close(hang)
	n2, _ := NewNotifier(NotifierOptions{URL: slow.URL, QueueCapacity: 10, Timeout: time.Minute})
	n2.Start()
	start := time.Now()
	for i := range 1000 {
		n2.Send(AMAlert{Labels: map[string]string{"i": jsonNum(int64(i))}})
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("Send blocked for %v", d)
	}
	if s := n2.Stats(); s.Dropped < 980 {
		t.Fatalf("dropped %d, want at least 980 of 1000 with a queue of 10", s.Dropped)
	}
	n2.Stop()
	if _, err := NewNotifier(NotifierOptions{URL: "ftp://x"}); err == nil {
		t.Fatal("a non-HTTP URL was accepted")
	}
}
