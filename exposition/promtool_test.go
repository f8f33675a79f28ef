package exposition

import (
	"bytes"
	"errors"
	"os/exec"
	"strings"
	"testing"

	"github.com/bizra/vitals/internal/testutil"
)

// TestPromtoolCheckMetrics runs the real promtool on a whole text scrape
// (fixture families, self-metrics, runtime and process metrics). Set
// VITALS_PROMTOOL to a promtool binary to run it, for example:
//
//	GOBIN=/tmp/bin go install github.com/prometheus/prometheus/cmd/promtool@v0.316.0
//	VITALS_PROMTOOL=/tmp/bin/promtool go test -run Promtool ./exposition/
func TestPromtoolCheckMetrics(t *testing.T) {
	promtool := testutil.Promtool(t)
	reg := newFixture(t)
	h := Handler(reg, nil)
	scrape(t, h, "GET", "/metrics") // give the self-metrics observations
	body := scrape(t, h, "GET", "/metrics").Body.Bytes()

	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = bytes.NewReader(body)
	out, err := cmd.CombinedOutput()
	if err != nil {
		var exit *exec.ExitError
		if !errors.As(err, &exit) {
			t.Fatalf("running %s: %v", promtool, err)
		}
	}
	// Every family in the fixture and every vitals self-metric is meant to
	// be lint-clean, so any problem reported is a failure; so is a parse
	// error, which promtool reports without a family name.
	if text := strings.TrimSpace(string(out)); text != "" || err != nil {
		t.Fatalf("promtool check metrics: %v\n%s", err, text)
	}
}
