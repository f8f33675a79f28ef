package rules

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"
)

// Case is the promtool test of one alert. Two instances receive series:
// instance "fire" just past the threshold, instance "quiet" just short of
// it (at it, where floating point allows). At EvalAt the alert must be
// firing for "fire" only, carrying Labels.
type Case struct {
	// Series returns one instance's input series: the firing side when
	// fire is true. job and instance labels are added.
	Series func(fire bool) []Series
	// Labels are the alert's labels besides alertname, severity, job and
	// instance (and namespace when Params.Namespace is set).
	Labels map[string]string
	// EvalAt is when the test looks, from the first sample.
	EvalAt time.Duration
	// Interval between input samples; default 1m.
	Interval time.Duration
}

// Series is one input series in promtool's notation.
type Series struct {
	Name   string
	Labels []string // name, value pairs
	Values string   // promtool expanding notation, e.g. "0+10x30"
}

func series(name string, values string, labels ...string) Series {
	return Series{Name: name, Labels: labels, Values: values}
}

// gauge holds v for n intervals.
func gauge(v float64, n int) string { return fmt.Sprintf("%s+0x%d", num(v), n) }

// counter grows by per each interval for n intervals, from 0.
func counter(per float64, n int) string { return fmt.Sprintf("0+%sx%d", num(per), n) }

// counter2 grows by a for n1 intervals, then by b for n2.
func counter2(a float64, n1 int, b float64, n2 int) string {
	end := a * float64(n1)
	return fmt.Sprintf("0+%sx%d %s+%sx%d", num(a), n1, num(end+b), num(b), n2-1)
}

// gauge2 holds a for n1 intervals, then b for n2.
func gauge2(a float64, n1 int, b float64, n2 int) string {
	return fmt.Sprintf("%s+0x%d %s+0x%d", num(a), n1, num(b), n2-1)
}

// hist is a native histogram (schema 3) gaining per observations each
// interval, all in bucket idx: (2^((idx-1)/8), 2^(idx/8)].
func hist(idx int, per float64, n int) string {
	upper := math.Pow(2, float64(idx)/8)
	return fmt.Sprintf("{{schema:3 sum:0 count:0}}+{{schema:3 sum:%s count:%s offset:%d buckets:[%s]}}x%d",
		num(round(per*upper*0.99)), num(per), idx, num(per), n)
}

// histAbove and histBelow return the schema-3 bucket whose lower bound is
// at or above t, and the one whose upper bound is at or below t: every
// quantile of the first is above t, every quantile below 1 of the second
// is below t.
func histAbove(t float64) int { return int(math.Ceil(8*math.Log2(t)-1e-9)) + 1 }
func histBelow(t float64) int { return int(math.Floor(8*math.Log2(t) + 1e-9)) }

// round drops the floating-point noise of products like 14.4*(1-0.999).
func round(v float64) float64 {
	r, _ := strconv.ParseFloat(strconv.FormatFloat(v, 'g', 10, 64), 64)
	return r
}

// PromtoolFile is the promtool test file of one group.
type PromtoolFile struct {
	RuleFiles          []string       `yaml:"rule_files"`
	EvaluationInterval string         `yaml:"evaluation_interval"`
	Tests              []PromtoolTest `yaml:"tests"`
}

// PromtoolTest is one test group of a promtool test file.
type PromtoolTest struct {
	Name          string           `yaml:"name"`
	Interval      string           `yaml:"interval"`
	InputSeries   []PromtoolSeries `yaml:"input_series"`
	AlertRuleTest []AlertTest      `yaml:"alert_rule_test"`
}

// PromtoolSeries is one input series.
type PromtoolSeries struct {
	Series string `yaml:"series"`
	Values string `yaml:"values"`
}

// AlertTest is one alert_rule_test entry.
type AlertTest struct {
	EvalTime  string     `yaml:"eval_time"`
	Alertname string     `yaml:"alertname"`
	ExpAlerts []ExpAlert `yaml:"exp_alerts"`
}

// ExpAlert is one expected alert.
type ExpAlert struct {
	ExpLabels      map[string]string `yaml:"exp_labels"`
	ExpAnnotations map[string]string `yaml:"exp_annotations"`
}

// TestFile returns the promtool test file for group g of the rules built
// with p; ruleFile is the rule file's path relative to the test file.
func TestFile(p *Params, g Group, ruleFile string) (*PromtoolFile, error) {
	// One evaluation a minute: the 1-day comparisons (offset 1d) replay
	// more than a day, and every step evaluates every rule of the file.
	f := &PromtoolFile{RuleFiles: []string{ruleFile}, EvaluationInterval: "1m"}
	for _, r := range g.Rules {
		if r.Alert == "" {
			continue
		}
		c := r.Test
		interval := c.Interval
		if interval == 0 {
			interval = time.Minute
		}
		t := PromtoolTest{
			Name:     r.Alert + " fires past its threshold and stays quiet at it",
			Interval: promDuration(interval),
		}
		for _, inst := range []string{"fire", "quiet"} {
			for _, s := range c.Series(inst == "fire") {
				t.InputSeries = append(t.InputSeries, PromtoolSeries{Series: seriesText(p, s, inst), Values: s.Values})
			}
		}
		labels := map[string]string{"job": "vitals", "instance": "fire"}
		if p.Job != "" {
			labels["job"] = p.Job
		}
		if p.Namespace != "" {
			labels["namespace"] = p.Namespace
		}
		maps.Copy(labels, c.Labels)
		ann := map[string]string{}
		for k, v := range r.Annotations() {
			s, err := Expand(v, labels)
			if err != nil {
				return nil, fmt.Errorf("rule %s, annotation %s: %w", r.Alert, k, err)
			}
			ann[k] = s
		}
		exp := maps.Clone(labels)
		maps.Copy(exp, r.Labels())
		t.AlertRuleTest = []AlertTest{{EvalTime: promDuration(c.EvalAt), Alertname: r.Alert,
			ExpAlerts: []ExpAlert{{ExpLabels: exp, ExpAnnotations: ann}}}}
		f.Tests = append(f.Tests, t)
	}
	return f, nil
}

func seriesText(p *Params, s Series, inst string) string {
	l := map[string]string{"job": "vitals", "instance": inst}
	if p.Job != "" {
		l["job"] = p.Job
	}
	if p.Namespace != "" {
		l["namespace"] = p.Namespace
	}
	for i := 0; i+1 < len(s.Labels); i += 2 {
		l[s.Labels[i]] = s.Labels[i+1]
	}
	parts := make([]string, 0, len(l))
	for _, k := range slices.Sorted(maps.Keys(l)) {
		parts = append(parts, k+"="+quote(l[k]))
	}
	return s.Name + "{" + strings.Join(parts, ", ") + "}"
}

// promDuration formats d the way Prometheus writes durations (1h30m, 30s).
func promDuration(d time.Duration) string { return model.Duration(d).String() }

// pick returns f on the firing side of a test, q on the quiet side.
func pick(fire bool, f, q float64) float64 {
	if fire {
		return f
	}
	return q
}
