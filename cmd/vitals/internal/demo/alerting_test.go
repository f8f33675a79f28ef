package demo

import (
	"context"
	"log/slog"
	"net"
	"net/http"
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
				return
			}
		}
		time.Sleep(200 * time.Millisecond) // polling a real server until the workloads have registered their series
	}
	t.Fatalf("families the alert rules read are missing from the demo's /metrics: %v", missing)
}
