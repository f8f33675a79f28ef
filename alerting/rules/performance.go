package rules

import (
	"fmt"
	"time"
)

// Recorded series shared by the performance alerts (and usable by
// dashboards): the per-operation latency histogram, start rate and error
// ratio over the windows the burn-rate alerts need.
const (
	RecOperationLatency   = "vitals:operation_duration_seconds:rate5m"
	RecOperationRate      = "vitals:operation_started:rate5m"
	RecOperationErrorsPfx = "vitals:operation_error_ratio:rate" // + window: 5m, 30m, 1h, 6h
)

// burnWindows are the error-ratio windows recorded for the burn-rate
// alerts (the multi-window, multi-burn-rate scheme of the SRE workbook).
var burnWindows = []string{"5m", "30m", "1h", "6h"}

func (b *builder) performance() []Rule {
	op := b.by("operation")
	on := b.on("operation")
	rules := []Rule{
		{Record: RecOperationLatency, Expr: fmt.Sprintf("sum %s (rate(%s[5m]))", op, b.s(OperationDuration))},
		{Record: RecOperationRate, Expr: fmt.Sprintf("sum %s (rate(%s[5m]))", op, b.s(OperationsStarted))},
	}
	for _, w := range burnWindows {
		rules = append(rules, Rule{Record: RecOperationErrorsPfx + w,
			Expr: fmt.Sprintf("sum %s (rate(%s[%s])) / sum %s (rate(%s[%s]))", op, b.s(OperationErrors), w, op, b.s(OperationsStarted), w)})
	}
	guard := fmt.Sprintf("and %s %s > %s", on, RecOperationRate, b.t("min-rate"))
	latencyCase := func(t float64) *Case {
		return &Case{EvalAt: 20 * time.Minute, Labels: map[string]string{"operation": "POST /checkout"},
			Series: func(fire bool) []Series {
				idx := histBelow(t)
				if fire {
					idx = histAbove(t)
				}
				return []Series{
					series(OperationDuration, hist(idx, 60, 25), "operation", "POST /checkout"),
					series(OperationsStarted, counter(60, 25), "operation", "POST /checkout"),
				}
			}}
	}
	p95, p99 := b.p.Value("latency-p95"), b.p.Value("latency-p99")
	budget := 1 - b.p.Value("slo")
	fast := b.p.Value("burn-fast") * budget
	slow := b.p.Value("burn-slow") * budget
	errCase := func(started, fireErr, quietErr float64, n int, at time.Duration) *Case {
		return &Case{EvalAt: at, Labels: map[string]string{"operation": "POST /checkout"},
			Series: func(fire bool) []Series {
				e := quietErr
				if fire {
					e = fireErr
				}
				return []Series{
					series(OperationsStarted, counter(started, n), "operation", "POST /checkout"),
					series(OperationErrors, counter(e, n), "operation", "POST /checkout"),
				}
			}}
	}
	drop := b.p.Value("throughput-drop")
	return append(rules,
		Rule{Alert: "VitalsOperationLatencyP95High", Severity: Warning, For: 10 * time.Minute,
			Expr:        fmt.Sprintf("histogram_quantile(0.95, %s) > %s %s", RecOperationLatency, num(p95), guard),
			Summary:     "p95 latency of {{ $labels.operation }} above " + dur(p95),
			Description: "The 95th percentile latency of operation {{ $labels.operation }} on {{ $labels.instance }} (job {{ $labels.job }}) has been above " + dur(p95) + " for 10 minutes.",
			Test:        latencyCase(p95)},
		Rule{Alert: "VitalsOperationLatencyP99High", Severity: Critical, For: 10 * time.Minute,
			Expr:        fmt.Sprintf("histogram_quantile(0.99, %s) > %s %s", RecOperationLatency, num(p99), guard),
			Summary:     "p99 latency of {{ $labels.operation }} above " + dur(p99),
			Description: "The 99th percentile latency of operation {{ $labels.operation }} on {{ $labels.instance }} (job {{ $labels.job }}) has been above " + dur(p99) + " for 10 minutes.",
			Test:        latencyCase(p99)},
		Rule{Alert: "VitalsOperationErrorRatioHigh", Severity: Warning, For: 10 * time.Minute,
			Expr:        fmt.Sprintf("%s5m > %s %s", RecOperationErrorsPfx, b.t("error-ratio"), guard),
			Summary:     "{{ $labels.operation }} fails more than " + pct(b.p.Value("error-ratio")) + " of the time",
			Description: "More than " + pct(b.p.Value("error-ratio")) + " of operation {{ $labels.operation }} on {{ $labels.instance }} (job {{ $labels.job }}) ended with an error over the last 5 minutes, for 10 minutes.",
			Test:        errCase(600, 31, 30, 25, 20*time.Minute)},
		Rule{Alert: "VitalsOperationThroughputDrop", Severity: Warning, For: 15 * time.Minute,
			Expr: fmt.Sprintf("sum %[1]s (rate(%[2]s[10m])) < %[3]s * sum %[1]s (rate(%[2]s[10m] offset 1d)) and %[4]s sum %[1]s (rate(%[2]s[10m] offset 1d)) > %[5]s",
				op, b.s(OperationsStarted), num(drop), on, b.t("min-rate")),
			Summary:     "{{ $labels.operation }} throughput dropped below " + pct(drop) + " of yesterday's",
			Description: "Operation {{ $labels.operation }} on {{ $labels.instance }} (job {{ $labels.job }}) has run at less than " + pct(drop) + " of its rate at the same time one day earlier, for 15 minutes.",
			Test: &Case{EvalAt: 1475 * time.Minute, Labels: map[string]string{"operation": "POST /checkout"},
				Series: func(fire bool) []Series {
					after := 120 * drop
					if fire {
						after--
					}
					return []Series{series(OperationsStarted, counter2(120, 1440, after, 40), "operation", "POST /checkout")}
				}}},
		Rule{Alert: "VitalsOperationErrorBudgetBurnFast", Severity: Critical, For: 2 * time.Minute,
			Expr:    fmt.Sprintf("%[1]s1h > %[2]s and %[1]s5m > %[2]s", RecOperationErrorsPfx, num(round(fast))),
			Summary: "{{ $labels.operation }} burns its error budget " + num(b.p.Value("burn-fast")) + "x too fast",
			Description: "Operation {{ $labels.operation }} on {{ $labels.instance }} (job {{ $labels.job }}) has failed more than " + pct(round(fast)) +
				" of the time over both the last hour and the last 5 minutes: at this rate the " + pct(budget) + " error budget of a " + pct(b.p.Value("slo")) + " objective lasts about 2 days.",
			Test: errCase(1000, 15, 14, 75, 70*time.Minute)},
		Rule{Alert: "VitalsOperationErrorBudgetBurnSlow", Severity: Warning, For: 15 * time.Minute,
			Expr:    fmt.Sprintf("%[1]s6h > %[2]s and %[1]s30m > %[2]s", RecOperationErrorsPfx, num(round(slow))),
			Summary: "{{ $labels.operation }} burns its error budget " + num(b.p.Value("burn-slow")) + "x too fast",
			Description: "Operation {{ $labels.operation }} on {{ $labels.instance }} (job {{ $labels.job }}) has failed more than " + pct(round(slow)) +
				" of the time over both the last 6 hours and the last 30 minutes: at this rate the " + pct(budget) + " error budget of a " + pct(b.p.Value("slo")) + " objective lasts about 5 days.",
			Test: errCase(1000, 7, 6, 400, 380*time.Minute)},
	)
}
