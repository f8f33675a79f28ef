package demo

import (
	"log/slog"

	"github.com/bizra/vitals"
	"github.com/bizra/vitals/alerting/eval"
	"github.com/bizra/vitals/health"
	"github.com/bizra/vitals/stream"
)

// newStream returns the hub behind the demo's live stream (WebSocket
// /stream and SSE /events on the public listener, docs/STREAMING.md). It
// follows the demo's security settings: browsers may connect from the
// demo's own origin and from cfg.StreamOrigins; with cfg.APIToken set,
// every stream request needs it as a bearer token, as the JSON APIs do
// (the stream carries the same data). Health transitions reach clients
// the moment the engine publishes them; alert changes once Run wires
// alertEvents into the evaluator.
func newStream(m *vitals.Monitor, hl *health.Engine, cfg *Config, log *slog.Logger) *stream.Hub {
	return stream.New(m, &stream.Options{Health: hl, AllowedOrigins: cfg.StreamOrigins, Token: cfg.APIToken, Logger: log})
}

// alertEvents returns the evaluator's OnEvent hook for the stream: after
// every evaluation that changed an alert, the current pending and firing
// alerts (read from alerts) are pushed to the alerts topic at once.
func alertEvents(hub *stream.Hub, alerts func() []eval.Alert) func([]eval.Event) {
	return func([]eval.Event) { hub.PublishAlerts(streamAlerts(alerts())) }
}

// streamAlerts converts the evaluator's alerts to the stream's form.
func streamAlerts(as []eval.Alert) []stream.Alert {
	out := make([]stream.Alert, 0, len(as))
	for _, a := range as {
		if a.State == eval.Inactive {
			continue
		}
		since := a.ActiveAt
		if a.State == eval.Firing && !a.FiredAt.IsZero() {
			since = a.FiredAt
		}
		out = append(out, stream.Alert{
			Name:     a.Labels.Get("alertname"),
			State:    a.State.String(),
			Severity: a.Labels.Get("severity"),
			Labels:   a.Labels.Map(),
			Summary:  a.Annotations.Get("summary"),
			Value:    a.Value,
			Since:    since,
		})
	}
	return out
}
