package rules

import (
	"fmt"
	"time"
)

func (b *builder) database() []Rule {
	pl, on := b.by("pool"), b.on("pool")
	const shop = "shop"
	sat := b.p.Value("pool-saturation")
	waiters := b.p.Value("pool-waiters")
	waitP99 := b.p.Value("pool-wait-p99")
	timeouts := b.p.Value("pool-timeout-rate")
	connErr := b.p.Value("db-conn-error-rate")
	qerr := b.p.Value("db-query-error-ratio")
	score := b.p.Value("pool-score")
	minRate := b.t("min-rate")
	wait := b.s(PoolWait)
	return []Rule{
		{Alert: "VitalsDBPoolSaturated", Severity: Warning, For: 5 * time.Minute,
			Expr:    fmt.Sprintf("sum %[1]s (%[2]s) / sum %[1]s (%[3]s > 0) > %[4]s", pl, b.s(PoolConnections, `state="in_use"`), b.s(PoolMaxOpen), num(sat)),
			Summary: "Database pool {{ $labels.pool }} more than " + pct(sat) + " in use",
			Description: "More than " + pct(sat) + " of the connections database pool {{ $labels.pool }} on {{ $labels.instance }} (job {{ $labels.job }}) may open have been in use for 5 minutes: " +
				"the next burst queues callers.",
			Test: &Case{EvalAt: 10 * time.Minute, Labels: map[string]string{"pool": shop},
				Series: func(fire bool) []Series {
					return []Series{
						series(PoolMaxOpen, gauge(10, 15), "pool", shop),
						series(PoolConnections, gauge(pick(fire, 10*sat+1, 10*sat), 15), "pool", shop, "state", "in_use"),
					}
				}}},
		{Alert: "VitalsDBPoolCallersWaiting", Severity: Warning, For: 5 * time.Minute,
			Expr:        fmt.Sprintf("max %s (%s) > %s", pl, b.s(PoolWaiters), num(waiters)),
			Summary:     "Callers waiting for connections of database pool {{ $labels.pool }}",
			Description: "More than " + num(waiters) + " callers have been waiting for a connection of database pool {{ $labels.pool }} on {{ $labels.instance }} (job {{ $labels.job }}) at every evaluation for 5 minutes.",
			Test: &Case{EvalAt: 10 * time.Minute, Labels: map[string]string{"pool": shop},
				Series: func(fire bool) []Series {
					return []Series{series(PoolWaiters, gauge(pick(fire, waiters+1, waiters), 15), "pool", shop)}
				}}},
		{Alert: "VitalsDBPoolWaitP99High", Severity: Warning, For: 5 * time.Minute,
			Expr: fmt.Sprintf("histogram_quantile(0.99, sum %[1]s (rate(%[2]s[5m]))) > %[3]s and %[4]s sum %[1]s (histogram_count(rate(%[2]s[5m]))) > %[5]s",
				pl, wait, num(waitP99), on, minRate),
			Summary:     "p99 wait for a connection of database pool {{ $labels.pool }} above " + dur(waitP99),
			Description: "Callers of database pool {{ $labels.pool }} on {{ $labels.instance }} (job {{ $labels.job }}) waited more than " + dur(waitP99) + " for a connection at the 99th percentile over 5 minutes, for 5 minutes.",
			Test: &Case{EvalAt: 15 * time.Minute, Labels: map[string]string{"pool": shop},
				Series: func(fire bool) []Series {
					idx := histBelow(waitP99)
					if fire {
						idx = histAbove(waitP99)
					}
					return []Series{series(PoolWait, hist(idx, 60, 20), "pool", shop)}
				}}},
		{Alert: "VitalsDBPoolAcquireTimeouts", Severity: Critical, For: 2 * time.Minute,
			Expr:        fmt.Sprintf("sum %s (rate(%s[5m])) > %s", pl, b.s(PoolAcquires, `result="timeout"`), num(timeouts)),
			Summary:     "Callers of database pool {{ $labels.pool }} time out waiting for a connection",
			Description: "Callers of database pool {{ $labels.pool }} on {{ $labels.instance }} (job {{ $labels.job }}) gave up waiting for a connection (more than " + num(timeouts) + " per second over 5 minutes), for 2 minutes: their requests failed.",
			Test: &Case{EvalAt: 10 * time.Minute, Labels: map[string]string{"pool": shop},
				Series: func(fire bool) []Series {
					per := 60 * timeouts
					return []Series{
						series(PoolAcquires, counter(pick(fire, per+1, per), 15), "pool", shop, "result", "timeout"),
						series(PoolAcquires, counter(600, 15), "pool", shop, "result", "ok"),
					}
				}}},
		{Alert: "VitalsDBConnectionErrors", Severity: Warning, For: 5 * time.Minute,
			Expr:        fmt.Sprintf("sum %s (rate(%s[5m])) > %s", b.by("pool", "kind"), b.s(DBConnErrors), num(connErr)),
			Summary:     "Database pool {{ $labels.pool }} fails to connect ({{ $labels.kind }})",
			Description: "Database pool {{ $labels.pool }} on {{ $labels.instance }} (job {{ $labels.job }}) has seen {{ $labels.kind }} connection errors (more than " + num(connErr) + " per second over 5 minutes) for 5 minutes.",
			Test: &Case{EvalAt: 15 * time.Minute, Labels: map[string]string{"pool": shop, "kind": "dial"},
				Series: func(fire bool) []Series {
					per := 60 * connErr
					return []Series{series(DBConnErrors, counter(pick(fire, per+1, per), 20), "pool", shop, "kind", "dial")}
				}}},
		{Alert: "VitalsDBQueryErrorRatioHigh", Severity: Warning, For: 10 * time.Minute,
			Expr: fmt.Sprintf("sum %[1]s (rate(%[2]s[5m])) / sum %[1]s (histogram_count(rate(%[3]s[5m]))) > %[4]s and %[5]s sum %[1]s (histogram_count(rate(%[3]s[5m]))) > %[6]s",
				b.by("pool", "operation"), b.s(DBQueryErrors), b.s(DBQueryDuration), num(qerr), b.on("pool", "operation"), minRate),
			Summary:     "Queries {{ $labels.operation }} on database pool {{ $labels.pool }} fail more than " + pct(qerr) + " of the time",
			Description: "More than " + pct(qerr) + " of the {{ $labels.operation }} queries on database pool {{ $labels.pool }} on {{ $labels.instance }} (job {{ $labels.job }}) failed over 5 minutes, for 10 minutes.",
			Test: &Case{EvalAt: 20 * time.Minute, Labels: map[string]string{"pool": shop, "operation": "select"},
				Series: func(fire bool) []Series {
					e := 100 * qerr
					return []Series{
						series(DBQueryDuration, hist(histBelow(0.01), 100, 25), "pool", shop, "operation", "select"),
						series(DBQueryErrors, counter(pick(fire, e+1, e), 25), "pool", shop, "operation", "select"),
					}
				}}},
		{Alert: "VitalsDBPoolScoreLow", Severity: Warning, For: 10 * time.Minute,
			Expr:        fmt.Sprintf("%s < %s", b.s(PoolScore), num(score)),
			Summary:     "Health score of database pool {{ $labels.pool }} below " + num(score),
			Description: "The health score of database pool {{ $labels.pool }} on {{ $labels.instance }} (job {{ $labels.job }}) has been below " + num(score) + " of 100 for 10 minutes; vitals_db_pool_score_factor and /metrics/database say which factor is weak.",
			Test: &Case{EvalAt: 15 * time.Minute, Labels: map[string]string{"pool": shop},
				Series: func(fire bool) []Series {
					return []Series{series(PoolScore, gauge(pick(fire, score-1, score), 20), "pool", shop)}
				}}},
	}
}
