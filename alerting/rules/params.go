package rules

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/prometheus/prometheus/promql/parser"
)

// Params are what a deployment changes in the generated rules: which
// series they select and the thresholds. The zero value is not useful;
// start from DefaultParams and override fields.
type Params struct {
	// Job, when set, adds job="<Job>" to every selector.
	Job string
	// Namespace, when set, adds namespace="<Namespace>" to every selector
	// and keeps the namespace label in every aggregation.
	Namespace string
	// Selector holds extra label matchers added to every selector, in
	// PromQL syntax without braces, e.g. `cluster="eu-1",env!="dev"`.
	Selector string
	// RunbookURL is the base of each alert's runbook_url annotation; the
	// alert's lower-cased name is appended as a fragment. Default
	// DefaultRunbookURL.
	RunbookURL string
	// Interval is the evaluation interval of every group. Default 30s.
	IntervalSeconds float64

	// Thresholds, by name: see Thresholds for each one's meaning and
	// default.
	T map[string]float64
}

// DefaultRunbookURL is where the runbooks of this repository are served.
const DefaultRunbookURL = "https://github.com/bizra/vitals/blob/main/docs/RUNBOOKS.md"

// Threshold is one named, overridable number in the rules.
type Threshold struct {
	Name    string  // flag-friendly name, e.g. "latency-p95"
	Default float64 // value used when Params.T does not set it
	Unit    string  // seconds, ratio, per-second, bytes, count, score, factor
	Doc     string  // what it bounds
}

// Thresholds lists every threshold the rules read, in a stable order.
var Thresholds = []Threshold{
	{"latency-p95", 0.5, "seconds", "p95 latency of an operation above which VitalsOperationLatencyP95High fires"},
	{"latency-p99", 1, "seconds", "p99 latency of an operation above which VitalsOperationLatencyP99High fires"},
	{"min-rate", 0.1, "per-second", "traffic below which ratio and latency alerts stay quiet (too few samples to judge)"},
	{"error-ratio", 0.05, "ratio", "errors over started operations above which VitalsOperationErrorRatioHigh fires"},
	{"throughput-drop", 0.5, "factor", "fraction of the same window one day earlier below which VitalsOperationThroughputDrop fires"},
	{"slo", 0.999, "ratio", "availability objective of every operation; the error budget is 1-slo"},
	{"burn-fast", 14.4, "factor", "fast burn-rate factor (1h and 5m windows): 2% of a 30-day budget in an hour"},
	{"burn-slow", 6, "factor", "slow burn-rate factor (6h and 30m windows): 5% of a 30-day budget in six hours"},
	{"cache-l1-hit-ratio", 0.5, "ratio", "L1 hit ratio below which VitalsCacheL1HitRatioLow fires"},
	{"cache-l2-hit-ratio", 0.3, "ratio", "L2 hit ratio (of L1 misses) below which VitalsCacheL2HitRatioLow fires"},
	{"cache-hit-ratio", 0.7, "ratio", "end-to-end hit ratio (either tier) below which VitalsCacheHitRatioLow fires"},
	{"eviction-storm", 3, "factor", "eviction rate, per cause, over the same cause's rate an hour earlier, above which VitalsCacheEvictionStorm fires"},
	{"eviction-min-rate", 10, "per-second", "eviction rate below which VitalsCacheEvictionStorm stays quiet"},
	{"cache-l2-error-ratio", 0.01, "ratio", "L2 errors over L2 lookups above which VitalsCacheL2Errors fires"},
	{"cache-l2-latency-p99", 0.05, "seconds", "p99 of lookups answered by L2 above which VitalsCacheL2LatencyHigh fires"},
	{"compression-drop", 0.8, "factor", "L2 compression ratio over its value a day earlier below which VitalsCacheCompressionRatioDegraded fires"},
	{"cache-load-error-ratio", 0.05, "ratio", "failed origin loads over all loads above which VitalsCacheLoadErrors fires"},
	{"cache-score", 60, "score", "cache health score (0-100) below which VitalsCacheScoreLow fires"},
	{"pool-saturation", 0.9, "ratio", "in-use connections over the pool's maximum above which VitalsDBPoolSaturated fires"},
	{"pool-waiters", 0, "count", "callers waiting for a connection above which VitalsDBPoolCallersWaiting fires"},
	{"pool-wait-p99", 0.1, "seconds", "p99 wait for a connection above which VitalsDBPoolWaitP99High fires"},
	{"pool-timeout-rate", 0, "per-second", "acquire timeouts per second above which VitalsDBPoolAcquireTimeouts fires"},
	{"db-conn-error-rate", 0, "per-second", "connection errors per second, per kind, above which VitalsDBConnectionErrors fires"},
	{"db-query-error-ratio", 0.05, "ratio", "query errors over queries, per operation, above which VitalsDBQueryErrorRatioHigh fires"},
	{"pool-score", 50, "score", "pool health score (0-100) below which VitalsDBPoolScoreLow fires"},
	{"breaker-transitions", 6, "count", "state transitions in 15 minutes above which VitalsBreakerFlapping fires"},
	{"breaker-failure-rate", 0.5, "ratio", "failed calls over completed calls above which VitalsBreakerFailureRateHigh fires"},
	{"breaker-slow-rate", 0.5, "ratio", "slow calls over completed calls above which VitalsBreakerSlowCallRateHigh fires"},
	{"breaker-score", 50, "score", "breaker health score (0-100) below which VitalsBreakerScoreLow fires"},
	{"heap-growth", 1.5, "factor", "heap in use over its level an hour earlier above which VitalsHeapGrowth fires"},
	{"heap-min-bytes", 64 << 20, "bytes", "heap in use below which VitalsHeapGrowth stays quiet"},
	{"gc-pause-fraction", 0.05, "ratio", "fraction of wall time the world is stopped for GC above which VitalsGCPauseHigh fires"},
	{"gc-cpu-fraction", 0.25, "ratio", "GC share of the process' available CPU above which VitalsGCCPUHigh fires"},
	{"sched-latency-p99", 0.025, "seconds", "p99 wait of runnable goroutines for a CPU above which VitalsSchedulerLatencyHigh fires"},
	{"goroutine-growth", 2, "factor", "goroutines over their average an hour earlier above which VitalsGoroutineLeak fires"},
	{"goroutine-min", 1000, "count", "goroutines below which VitalsGoroutineLeak stays quiet"},
	{"fd-ratio", 0.8, "ratio", "open file descriptors over the limit above which VitalsFileDescriptorsNearLimit fires"},
	{"tick-p99", 0.1, "seconds", "p99 collector tick duration above which VitalsCollectorTickSlow fires"},
	{"tick-stale", 10, "seconds", "age of the last collector tick above which VitalsCollectorStalled fires"},
	{"health-score", 50, "score", "overall health score (0-100) below which VitalsHealthScoreLow fires"},
}

