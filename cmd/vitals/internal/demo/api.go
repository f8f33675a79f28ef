package demo

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/bizra/vitals"
)

type opJSON struct {
	Name       string  `json:"name"`
	Window     float64 `json:"window_seconds"`
	Count      uint64  `json:"count"`
	Errors     uint64  `json:"errors"`
	Rate       float64 `json:"rate_per_second"`
	ErrorRatio float64 `json:"error_ratio"`
	InFlight   int64   `json:"in_flight"`
	Mean       float64 `json:"mean_seconds"`
	P50        float64 `json:"p50_seconds"`
	P95        float64 `json:"p95_seconds"`
	P99        float64 `json:"p99_seconds"`
	P999       float64 `json:"p999_seconds"`
	Max        float64 `json:"max_seconds"`
}

func operationsJSON(ops []vitals.OperationStats) []opJSON {
	out := make([]opJSON, len(ops))
	for i, o := range ops {
		out[i] = opJSON{Name: o.Name, Window: o.Window.Seconds(), Count: o.Count, Errors: o.Errors, Rate: o.Rate,
			ErrorRatio: o.ErrorRatio, InFlight: o.InFlight, Mean: o.Mean.Seconds(), P50: o.P50.Seconds(),
			P95: o.P95.Seconds(), P99: o.P99.Seconds(), P999: o.P999.Seconds(), Max: o.Max.Seconds()}
	}
	return out
}

func logSummary(log *slog.Logger, ops []vitals.OperationStats) {
	for _, o := range ops {
		if o.Count == 0 {
			continue
		}
		log.Info("operation (last minute)", "name", o.Name, "rate", fmt.Sprintf("%.1f/s", o.Rate),
			"p50", o.P50.Round(time.Microsecond), "p99", o.P99.Round(time.Microsecond),
			"errors", fmt.Sprintf("%.2f%%", 100*o.ErrorRatio))
	}
}

const index = `vitals demo: an example shop instrumented with vitals, under its own load.

  /                          the live dashboard (a web page; docs/STREAMING.md)
  /help                      this list
  /metrics                   Prometheus exposition (text, OpenMetrics, protobuf with native histograms)
  /api/v1/operations         per-operation p50/p95/p99/p99.9, rate and error ratio over the last minute
  /api/v1/series             every series, with type and unit, in windows and history
  /api/v1/window?series=<key>&window=5m
                             rolling windows (1m, 5m, 15m, 1h): count, rate, min, max, avg, p50..p99.9
  /api/v1/query_range?series=<key>&stat=p99&from=now-6h&step=1m
                             history: 1-minute rollups for 24 h, 5-minute for 7 days, hourly for 90 days
  /metrics/database          the database pool: state, windows, score with factors
  /metrics/cache             the L1/L2 cache: hits and misses per tier, latency, bytes, score
  /metrics/circuit-breaker   the "payments" breaker: state, transitions, time in state, rates, score
  /stream, /events           live stream: WebSocket and Server-Sent Events (docs/STREAMING.md)
  /livez, /readyz            Kubernetes probes (?verbose for humans, ?exclude=<check>, /readyz/<check>)
  /health/live, /health/ready, /health/performance
                             application/health+json; 0-100 scores with factors and advice
  /shop/...                  the shop itself (GET /shop/products, /shop/products/{id}, /shop/search;
                             POST /shop/cart, /shop/checkout)

/metrics needs VITALS_METRICS_TOKEN, and the JSON APIs and the stream VITALS_API_TOKEN, when set.

Admin listener (when configured; every request needs VITALS_ADMIN_TOKEN):
  POST /admin/saturate?for=30s   drive the database pool into saturation: readiness turns not-ready, then recovers
  POST /admin/outage?for=20s     take the payment provider down: the "payments" breaker opens, half-opens and closes
  /api/v1/..., /metrics/database, /metrics/cache, /metrics/circuit-breaker   the JSON APIs above
`
