package rules_test

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/bizra/vitals/alerting/rules"
)

// Generate the rules for one deployment: a job selector and a threshold
// of its own. Every expression is built from the metric names the vitals
// packages export, and checked by Prometheus' parser.
func ExampleBuild() {
	p := rules.DefaultParams()
	p.Job = "shop"
	if err := p.Set("latency-p99", 2); err != nil {
		fmt.Println(err)
		return
	}
	groups, err := rules.Build(p)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, g := range groups {
		fmt.Println(g.Name, g.Interval)
	}
	for _, r := range groups[3].Rules {
		if r.Alert == "VitalsBreakerOpen" {
			fmt.Println(r.Alert, r.Severity, r.For, r.KeepFiringFor)
			fmt.Println(r.Expr)
		}
	}
	// Output:
	// performance_alerts 30s
	// cache_alerts 30s
	// database_alerts 30s
	// circuit_breaker_alerts 30s
	// system_alerts 30s
	// VitalsBreakerOpen critical 1m0s 2m0s
	// max by (job, instance, breaker) (vitals_breaker_state{job="shop",state=~"open|half_open"}) == 1
}

// Check refuses a rule that cannot work, naming it: here an expression
// that selects a metric no vitals package exports.
func ExampleCheck() {
	groups := []rules.Group{{Name: "mine", Interval: time.Minute, Rules: []rules.Rule{{
		Alert: "VitalsQueueStuck", Expr: "queue_depth > 100", Severity: rules.Warning,
		Summary: "queue stuck", Description: "the queue has not drained", Runbook: "https://example.com/runbooks#queue",
		Test: &rules.Case{},
	}}}}
	fmt.Println(rules.Check(groups))
	// Output: group mine, rule VitalsQueueStuck: expression selects unknown metric "queue_depth"
}

// RuleFile renders groups as a Prometheus rule file (rule_files in
// prometheus.yml, or a PrometheusRule's spec).
func ExampleRuleFile() {
	groups := []rules.Group{{Name: "pool", Interval: 30 * time.Second, Rules: []rules.Rule{{
		Alert: "VitalsPoolWaiting", Expr: rules.PoolWaiters + " > 0", For: 5 * time.Minute, Severity: rules.Warning,
		Summary: "Callers wait for pool {{ $labels.pool }}", Description: "Callers have waited for 5 minutes.",
		Runbook: "https://example.com/runbooks#pool", Test: &rules.Case{},
	}}}}
	b, err := rules.RuleFile(groups)
	if err != nil {
		fmt.Println(err)
		return
	}
	os.Stdout.WriteString(strings.TrimPrefix(string(b), rules.Header))
	// Output:
	// groups:
	//   - name: pool
	//     interval: 30s
	//     rules:
	//       - alert: VitalsPoolWaiting
	//         expr: vitals_db_pool_waiters > 0
	//         for: 5m
	//         labels:
	//           severity: warning
	//         annotations:
	//           description: Callers have waited for 5 minutes.
	//           runbook_url: https://example.com/runbooks#pool
	//           summary: Callers wait for pool {{ $labels.pool }}
}

// Thresholds are overridden by name; an unknown name is an error (the
// `vitals rules` flags go through Set).
func ExampleParams_Set() {
	p := rules.DefaultParams()
	fmt.Println(p.Value("pool-saturation"))
	fmt.Println(p.Set("pool-saturation", 0.8), p.Value("pool-saturation"))
	fmt.Println(p.Set("pool-saturaton", 0.8))
	// Output:
	// 0.9
	// <nil> 0.8
	// unknown threshold "pool-saturaton"
}

// ExpandValue fills an annotation template the way Prometheus does, for the
// templates the rules use.
func ExampleExpandValue() {
	s, err := rules.ExpandValue("{{ $labels.pool }} has {{ $value }} waiters", map[string]string{"pool": "orders"}, 3)
	fmt.Println(s, err)
	// Output: orders has 3 waiters <nil>
}
