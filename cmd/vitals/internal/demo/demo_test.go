package demo

import (
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestDemoServesMetrics runs the demo for real on a loopback port, waits
// until its load shows up in /metrics and /api/v1/operations, and stops it.
func TestDemoServesMetrics(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dataDir := t.TempDir()
	adminLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Config{Listener: ln, AdminListener: adminLn, AdminToken: testAdminToken, DataDir: dataDir,
			Rate: 200, DrainDelay: 300 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
	}()
	base := "http://" + ln.Addr().String()
	admin := "http://" + adminLn.Addr().String()
	client := &http.Client{Timeout: 5 * time.Second}
	deadline := time.Now().Add(30 * time.Second)
	var ops []opJSON
	for time.Now().Before(deadline) {
		ops = nil
		resp, err := client.Get(base + "/api/v1/operations")
		if err == nil {
			_ = json.NewDecoder(resp.Body).Decode(&ops)
			resp.Body.Close()
		}
		if len(ops) >= 6 && ops[0].Count > 0 {
			break
		}
		time.Sleep(200 * time.Millisecond) // polling a real server, not waiting for internal state
	}
	names := map[string]bool{}
	for _, o := range ops {
		names[o.Name] = true
	}
	for _, want := range []string{"GET /shop/products", "POST /shop/checkout", "payment.authorize", "GET /shop/search"} {
		if !names[want] {
			t.Errorf("operation %q missing from %v", want, names)
		}
	}

	resp, err := client.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	parser := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("/metrics does not parse: %v", err)
	}
	h := fams["vitals_operation_duration_seconds"]
	if h == nil || len(h.Metric) < 6 {
		t.Fatalf("operation histogram missing: %v", h)
	}
	if fams["go_sched_latencies_seconds"] == nil || fams["process_resident_memory_bytes"] == nil {
		t.Error("runtime or process metrics missing")
	}

	for _, path := range []string{"/metrics/database", "/metrics/cache", "/metrics/circuit-breaker", "/health/performance", "/livez"} {
		resp, err := client.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("GET %s: %d", path, resp.StatusCode)
		}
	}

	// Readiness turns not-ready while the pool is saturated, and recovers.
	waitReady := func(want int, within time.Duration) {
		t.Helper()
		deadline := time.Now().Add(within)
		got := 0
		for time.Now().Before(deadline) {
			resp, err := client.Get(base + "/readyz")
			if err == nil {
				got = resp.StatusCode
				resp.Body.Close()
				if got == want {
					return
				}
			}
			time.Sleep(200 * time.Millisecond)
		}
		t.Fatalf("/readyz stayed %d, want %d within %v", got, want, within)
	}
	waitReady(200, 15*time.Second)
	req, _ := http.NewRequest("POST", admin+"/admin/saturate?for=6s", nil)
	if resp, err := client.Do(req); err != nil || resp.StatusCode != 401 {
		t.Fatalf("admin action without a token: %v %v", resp, err)
	}
	req.Header.Set("Authorization", "Bearer "+testAdminToken)
	resp, err = client.Do(req)
	if err != nil || resp.StatusCode != 202 {
		t.Fatalf("saturate: %v %v", resp, err)
	}
	resp.Body.Close()
	waitReady(503, 15*time.Second)
	waitReady(200, 20*time.Second)

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("demo did not stop within 15 s of cancel")
	}

	// A restart on the same data directory shows the earlier history
	// before any new traffic has been rolled up.
	ln2, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx2, cancel2 := context.WithCancel(context.Background())
	done2 := make(chan error, 1)
	go func() {
		done2 <- Run(ctx2, Config{Listener: ln2, DataDir: dataDir, Rate: 10, DrainDelay: -1, Logger: slog.New(slog.DiscardHandler)})
	}()
	base2 := "http://" + ln2.Addr().String()
	series := url.QueryEscape(`vitals_operation_duration_seconds{operation="GET /shop/products"}`)
	var got struct {
		Points [][2]float64 `json:"points"`
	}
	deadline = time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := client.Get(base2 + "/api/v1/query_range?stat=count&from=now-1h&step=1m&series=" + series)
		if err == nil {
			code := resp.StatusCode
			_ = json.NewDecoder(resp.Body).Decode(&got)
			resp.Body.Close()
			if code == 200 {
				break
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	total := 0.0
	for _, p := range got.Points {
		total += p[1]
	}
	if total == 0 {
		t.Errorf("history after restart holds no count for GET /shop/products: %v", got.Points)
	}
	cancel2()
	if err := <-done2; err != nil {
		t.Fatalf("second Run: %v", err)
	}
}
