package rules

import (
	"fmt"
	"time"
)

func (b *builder) breaker() []Rule {
	br, on := b.by("breaker"), b.on("breaker")
	const payments = "payments"
	trans := b.p.Value("breaker-transitions")
	fail := b.p.Value("breaker-failure-rate")
	slow := b.p.Value("breaker-slow-rate")
	score := b.p.Value("breaker-score")
	minRate := b.t("min-rate")
	completed := b.s(BreakerCalls, `outcome=~"success|failure"`)
	calls := func(success, failure float64, n int) []Series {
		return []Series{
			series(BreakerCalls, counter(success, n), "breaker", payments, "outcome", "success"),
			series(BreakerCalls, counter(failure, n), "breaker", payments, "outcome", "failure"),
		}
	}
	stateCase := func(state string, n int, at time.Duration) *Case {
		return &Case{EvalAt: at, Labels: map[string]string{"breaker": payments, "state": state},
			Series: func(fire bool) []Series {
				return []Series{series(BreakerState, gauge(pick(fire, 1, 0), n), "breaker", payments, "state", state)}
			}}
	}
	return []Rule{
		{Alert: "VitalsBreakerOpen", Severity: Critical, For: time.Minute, KeepFiringFor: 2 * time.Minute,
			// Open or half-open: a half-open breaker lets a few probes
			// through and re-opens when they fail, so "open" alone would
			// reset the alert's `for` at every probe.
			Expr:    fmt.Sprintf("max %s (%s) == 1", br, b.s(BreakerState, `state=~"open|half_open"`)),
			Summary: "Circuit breaker {{ $labels.breaker }} is open",
			Description: "Circuit breaker {{ $labels.breaker }} on {{ $labels.instance }} (job {{ $labels.job }}) has been open or half-open for a minute: calls to its dependency are rejected without being tried. " +
				"The alert keeps firing for 2 minutes after the breaker closes, so a dependency that recovers and fails again does not resolve and re-fire it.",
			Test: &Case{EvalAt: 5 * time.Minute, Labels: map[string]string{"breaker": payments},
				Series: func(fire bool) []Series {
					// Firing side: open, then half-open; quiet side:
					// closed (both gauges 0).
					return []Series{
						series(BreakerState, gauge2(pick(fire, 1, 0), 3, 0, 8), "breaker", payments, "state", "open"),
						series(BreakerState, gauge2(0, 3, pick(fire, 1, 0), 8), "breaker", payments, "state", "half_open"),
					}
				}}},
		{Alert: "VitalsBreakerFlapping", Severity: Warning,
			Expr:        fmt.Sprintf("sum %s (increase(%s[15m])) > %s", br, b.s(BreakerTransitions), num(trans)),
			Summary:     "Circuit breaker {{ $labels.breaker }} is flapping",
			Description: "Circuit breaker {{ $labels.breaker }} on {{ $labels.instance }} (job {{ $labels.job }}) changed state more than " + num(trans) + " times in 15 minutes: its dependency is failing intermittently, or its thresholds are too tight.",
			Test: &Case{EvalAt: 20 * time.Minute, Labels: map[string]string{"breaker": payments},
				Series: func(fire bool) []Series {
					per := trans / 15
					return []Series{series(BreakerTransitions, counter(pick(fire, per*1.1, per*0.99), 25), "breaker", payments, "from", "closed", "to", "open")}
				}}},
		{Alert: "VitalsBreakerFailureRateHigh", Severity: Warning, For: 5 * time.Minute,
			Expr: fmt.Sprintf("sum %[1]s (rate(%[2]s[5m])) / sum %[1]s (rate(%[3]s[5m])) > %[4]s and %[5]s sum %[1]s (rate(%[3]s[5m])) > %[6]s",
				br, b.s(BreakerCalls, `outcome="failure"`), completed, num(fail), on, minRate),
			Summary:     "Calls through circuit breaker {{ $labels.breaker }} fail more than " + pct(fail) + " of the time",
			Description: "More than " + pct(fail) + " of the completed calls through circuit breaker {{ $labels.breaker }} on {{ $labels.instance }} (job {{ $labels.job }}) failed over 5 minutes, for 5 minutes.",
			Test: &Case{EvalAt: 15 * time.Minute, Labels: map[string]string{"breaker": payments},
				Series: func(fire bool) []Series {
					f := 100 * fail
					f = pick(fire, f+1, f)
					return calls(100-f, f, 20)
				}}},
		{Alert: "VitalsBreakerSlowCallRateHigh", Severity: Warning, For: 10 * time.Minute,
			Expr: fmt.Sprintf("sum %[1]s (rate(%[2]s[5m])) / sum %[1]s (rate(%[3]s[5m])) > %[4]s and %[5]s sum %[1]s (rate(%[3]s[5m])) > %[6]s",
				br, b.s(BreakerSlowCalls), completed, num(slow), on, minRate),
			Summary:     "Calls through circuit breaker {{ $labels.breaker }} are slow more than " + pct(slow) + " of the time",
			Description: "More than " + pct(slow) + " of the completed calls through circuit breaker {{ $labels.breaker }} on {{ $labels.instance }} (job {{ $labels.job }}) took at least the slow-call threshold (vitals_breaker_slow_call_threshold_seconds) over 5 minutes, for 10 minutes.",
			Test: &Case{EvalAt: 20 * time.Minute, Labels: map[string]string{"breaker": payments},
				Series: func(fire bool) []Series {
					s := 100 * slow
					return append(calls(100, 0, 25), series(BreakerSlowCalls, counter(pick(fire, s+1, s), 25), "breaker", payments))
				}}},
		{Alert: "VitalsBreakerStuckHalfOpen", Severity: Warning, For: 5 * time.Minute,
			Expr:        fmt.Sprintf("%s == 1", b.s(BreakerState, `state="half_open"`)),
			Summary:     "Circuit breaker {{ $labels.breaker }} stuck half-open",
			Description: "Circuit breaker {{ $labels.breaker }} on {{ $labels.instance }} (job {{ $labels.job }}) has been half-open for 5 minutes: its probe calls neither succeed nor fail (no traffic, or calls that hang).",
			Test:        stateCase("half_open", 15, 10*time.Minute)},
		{Alert: "VitalsBreakerScoreLow", Severity: Warning, For: 10 * time.Minute,
			Expr:        fmt.Sprintf("%s < %s", b.s(BreakerScore), num(score)),
			Summary:     "Health score of circuit breaker {{ $labels.breaker }} below " + num(score),
			Description: "The health score of circuit breaker {{ $labels.breaker }} on {{ $labels.instance }} (job {{ $labels.job }}) has been below " + num(score) + " of 100 for 10 minutes; vitals_breaker_score_factor and /metrics/circuit-breaker say which factor is weak.",
			Test: &Case{EvalAt: 15 * time.Minute, Labels: map[string]string{"breaker": payments},
				Series: func(fire bool) []Series {
					return []Series{series(BreakerScore, gauge(pick(fire, score-1, score), 20), "breaker", payments)}
				}}},
	}
}
