package rules

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/prometheus/promql/parser"
)

// Severity is an alert's severity label.
type Severity string

// Severities: critical pages someone; warning goes to a ticket or a
// channel.
const (
	Critical Severity = "critical"
	Warning  Severity = "warning"
)

// Rule is one alerting or recording rule. Exactly one of Alert and Record
// is set.
type Rule struct {
	Alert  string // alert name, e.g. VitalsBreakerOpen
	Record string // recorded series name, e.g. vitals:operation_error_ratio:rate5m

	Expr          string        // PromQL
	For           time.Duration // how long the condition holds before the alert fires
	KeepFiringFor time.Duration // how long the alert keeps firing after the condition clears
	Severity      Severity
	// Summary and Description are Prometheus templates; they use only
	// {{ $labels.<name> }} so that the promtool tests and the in-process
	// evaluator expand them the same way.
	Summary     string
	Description string
	// Runbook is the runbook_url annotation (set by Build).
	Runbook string

	// Test is the promtool test of an alert: inputs on both sides of the
	// threshold. Nil for recording rules (their alerts' tests cover them).
	Test *Case
}

// Group is a named list of rules evaluated together at Interval.
type Group struct {
	Name     string
	Interval time.Duration
	Rules    []Rule
}

// Labels returns the rule's static labels (severity for alerts).
func (r *Rule) Labels() map[string]string {
	if r.Alert == "" {
		return nil
	}
	return map[string]string{"severity": string(r.Severity)}
}

// Annotations returns the rule's annotations.
func (r *Rule) Annotations() map[string]string {
	if r.Alert == "" {
		return nil
	}
	return map[string]string{"summary": r.Summary, "description": r.Description, "runbook_url": r.Runbook}
}

// Name returns the alert or record name.
func (r *Rule) Name() string {
	if r.Alert != "" {
		return r.Alert
	}
	return r.Record
}

// GroupNames are the five groups Build returns, in order.
var GroupNames = []string{"performance_alerts", "cache_alerts", "database_alerts", "circuit_breaker_alerts", "system_alerts"}

// Build returns the rule groups for p (nil for DefaultParams). Every
// expression is parsed with Prometheus' own parser, and every metric it
// selects must be a vitals family (Families) or a recording rule defined
// earlier; the error names the offending rule.
func Build(p *Params) ([]Group, error) {
	if p == nil {
		p = DefaultParams()
	}
	sel, err := p.validate()
	if err != nil {
		return nil, err
	}
	b := &builder{p: p, sel: sel}
	interval := time.Duration(p.IntervalSeconds * float64(time.Second))
	if interval == 0 {
		interval = 30 * time.Second
	}
	groups := []Group{
		{Name: GroupNames[0], Rules: b.performance()},
		{Name: GroupNames[1], Rules: b.cache()},
		{Name: GroupNames[2], Rules: b.database()},
		{Name: GroupNames[3], Rules: b.breaker()},
		{Name: GroupNames[4], Rules: b.system()},
	}
	base := p.RunbookURL
	if base == "" {
		base = DefaultRunbookURL
	}
	for gi := range groups {
		groups[gi].Interval = interval
		for ri := range groups[gi].Rules {
			r := &groups[gi].Rules[ri]
			if r.Alert != "" {
				r.Runbook = base + "#" + strings.ToLower(r.Alert)
			}
		}
	}
	if err := Check(groups); err != nil {
		return nil, err
	}
	return groups, nil
}

var (
	alertName  = regexp.MustCompile(`^Vitals[A-Z][A-Za-z0-9]+$`)
	recordName = regexp.MustCompile(`^vitals:[a-z0-9_]+:[a-z0-9_]+$`)
)

// Check validates groups: names, severities, annotations and every
// expression (it parses, and it selects only known families or earlier
// recording rules). Errors name the rule.
func Check(groups []Group) error {
	known := selectable()
	seen := map[string]bool{}
	var errs []error
	for _, g := range groups {
		for _, r := range g.Rules {
			name := r.Name()
			fail := func(format string, args ...any) {
				errs = append(errs, fmt.Errorf("group %s, rule %s: %s", g.Name, name, fmt.Sprintf(format, args...)))
			}
			switch {
			case (r.Alert == "") == (r.Record == ""):
				fail("set exactly one of Alert and Record")
			case r.Alert != "" && !alertName.MatchString(r.Alert):
				fail("alert name must match %s", alertName)
			case r.Record != "" && !recordName.MatchString(r.Record):
				fail("record name must match %s", recordName)
			}
			if r.Alert != "" {
				if seen[r.Alert] {
					fail("defined twice")
				}
				seen[r.Alert] = true
				if r.Severity != Critical && r.Severity != Warning {
					fail("severity %q: want critical or warning", r.Severity)
				}
				if r.Summary == "" || r.Description == "" || r.Runbook == "" {
					fail("summary, description and runbook_url are required")
				}
				if r.Test == nil {
					fail("no promtool test case")
				}
			}
			expr, err := promqlParser.ParseExpr(r.Expr)
			if err != nil {
				fail("expression %q does not parse: %v", r.Expr, err)
				continue
			}
			parser.Inspect(expr, func(n parser.Node, _ []parser.Node) error {
				if vs, ok := n.(*parser.VectorSelector); ok && !known[vs.Name] {
					fail("expression selects unknown metric %q", vs.Name)
				}
				return nil
			})
			if r.Record != "" {
				known[r.Record] = true
			}
		}
	}
	return errors.Join(errs...)
}

// builder holds what every rule expression is built from.
type builder struct {
	p   *Params
	sel string // matchers added to every selector
}

// s returns a selector for name with the deployment's matchers and extra.
func (b *builder) s(name string, extra ...string) string {
	m := extra
	if b.sel != "" {
		m = append([]string{b.sel}, extra...)
	}
	if len(m) == 0 {
		return name
	}
	return name + "{" + strings.Join(m, ",") + "}"
}

// by returns the aggregation clause: the identifying labels plus extra.
func (b *builder) by(extra ...string) string { return "by " + b.p.by(extra...) }

// on returns the matching clause over the identifying labels plus extra.
func (b *builder) on(extra ...string) string { return "on " + b.p.by(extra...) }

// t formats a threshold for an expression.
func (b *builder) t(name string) string { return num(b.p.Value(name)) }

// num formats a number the shortest way PromQL reads back exactly.
func num(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

// pct formats a ratio as a percentage for annotations.
func pct(v float64) string { return strconv.FormatFloat(v*100, 'g', 4, 64) + "%" }

// dur formats seconds for annotations.
func dur(sec float64) string {
	return time.Duration(sec * float64(time.Second)).String()
}
