package dashboard

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	gdash "github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
	"github.com/grafana/grafana-foundation-sdk/go/stat"
	"github.com/grafana/grafana-foundation-sdk/go/statetimeline"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/bizra/vitals/alerting/rules"
)

//lint:file-ignore SA1019 Grafana 11 and 12 import the v1 dashboard JSON model that this package writes; the SDK marks its builder deprecated in favour of the v2 schema, which only Grafana 12 with a feature flag reads.

// Params choose the series the dashboard shows. The zero value selects by
// the $job and $instance variables only.
type Params struct {
	// Job, when set, fixes the job variable's default to this job.
	Job string
	// Namespace, when set, adds namespace="<Namespace>" to every selector.
	Namespace string
	// Selector holds extra label matchers for every selector, PromQL
	// syntax without braces, e.g. `cluster="eu-1"`.
	Selector string
	// UID is the dashboard's uid. Default "vitals".
	UID string
	// Title is the dashboard's title. Default "vitals".
	Title string
}

// UID and Title of the dashboard built with default Params.
const (
	DefaultUID   = "vitals"
	DefaultTitle = "vitals"
)

var promqlParser = parser.NewParser(parser.Options{})

// b holds what every query is built from.
type b struct {
	fixed string // deployment matchers, "" or `namespace="x",cluster="y"`
}

// s returns a selector for name with the dashboard variables, the
// deployment's matchers and extra.
func (x b) s(name string, extra ...string) string {
	m := []string{`job=~"$job"`, `instance=~"$instance"`}
	if x.fixed != "" {
		m = append(m, x.fixed)
	}
	return name + "{" + strings.Join(append(m, extra...), ",") + "}"
}

// rate returns rate(<selector>[$__rate_interval]).
func (x b) rate(name string, extra ...string) string {
	return "rate(" + x.s(name, extra...) + "[$__rate_interval])"
}

func ds() common.DataSourceRef {
	return common.DataSourceRef{Type: cog.ToPtr("prometheus"), Uid: cog.ToPtr("${datasource}")}
}

func query(expr, legend string) *prometheus.DataqueryBuilder {
	return prometheus.NewDataqueryBuilder().Expr(expr).LegendFormat(legend).Range()
}

func series(title, desc, unit string, targets ...*prometheus.DataqueryBuilder) *timeseries.PanelBuilder {
	p := timeseries.NewPanelBuilder().Title(title).Description(desc).Unit(unit).Datasource(ds()).
		Height(8).Span(12).FillOpacity(10).LineWidth(1).ShowPoints(common.VisibilityModeNever).
		Legend(common.NewVizLegendOptionsBuilder().DisplayMode(common.LegendDisplayModeTable).Placement(common.LegendPlacementBottom).ShowLegend(true).Calcs([]string{"mean", "max", "lastNotNull"}))
	for _, t := range targets {
		p.WithTarget(t)
	}
	return p
}

func score(title, desc string, targets ...*prometheus.DataqueryBuilder) *timeseries.PanelBuilder {
	return series(title, desc, "none", targets...).Min(0).Max(100).
		Thresholds(gdash.NewThresholdsConfigBuilder().Mode(gdash.ThresholdsModeAbsolute).Steps([]gdash.Threshold{
			{Value: nil, Color: "red"}, {Value: cog.ToPtr(50.0), Color: "orange"}, {Value: cog.ToPtr(80.0), Color: "green"}})).
		ThresholdsStyle(common.NewGraphThresholdsStyleConfigBuilder().Mode(common.GraphThresholdsStyleModeLine))
}

