// Package rules defines the vitals alerting and recording rules once, in
// Go, as structured data: expression (built from the metric family names
// the vitals packages register, Families), `for`, `keep_firing_for`,
// severity, summary, description, runbook link, and a promtool test case
// per alert. The same groups become the Prometheus rule file (RuleFile),
// its promtool tests (TestFiles), and the rules the service evaluates in
// process (alerting/eval).
//
// Thresholds are named parameters (Thresholds, Params.Set), and every
// selector can be narrowed to a deployment (Params.Job, Namespace,
// Selector): `vitals rules` exposes both as flags.
//
//	p := rules.DefaultParams()
//	p.Job = "shop"
//	if err := p.Set("latency-p99", 2); err != nil {
//		log.Fatal(err)
//	}
//	groups, err := rules.Build(p) // parsed and checked: errors name the rule
//	if err != nil {
//		log.Fatal(err)
//	}
//	yaml, err := rules.RuleFile(groups)
//	if err != nil {
//		log.Fatal(err)
//	}
//	os.Stdout.Write(yaml)
//
// Build and Check parse every expression with Prometheus' own parser and
// refuse one that selects a family no vitals package exports, naming the
// group and rule. Params' zero value is not useful: start from
// DefaultParams. The package holds no state: every function is safe for
// concurrent use, and the groups returned are the caller's to change.
package rules
