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

	"github.com/bizra/vitals/alerting/rules"
)

// TestDemoMetricNames checks that every metric family the alert rules and
// the dashboard read (alerting/rules.Families) is in the demo's real
// /metrics output: a renamed family in any package fails here, not in
// production where the alert would silently never fire.
func TestDemoMetricNames(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Config{Listener: ln, DataDir: t.TempDir(), Rate: 50, DrainDelay: -1, Logger: slog.New(slog.DiscardHandler)})
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	client := &http.Client{Timeout: 5 * time.Second}
	var missing []string
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		missing = missing[:0]
		resp, err := client.Get("http://" + ln.Addr().String() + "/metrics")
		if err == nil {
			parser := expfmt.NewTextParser(model.LegacyValidation)
			fams, perr := parser.TextToMetricFamilies(resp.Body)
			resp.Body.Close()
			if perr != nil {
				t.Fatalf("/metrics does not parse: %v", perr)
			}
			for _, name := range rules.Families {
				if f := fams[name]; f == nil || len(f.Metric) == 0 {
					missing = append(missing, name)
				}
			}
			if len(missing) == 0 {
				break
			}
		}
		time.Sleep(200 * time.Millisecond) // polling a real server until the workloads have registered their series
	}
	if len(missing) > 0 {
		t.Fatalf("families the alert rules read are missing from the demo's /metrics: %v", missing)
	}

	// The in-process evaluator: the PromQL API answers from the ring
	// (runtime metrics included) and the rules have been evaluated.
	base := "http://" + ln.Addr().String()
	getJSON := func(path string, v any) int {
		resp, err := client.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		return resp.StatusCode
	}
	for _, q := range []string{"vitals_collector_ticks_total", "go_goroutines", `vitals_breaker_state{state="closed"}`} {
		var res struct {
			Status string
			Data   struct{ Result []any }
		}
		deadline := time.Now().Add(20 * time.Second)
		for {
			if code := getJSON("/promql/api/v1/query?query="+url.QueryEscape(q), &res); code == 200 && len(res.Data.Result) > 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("/promql query %s: %+v", q, res)
			}
			time.Sleep(500 * time.Millisecond)
		}
	}
	var rulesRes struct {
		Status string
		Data   struct {
			Groups []struct {
				Name           string
				LastEvaluation time.Time
				Rules          []struct{ Health, LastError, Name string }
			}
		}
	}
	deadline = time.Now().Add(20 * time.Second)
	for {
		if getJSON("/api/v1/rules", &rulesRes); len(rulesRes.Data.Groups) == 5 && rulesRes.Data.Groups[4].LastEvaluation.Year() > 2000 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("rules not evaluated: %+v", rulesRes)
		}
		time.Sleep(500 * time.Millisecond)
	}
	for _, g := range rulesRes.Data.Groups {
		for _, r := range g.Rules {
			if r.Health != "ok" {
				t.Errorf("rule %s: %s %s", r.Name, r.Health, r.LastError)
			}
		}
	}
}
