package dashboard

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/prometheus/promql/parser"

	"github.com/bizra/vitals/alerting/rules"
)

var update = flag.Bool("update", false, "rewrite monitoring/dashboards/vitals.json from the code")

// Path of the committed dashboard, relative to the repository root.
const Path = "monitoring/dashboards/vitals.json"

func TestDashboardUpToDate(t *testing.T) {
	b, err := JSON(nil)
	if err != nil {
		t.Fatal(err)
	}
	full := filepath.Join("../..", Path)
	if *update {
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	got, err := os.ReadFile(full)
	if err != nil {
		t.Fatalf("%v (generate it: go test ./alerting/dashboard -run DashboardUpToDate -update)", err)
	}
	if !bytes.Equal(got, b) {
		t.Fatalf("%s is stale (regenerate: go test ./alerting/dashboard -run DashboardUpToDate -update)", Path)
	}
}

// TestQueries parses every query of the dashboard with Prometheus' parser
// (variables substituted as Grafana does), checks that every rate uses
// $__rate_interval, and that every metric it reads is a vitals family
// (so TestDemoMetricNames proves it is in the real /metrics).
func TestQueries(t *testing.T) {
	b, err := JSON(nil)
	if err != nil {
		t.Fatal(err)
	}
	qs, err := Queries(b)
	if err != nil {
		t.Fatal(err)
	}
	known := map[string]bool{"ALERTS": true} // written by Prometheus' (and our) rule evaluation
	for _, f := range rules.Families {
		known[f] = true
		known[f+"_bucket"], known[f+"_sum"], known[f+"_count"] = true, true, true
	}
	rangeRe := regexp.MustCompile(`\[([^\]]+)\]`)
	for _, q := range qs {
		for _, m := range rangeRe.FindAllStringSubmatch(q.Expr, -1) {
			if m[1] != "$__rate_interval" {
				t.Errorf("%s: range [%s] instead of [$__rate_interval] in %s", q.Panel, m[1], q.Expr)
			}
		}
		expr, err := promqlParser.ParseExpr(Substitute(q.Expr, "1m"))
		if err != nil {
			t.Errorf("%s: %q does not parse: %v", q.Panel, q.Expr, err)
			continue
		}
		parser.Inspect(expr, func(n parser.Node, _ []parser.Node) error {
			if vs, ok := n.(*parser.VectorSelector); ok && !known[vs.Name] {
				t.Errorf("%s: unknown metric %q", q.Panel, vs.Name)
			}
			return nil
		})
	}
	if len(qs) < 20 {
		t.Errorf("only %d queries", len(qs))
	}
}

// TestShape checks what the issue asks of the dashboard: the variables,
// units on every panel, rows, the panels, alert annotations.
func TestShape(t *testing.T) {
	b, err := JSON(&Params{Job: "shop", Namespace: "prod"})
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Panels []struct {
			Type        string `json:"type"`
			Title       string `json:"title"`
			FieldConfig struct {
				Defaults struct {
					Unit string `json:"unit"`
				} `json:"defaults"`
			} `json:"fieldConfig"`
		} `json:"panels"`
		Templating struct {
			List []struct {
				Name string `json:"name"`
				Type string `json:"type"`
			} `json:"list"`
		} `json:"templating"`
		Annotations struct {
			List []struct {
				Expr string `json:"expr"`
			} `json:"list"`
		} `json:"annotations"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	var vars []string
	for _, v := range d.Templating.List {
		vars = append(vars, v.Type+":"+v.Name)
	}
	if strings.Join(vars, " ") != "datasource:datasource query:job query:instance" {
		t.Errorf("variables %v", vars)
	}
	rows, panels := 0, map[string]bool{}
	for _, p := range d.Panels {
		if p.Type == "row" {
			rows++
			continue
		}
		panels[p.Title] = true
		if p.FieldConfig.Defaults.Unit == "" {
			t.Errorf("panel %q has no unit", p.Title)
		}
	}
	if rows != 5 {
		t.Errorf("%d rows, want 5", rows)
	}
	for _, want := range []string{"Latency p50 / p95 / p99 per operation", "Throughput per operation", "Error ratio per operation",
		"Cache hit ratio per tier", "Pool connections: in use, idle, waiters", "Pool wait p99", "Breaker state",
		"Breaker failure and slow-call rate", "Memory", "GC pauses and CPU", "Health scores: system, database pool, cache, breakers"} {
		if !panels[want] {
			t.Errorf("panel %q missing", want)
		}
	}
	if len(d.Annotations.List) == 0 || !strings.Contains(string(b), `ALERTS{alertstate=\"firing\"`) {
		t.Error("no alert annotation")
	}
	if !strings.Contains(string(b), `namespace=\"prod\"`) {
		t.Error("namespace selector not applied")
	}
	if _, err := JSON(&Params{Selector: "bad="}); err == nil {
		t.Error("a bad selector was accepted")
	}
}