// Build returns the dashboard for p (nil for defaults).
func Build(p *Params) (gdash.Dashboard, error) {
	if p == nil {
		p = &Params{}
	}
	var fixed []string
	if p.Namespace != "" {
		fixed = append(fixed, fmt.Sprintf("namespace=%q", p.Namespace))
	}
	if s := strings.TrimSpace(p.Selector); s != "" {
		s = strings.TrimSuffix(strings.TrimPrefix(s, "{"), "}")
		if _, err := promqlParser.ParseMetricSelector("{" + s + "}"); err != nil {
			return gdash.Dashboard{}, fmt.Errorf("selector %q: %w", p.Selector, err)
		}
		fixed = append(fixed, s)
	}
	x := b{fixed: strings.Join(fixed, ",")}
	uid, title := p.UID, p.Title
	if uid == "" {
		uid = DefaultUID
	}
	if title == "" {
		title = DefaultTitle
	}

	varSel := ""
	if x.fixed != "" {
		varSel = "{" + x.fixed + "}"
	}
	jobVar := gdash.NewQueryVariableBuilder("job").Label("Job").Datasource(ds()).
		Query(gdash.StringOrMap{String: cog.ToPtr("label_values(" + rules.CollectorTicks + varSel + ", job)")}).
		Refresh(gdash.VariableRefreshOnTimeRangeChanged).Sort(gdash.VariableSortAlphabeticalAsc).
		Multi(true).IncludeAll(true).AllValue(".*")
	if p.Job != "" {
		jobVar.Current(gdash.VariableOption{Text: gdash.StringOrArrayOfString{String: cog.ToPtr(p.Job)}, Value: gdash.StringOrArrayOfString{String: cog.ToPtr(p.Job)}})
	}
	instSel := `{job=~"$job"`
	if x.fixed != "" {
		instSel += "," + x.fixed
	}
	instSel += "}"

	d := gdash.NewDashboardBuilder(title).Uid(uid).
		Description("vitals: latency, throughput and errors per operation, the two-tier cache, the database pool, circuit breakers, the Go runtime and the health scores. Generated by `vitals dashboard`.").
		Tags([]string{"vitals", "generated"}).Timezone("browser").Refresh("30s").Time("now-1h", "now").
		Tooltip(gdash.DashboardCursorSyncCrosshair).Editable().
		WithVariable(gdash.NewDatasourceVariableBuilder("datasource").Label("Data source").Type("prometheus")).
		WithVariable(jobVar).
		WithVariable(gdash.NewQueryVariableBuilder("instance").Label("Instance").Datasource(ds()).
			Query(gdash.StringOrMap{String: cog.ToPtr("label_values(" + rules.CollectorTicks + instSel + ", instance)")}).
			Refresh(gdash.VariableRefreshOnTimeRangeChanged).Sort(gdash.VariableSortAlphabeticalAsc).
			Multi(true).IncludeAll(true).AllValue(".*")).
		Annotation(gdash.NewAnnotationQueryBuilder().Name("Firing alerts").Datasource(ds()).Enable(true).IconColor("red").
			Expr(`ALERTS{alertstate="firing",job=~"$job",instance=~"$instance"}`).
			TitleFormat("{{alertname}}").TextFormat("{{severity}}: {{alertname}} {{operation}}{{cache}}{{pool}}{{breaker}}").
			TagKeys("alertname,severity").Step("30s").UseValueForTime(false))

	// Operations.
	d.WithRow(gdash.NewRowBuilder("Operations"))
	lat := func(q string) *prometheus.DataqueryBuilder {
		legend := map[string]string{"0.5": "p50", "0.95": "p95", "0.99": "p99"}[q]
		return query(fmt.Sprintf("histogram_quantile(%s, sum by (operation) (%s))", q, x.rate(rules.OperationDuration)), "{{operation}} "+legend)
	}
	d.WithPanel(series("Latency p50 / p95 / p99 per operation", "Quantiles of vitals_operation_duration_seconds (a native histogram: exact bucket merge across instances, no le series).", "s",
		lat("0.5"), lat("0.95"), lat("0.99")))
	d.WithPanel(series("Throughput per operation", "Operations started per second.", "reqps",
		query("sum by (operation) ("+x.rate(rules.OperationsStarted)+")", "{{operation}}")))
	d.WithPanel(series("Error ratio per operation", "Operations that ended with an error over operations started.", "percentunit",
		query("sum by (operation) ("+x.rate(rules.OperationErrors)+") / sum by (operation) ("+x.rate(rules.OperationsStarted)+")", "{{operation}}")).Min(0))
	d.WithPanel(series("Operations in flight", "Operations started and not yet finished, right now.", "short",
		query("sum by (operation) ("+x.s(rules.OperationsRunning)+")", "{{operation}}")).Min(0))

	// Cache.
	d.WithRow(gdash.NewRowBuilder("Cache"))
	hits, misses := x.rate(rules.CacheHits), x.rate(rules.CacheMisses)
	d.WithPanel(series("Cache hit ratio per tier", "Hits over lookups of each tier (L2 sees only L1 misses), and end to end: lookups answered by either tier.", "percentunit",
		query(fmt.Sprintf("sum by (cache, tier) (%s) / (sum by (cache, tier) (%s) + sum by (cache, tier) (%s))", hits, hits, misses), "{{cache}} {{tier}}"),
		query(fmt.Sprintf("sum by (cache) (%s) / (sum by (cache) (%s) + sum by (cache) (%s))", hits, x.rate(rules.CacheHits, `tier="l1"`), x.rate(rules.CacheMisses, `tier="l1"`)), "{{cache}} end to end")).Min(0).Max(1))
	d.WithPanel(series("Cache lookup latency p99 by answering tier", "99th percentile of lookups as callers saw them, by the tier that answered (origin: every tier missed).", "s",
		query("histogram_quantile(0.99, sum by (cache, answered_by) ("+x.rate(rules.CacheLookup)+"))", "{{cache}} {{answered_by}}")))
	d.WithPanel(series("Cache evictions by cause", "Entries leaving each tier per second, by cause.", "ops",
		query("sum by (cache, tier, cause) ("+x.rate(rules.CacheEvictions)+")", "{{cache}} {{tier}} {{cause}}")))
	d.WithPanel(series("L2 compression ratio", "Raw bytes over stored bytes written to the L2.", "none",
		query(fmt.Sprintf("sum by (cache) (%s) / sum by (cache) (%s)", x.rate(rules.CacheRawBytes, `tier="l2"`), x.rate(rules.CacheStoredBytes, `tier="l2"`)), "{{cache}}")))

	// Database pool.
	d.WithRow(gdash.NewRowBuilder("Database pool"))
	d.WithPanel(series("Pool connections: in use, idle, waiters", "Open connections by state, the pool's maximum, and callers waiting for a connection.", "short",
		query("sum by (pool, state) ("+x.s(rules.PoolConnections)+")", "{{pool}} {{state}}"),
		query("sum by (pool) ("+x.s(rules.PoolMaxOpen)+")", "{{pool}} max"),
		query("sum by (pool) ("+x.s(rules.PoolWaiters)+")", "{{pool}} waiters")).Min(0))
	d.WithPanel(series("Pool wait p99", "99th percentile of the time callers waited for a connection.", "s",
		query("histogram_quantile(0.99, sum by (pool) ("+x.rate(rules.PoolWait)+"))", "{{pool}} p99")))
	d.WithPanel(series("Acquires and connection errors", "Acquires per second by result, and connection errors by kind.", "ops",
		query("sum by (pool, result) ("+x.rate(rules.PoolAcquires)+")", "{{pool}} {{result}}"),
		query("sum by (pool, kind) ("+x.rate(rules.DBConnErrors)+")", "{{pool}} error {{kind}}")))
	d.WithPanel(series("Query latency p99 per operation", "99th percentile of query durations (connection wait excluded).", "s",
		query("histogram_quantile(0.99, sum by (pool, operation) ("+x.rate(rules.DBQueryDuration)+"))", "{{pool}} {{operation}}")))

	// Circuit breakers.
	d.WithRow(gdash.NewRowBuilder("Circuit breakers"))
	mapping := func(v, text, color string) gdash.ValueMapping {
		return gdash.ValueMapping{ValueMap: &gdash.ValueMap{Type: gdash.MappingTypeValueToText,
			Options: map[string]gdash.ValueMappingResult{v: {Text: cog.ToPtr(text), Color: cog.ToPtr(color)}}}}
	}
	d.WithPanel(statetimeline.NewPanelBuilder().Title("Breaker state").Description("0 closed, 1 half-open, 2 open.").Unit("none").
		Datasource(ds()).Height(8).Span(12).
		Mappings([]gdash.ValueMapping{mapping("0", "closed", "green"), mapping("1", "half-open", "yellow"), mapping("2", "open", "red")}).
		WithTarget(query(fmt.Sprintf("max by (breaker) (%s) * 2 + max by (breaker) (%s)", x.s(rules.BreakerState, `state="open"`), x.s(rules.BreakerState, `state="half_open"`)), "{{breaker}}")))
	completed := x.rate(rules.BreakerCalls, `outcome=~"success|failure"`)
	d.WithPanel(series("Breaker failure and slow-call rate", "Failed, and slow, calls over calls that completed.", "percentunit",
		query(fmt.Sprintf("sum by (breaker) (%s) / sum by (breaker) (%s)", x.rate(rules.BreakerCalls, `outcome="failure"`), completed), "{{breaker}} failures"),
		query(fmt.Sprintf("sum by (breaker) (%s) / sum by (breaker) (%s)", x.rate(rules.BreakerSlowCalls), completed), "{{breaker}} slow")).Min(0).Max(1))
	d.WithPanel(series("Breaker calls by outcome", "Calls per second: success, failure, rejected (breaker open), excluded.", "ops",
		query("sum by (breaker, outcome) ("+x.rate(rules.BreakerCalls)+")", "{{breaker}} {{outcome}}")))

	// Runtime and health.
	d.WithRow(gdash.NewRowBuilder("Runtime and health"))
	d.WithPanel(series("Memory", "Go heap in use and allocated, and the process's resident memory.", "bytes",
		query("sum by (instance) ("+x.s(rules.HeapInuse)+")", "{{instance}} heap in use"),
		query("sum by (instance) ("+x.s(rules.HeapAlloc)+")", "{{instance}} heap allocated"),
		query("sum by (instance) ("+x.s(rules.ProcessResident)+")", "{{instance}} resident")))
	d.WithPanel(series("GC pauses and CPU", "Fraction of wall time stopped for GC, and CPU used (100% = one core).", "percentunit",
		query("sum by (instance) ("+x.rate(rules.GCDuration+"_sum")+")", "{{instance}} GC pause"),
		query("sum by (instance) ("+x.rate(rules.ProcessCPU)+")", "{{instance}} CPU")).Min(0))
	d.WithPanel(series("Scheduler latency p99 and goroutines", "How long runnable goroutines waited for a CPU (p99).", "s",
		query("histogram_quantile(0.99, sum by (instance, le) ("+x.rate(rules.SchedLatencies+"_bucket")+"))", "{{instance}} p99")))
	d.WithPanel(series("Collector tick p99", "99th percentile of the vitals collector's tick.", "s",
		query("histogram_quantile(0.99, sum by (instance) ("+x.rate(rules.CollectorTickDuration)+"))", "{{instance}} p99")))
	d.WithPanel(score("Health scores: system, database pool, cache, breakers", "0-100 scores: the overall (system) score and each component's own.",
		query("max by (instance) ("+x.s(rules.HealthScore, `component="overall"`)+")", "{{instance}} system"),
		query("max by (instance, pool) ("+x.s(rules.PoolScore)+")", "pool {{pool}}"),
		query("max by (instance, cache) ("+x.s(rules.CacheScore)+")", "cache {{cache}}"),
		query("max by (instance, breaker) ("+x.s(rules.BreakerScore)+")", "breaker {{breaker}}")))
	d.WithPanel(stat.NewPanelBuilder().Title("Goroutines").Description("Goroutines running now.").Unit("short").Datasource(ds()).Height(8).Span(12).
		WithTarget(query("sum by (instance) ("+x.s(rules.Goroutines)+")", "{{instance}}")))

	dash, err := d.Build()
	if err != nil {
		return dash, err
	}
	// Grafana keys panel state (links, repeats, the edit view) by id;
	// number rows and panels in order.
	for i := range dash.Panels {
		id := uint32(i + 1)
		switch p := dash.Panels[i]; {
		case p.Panel != nil:
			p.Panel.Id = &id
		case p.RowPanel != nil:
			p.RowPanel.Id = id
		}
	}
	return dash, nil
}

