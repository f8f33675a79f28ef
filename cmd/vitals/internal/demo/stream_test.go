package demo

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/bizra/vitals/alerting/eval"
	"github.com/bizra/vitals/stream/client"
	"github.com/prometheus/prometheus/model/labels"
)

// TestDemoStream connects to the running demo's /stream and /events with
// the Go client: frames with the shop's operations arrive over both
// transports, with the health block and the alert list, a second frame
// follows the first, and shutdown closes the WebSocket with going away.
func TestDemoStream(t *testing.T) {
	d := startDemo(t, Config{Rate: 100, DrainDelay: 100 * time.Millisecond})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	c, err := client.Dial(ctx, d.base, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	if err := c.Subscribe(ctx, "dash", []string{"performance", "health", "alerts"}, 200*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	var st client.State
	var lastHealth []byte
	var sawAlerts bool
	frames := 0
	for {
		m, err := c.Next(ctx)
		if err != nil {
			t.Fatalf("no frames with operations (after %d frames): %v", frames, err)
		}
		if m.Type == "error" {
			t.Fatalf("error message: %s %s", m.Code, m.Error)
		}
		if !st.Apply(m) {
			continue
		}
		frames++
		if len(m.Health) > 0 {
			lastHealth = m.Health
		}
		sawAlerts = sawAlerts || len(m.Alerts) > 0
		s := st.Find("vitals_operation_duration_seconds", "operation", "GET /shop/products")
		if frames >= 2 && lastHealth != nil && sawAlerts && s != nil && s.Count != nil && *s.Count > 0 {
			break
		}
	}
	var h struct {
		Live       string            `json:"live"`
		Components []json.RawMessage `json:"components"`
	}
	if err := json.Unmarshal(lastHealth, &h); err != nil || h.Live == "" || len(h.Components) == 0 {
		t.Errorf("health block %s: %v", lastHealth, err)
	}

	// SSE carries the same messages.
	sse, err := client.DialSSE(ctx, d.base, []string{"performance"}, time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	var sst client.State
	for !sst.Apply(mustNext(ctx, t, sse)) {
	}
	if sst.Find("vitals_operation_duration_seconds") == nil {
		t.Error("SSE full frame without the operation histogram")
	}
	sse.CloseNow()

	// A page on another origin is refused; one on the demo's own is not.
	if code, _ := do(t, "GET", d.base+"/events?topic=health", "", "Origin", "http://evil.example"); code != http.StatusForbidden {
		t.Errorf("foreign origin: %d, want 403", code)
	}

	// Shutdown closes the WebSocket with going away.
	go d.stop()
	for {
		_, err := c.Next(ctx)
		if err != nil {
			if got := client.CloseStatus(err); got != 1001 {
				t.Errorf("close at shutdown: %d (%v), want 1001 going away", got, err)
			}
			break
		}
	}
}

func mustNext(ctx context.Context, t *testing.T, c *client.Conn) *client.Message {
	t.Helper()
	m, err := c.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestDemoStreamToken: with an API token, the stream needs it too.
func TestDemoStreamToken(t *testing.T) {
	const apiTok = "api-token-0123456789abcd"
	d := startDemo(t, Config{APIToken: apiTok, DrainDelay: -1})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := client.Dial(ctx, d.base, nil); !errors.Is(err, client.ErrUnauthorized) {
		t.Fatalf("dial without the token: %v, want ErrUnauthorized", err)
	}
	if _, err := client.DialSSE(ctx, d.base, []string{"health"}, 0, &client.Options{Token: "wrong-token-0123456789"}); !errors.Is(err, client.ErrUnauthorized) {
		t.Fatalf("SSE with a wrong token: %v, want ErrUnauthorized", err)
	}
	c, err := client.Dial(ctx, d.base, &client.Options{Token: apiTok})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	if m := mustNext(ctx, t, c); m.Type != "hello" {
		t.Fatalf("first message %q, want hello", m.Type)
	}
}

// TestStreamAlerts: the evaluator's alerts reach the stream's form with
// their name, severity, summary and the time they started firing.
func TestStreamAlerts(t *testing.T) {
	fired := time.Unix(1700000000, 0)
	got := streamAlerts([]eval.Alert{
		{Labels: labels.FromStrings("alertname", "VitalsBreakerOpen", "severity", "warning", "breaker", "payments"),
			Annotations: labels.FromStrings("summary", "breaker payments is open"),
			State:       eval.Firing, Value: 2, ActiveAt: fired.Add(-time.Minute), FiredAt: fired},
		{Labels: labels.FromStrings("alertname", "Gone"), State: eval.Inactive},
		{Labels: labels.FromStrings("alertname", "Soon"), State: eval.Pending, ActiveAt: fired},
	})
	b, _ := json.Marshal(got)
	want := `[{"name":"VitalsBreakerOpen","state":"firing","severity":"warning","labels":{"alertname":"VitalsBreakerOpen","breaker":"payments","severity":"warning"},"summary":"breaker payments is open","value":2,"since":"` +
		fired.Format(time.RFC3339) + `"},{"name":"Soon","state":"pending","labels":{"alertname":"Soon"},"value":0,"since":"` + fired.Format(time.RFC3339) + `"}]`
	if string(b) != want {
		t.Errorf("got  %s\nwant %s", b, want)
	}
}