// DefaultParams returns the parameters the committed rule file is
// generated with.
func DefaultParams() *Params {
	return &Params{RunbookURL: DefaultRunbookURL, IntervalSeconds: 30, T: map[string]float64{}}
}

// Value returns the threshold's value: Params.T's, or the default. It
// panics for a name not in Thresholds (a programming error in this
// package, caught by its tests).
func (p *Params) Value(name string) float64 {
	if v, ok := p.T[name]; ok {
		return v
	}
	for _, t := range Thresholds {
		if t.Name == name {
			return t.Default
		}
	}
	panic("rules: unknown threshold " + name)
}

// Set overrides a threshold by name.
func (p *Params) Set(name string, v float64) error {
	if !slices.ContainsFunc(Thresholds, func(t Threshold) bool { return t.Name == name }) {
		return fmt.Errorf("unknown threshold %q", name)
	}
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return fmt.Errorf("threshold %s: %v is not a finite number", name, v)
	}
	if p.T == nil {
		p.T = map[string]float64{}
	}
	p.T[name] = v
	return nil
}

// validate checks the selector parts and thresholds and returns the
// matchers to add to every selector, as PromQL text.
func (p *Params) validate() (string, error) {
	var parts []string
	if p.Job != "" {
		parts = append(parts, "job="+quote(p.Job))
	}
	if p.Namespace != "" {
		parts = append(parts, "namespace="+quote(p.Namespace))
	}
	if s := strings.TrimSpace(p.Selector); s != "" {
		s = strings.TrimSuffix(strings.TrimPrefix(s, "{"), "}")
		if _, err := promqlParser.ParseMetricSelector("{" + s + "}"); err != nil {
			return "", fmt.Errorf("selector %q: %w", p.Selector, err)
		}
		parts = append(parts, s)
	}
	for name, v := range p.T {
		if err := (&Params{}).Set(name, v); err != nil {
			return "", err
		}
	}
	for _, name := range []string{"slo", "error-ratio", "cache-l1-hit-ratio", "cache-l2-hit-ratio", "cache-hit-ratio", "pool-saturation", "fd-ratio"} {
		if v := p.Value(name); v < 0 || v > 1 {
			return "", fmt.Errorf("threshold %s: %v is not a ratio in [0, 1]", name, v)
		}
	}
	if p.Value("slo") >= 1 {
		return "", fmt.Errorf("threshold slo: 1 leaves no error budget; use a value below 1 such as 0.999")
	}
	if p.IntervalSeconds < 0 || math.IsNaN(p.IntervalSeconds) {
		return "", fmt.Errorf("interval: %v is not a positive number of seconds", p.IntervalSeconds)
	}
	return strings.Join(parts, ","), nil
}

// by returns the grouping labels of every aggregation plus extra.
func (p *Params) by(extra ...string) string {
	l := []string{"job", "instance"}
	if p.Namespace != "" {
		l = []string{"namespace", "job", "instance"}
	}
	return "(" + strings.Join(append(l, extra...), ", ") + ")"
}

var promqlParser = parser.NewParser(parser.Options{})

func quote(s string) string { return fmt.Sprintf("%q", s) }