// JSON returns the dashboard for p as indented JSON, ready for Grafana's
// import.
func JSON(p *Params) ([]byte, error) {
	dash, err := Build(p)
	if err != nil {
		return nil, err
	}
	out, err := json.MarshalIndent(dash, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(out, '\n'), nil
}

// Query is one query of the dashboard.
type Query struct {
	Panel  string // panel title, or "annotation" or "variable <name>"
	Expr   string // as written in the dashboard, with $variables
	Legend string
}

// Queries returns every PromQL query of the dashboard: panel targets,
// annotation queries and variable queries.
func Queries(dashJSON []byte) ([]Query, error) {
	var d struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr   string `json:"expr"`
				Legend string `json:"legendFormat"`
			} `json:"targets"`
		} `json:"panels"`
		Annotations struct {
			List []struct {
				Name string `json:"name"`
				Expr string `json:"expr"`
			} `json:"list"`
		} `json:"annotations"`
		Templating struct {
			List []struct {
				Name  string `json:"name"`
				Query any    `json:"query"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(dashJSON, &d); err != nil {
		return nil, err
	}
	var out []Query
	for _, p := range d.Panels {
		for _, t := range p.Targets {
			out = append(out, Query{Panel: p.Title, Expr: t.Expr, Legend: t.Legend})
		}
	}
	for _, a := range d.Annotations.List {
		if a.Expr != "" {
			out = append(out, Query{Panel: "annotation " + a.Name, Expr: a.Expr})
		}
	}
	for _, v := range d.Templating.List {
		if s, ok := v.Query.(string); ok && strings.HasPrefix(s, "label_values(") {
			// label_values(<selector>, <label>): the selector is PromQL.
			inner := strings.TrimSuffix(strings.TrimPrefix(s, "label_values("), ")")
			if i := strings.LastIndex(inner, ","); i > 0 {
				out = append(out, Query{Panel: "variable " + v.Name, Expr: strings.TrimSpace(inner[:i])})
			}
		}
	}
	return out, nil
}

// Substitute replaces the dashboard variables in expr the way Grafana does
// for a range query with all jobs and instances selected: $job and
// $instance by ".*", $__rate_interval by rateInterval (Grafana uses
// max(4 * scrape interval, step + scrape interval)).
func Substitute(expr, rateInterval string) string {
	r := strings.NewReplacer("$__rate_interval", rateInterval, "$job", ".*", "$instance", ".*")
	return r.Replace(expr)
}
