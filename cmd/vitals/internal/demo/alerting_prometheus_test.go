package demo

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bizra/vitals/alerting/dashboard"
	"github.com/bizra/vitals/alerting/rules"
)

// Tolerance of TestDashboardAgainstPrometheus: for every dashboard query,
// the label sets of Prometheus' answer and of the service's /promql
// answer overlap by at least minOverlap, and at least minAgree of the
// common series agree: their means over the last minute (a range query
// at a 5-s step) differ by at most maxRelDiff relative, or by at most
// maxAbsDiff times the largest value of the query (a series near zero
// beside large ones, such as 0 vs 0.15 connections in use next to 4
// idle). Prometheus samples at its scrapes and the service at its own
// 5-s ticks, a few seconds apart; measured here, the means agree within
// 10% (breaker ratios driven by 10-s outages 8%, latency quantiles 5%).
// presenceOnly are the panels compared for data only: instantaneous
// values that each side samples at a different moment and that a minute's
// mean does not steady (operations in flight: 0, 1 or 2 at any instant;
// the p99 of the collector's tick on a loaded machine: the largest of
// sixty observations, which a 5-s phase shift moves by 40%; a breaker's
// state, 0, 1 or 2, sampled twelve times a minute around 10-s outages;
// the pool's waiters, 0 nearly always and 1 at the odd sample that one
// side catches and the other misses; the heap, a sawtooth between garbage
// collections that each side samples at a different phase: measured
// 20.8 MB against 14.0 MB allocated over the same minute). A query is
// named by its panel, or by "<panel> / <legend>" when the panel's other
// queries are compared.
var presenceOnly = map[string]bool{
	"Operations in flight": true,
	"Collector tick p99":   true,
	"Breaker state":        true,
	"Pool connections: in use, idle, waiters / {{pool}} waiters": true,
	"Memory / {{instance}} heap allocated":                       true,
	"Memory / {{instance}} heap in use":                          true,
}

// presenceOnlySeries are single series compared for data only, named by
// their panel and a label as the test prints it: the p99 of lookups that
// every tier missed is the p99 of a few hundred database round trips a
// minute, whose tail a 5-s phase shift moves by over a third (measured
// 7.2 ms against 9.7 ms); the same panel's L1 and L2 series are compared.
var presenceOnlySeries = map[string]string{"Cache lookup latency p99 by answering tier": "answered_by:origin"}

const (
	minOverlap = 0.8
	minAgree   = 0.8
	maxRelDiff = 0.25
	maxAbsDiff = 0.1 // of the query's largest value
)

// scrapedDemo is the demo running in the test with a real Prometheus
// (VITALS_PROMETHEUS, built by .ci/run) scraping it every 5 s with native
// histograms and a rule file loaded, evaluated every 5 s as well.
type scrapedDemo struct {
	addr   string // the demo's listener
	prom   string // Prometheus' base URL
	ours   string // the demo's /promql base URL
	dir    string // Prometheus' directory (config, data, log)
	client *http.Client
}

// startScrapedDemo runs the demo with cfg (its listener, data directory,
// rate and logger filled in here) and a Prometheus scraping it with
// ruleFile loaded, and waits until Prometheus has scraped it once. Both
// stop when the test ends.
func startScrapedDemo(t *testing.T, cfg Config, ruleFile string) *scrapedDemo {
	t.Helper()
	bin := os.Getenv("VITALS_PROMETHEUS")
	if bin == "" {
		t.Skip("VITALS_PROMETHEUS is not set: skipping the comparison with a real Prometheus (.ci/run builds it into ~/.cache/vitals/bin)")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	cfg.Addr, cfg.Listener, cfg.DataDir, cfg.Rate, cfg.DrainDelay = addr, ln, t.TempDir(), 50, -1
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, cfg) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})

	promAddr := freeAddr(t)
	dir := t.TempDir()
	promCfg := fmt.Sprintf(`global:
  scrape_interval: 5s
  evaluation_interval: 5s
rule_files: [%q]
scrape_configs:
  - job_name: vitals
    scrape_native_histograms: true
    static_configs:
      - targets: [%q]
`, ruleFile, addr)
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(promCfg), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--config.file="+filepath.Join(dir, "prometheus.yml"), "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+promAddr, "--log.level=warn")
	logf, err := os.Create(filepath.Join(dir, "prometheus.log"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { logf.Close() })
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatalf("VITALS_PROMETHEUS=%s does not start: %v", bin, err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	d := &scrapedDemo{addr: addr, prom: "http://" + promAddr, ours: "http://" + addr + "/promql", dir: dir,
		client: &http.Client{Timeout: 10 * time.Second}}
	t.Cleanup(d.client.CloseIdleConnections)
	deadline := time.Now().Add(60 * time.Second)
	for {
		if s, err := d.query(d.prom, "up", time.Now()); err == nil && len(s) == 1 && s[0].v > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Prometheus never scraped the demo:\n%s", d.log())
		}
		time.Sleep(time.Second)
	}
	return d
}

// log returns Prometheus' log.
func (d *scrapedDemo) log() string {
	b, _ := os.ReadFile(filepath.Join(d.dir, "prometheus.log"))
	return string(b)
}

// query runs q over the minute before ts at a 5-s step and returns each
// series' mean over it: sawtooth gauges (the heap between two GCs) and
// bursty ratios compare by their average, not at one instant that each
// side samples at a different phase.
func (d *scrapedDemo) query(base, q string, ts time.Time) ([]sample, error) {
	resp, err := d.client.Get(base + "/api/v1/query_range?query=" + url.QueryEscape(q) + "&start=" + strconv.FormatInt(ts.Unix()-60, 10) +
		"&end=" + strconv.FormatInt(ts.Unix(), 10) + "&step=5")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var r struct {
		Status string
		Error  string
		Data   struct {
			Result []struct {
				Metric map[string]string
				Values [][2]any
			}
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return nil, err
	}
	if r.Status != "success" {
		return nil, fmt.Errorf("%s: %s", q, r.Error)
	}
	var out []sample
	for _, s := range r.Data.Result {
		delete(s.Metric, "__name__")
		sum, n := 0.0, 0
		for _, p := range s.Values {
			if str, ok := p[1].(string); ok {
				if f, err := strconv.ParseFloat(str, 64); err == nil && !math.IsNaN(f) {
					sum, n = sum+f, n+1
				}
			}
		}
		v := math.NaN()
		if n > 0 {
			v = sum / float64(n)
		}
		out = append(out, sample{labels: fmt.Sprint(s.Metric), v: v})
	}
	return out, nil
}

// TestDashboardAgainstPrometheus runs the demo, has a real Prometheus
// (VITALS_PROMETHEUS, built by .ci/run) scrape it with native histograms
// and the generated rule file loaded, and checks that every query of the
// dashboard returns data from Prometheus and from the service's own
// PromQL endpoint, and that the two agree within the tolerance above.
func TestDashboardAgainstPrometheus(t *testing.T) {
	ruleFile, err := filepath.Abs("../../../../" + rules.RuleFilePath)
	if err != nil {
		t.Fatal(err)
	}
	d := startScrapedDemo(t, Config{}, ruleFile)
	// 90 s of scrapes, enough for every 1m rate.
	time.Sleep(90 * time.Second) // real scrapes of a real service: nothing to wait on but time

	b, err := dashboard.JSON(nil)
	if err != nil {
		t.Fatal(err)
	}
	qs, err := dashboard.Queries(b)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Now().Add(-10 * time.Second)
	for _, q := range qs {
		if strings.HasPrefix(q.Panel, "annotation") {
			continue // ALERTS: compared by TestAlertsAgainstPrometheus
		}
		expr := dashboard.Substitute(q.Expr, "1m")
		ps, err := d.query(d.prom, expr, at)
		if err != nil {
			t.Errorf("%s: Prometheus: %v", q.Panel, err)
			continue
		}
		os, err := d.query(d.ours, expr, at)
		if err != nil {
			t.Errorf("%s: /promql: %v", q.Panel, err)
			continue
		}
		if len(ps) == 0 || len(os) == 0 {
			t.Errorf("%s: %s: no data (Prometheus %d series, /promql %d)", q.Panel, expr, len(ps), len(os))
			continue
		}
		overlap, _, _ := agreement(ps, os)
		_, agree, median := agreement(without(ps, presenceOnlySeries[q.Panel]), without(os, presenceOnlySeries[q.Panel]))
		t.Logf("%-55s %-28s series %3d/%3d overlap %.2f agree %.2f median rel. diff %.3f", q.Panel, q.Legend, len(ps), len(os), overlap, agree, median)
		if overlap < minOverlap || (agree < minAgree && !presenceOnly[q.Panel] && !presenceOnly[q.Panel+" / "+q.Legend]) {
			t.Errorf("%s (%s): overlap %.2f (min %.2f), agreeing %.2f (min %.2f)\nPrometheus: %v\n/promql:    %v",
				q.Panel, expr, overlap, minOverlap, agree, minAgree, ps, os)
		}
	}
}

type sample struct {
	labels string
	v      float64
}

// without returns the samples whose labels do not contain label ("" keeps
// all).
func without(ss []sample, label string) []sample {
	if label == "" {
		return ss
	}
	var out []sample
	for _, s := range ss {
		if !strings.Contains(s.labels, label) {
			out = append(out, s)
		}
	}
	return out
}

// agreement returns the share of label sets both answers have, the share
// of those whose values agree (see the tolerance), and the median
// relative difference (NaN on both sides agrees).
func agreement(a, b []sample) (overlap, agree, median float64) {
	bm := map[string]float64{}
	scale := 0.0
	for _, s := range b {
		bm[s.labels] = s.v
		if !math.IsNaN(s.v) {
			scale = max(scale, math.Abs(s.v))
		}
	}
	for _, s := range a {
		if !math.IsNaN(s.v) {
			scale = max(scale, math.Abs(s.v))
		}
	}
	var diffs []float64
	ok := 0
	for _, s := range a {
		v, found := bm[s.labels]
		if !found {
			continue
		}
		var d float64
		switch {
		case math.IsNaN(s.v) && math.IsNaN(v), s.v == v:
			d = 0
		case math.IsNaN(s.v) || math.IsNaN(v):
			d = math.Inf(1)
		default:
			d = math.Abs(s.v-v) / max(math.Abs(s.v), math.Abs(v))
		}
		diffs = append(diffs, d)
		if d <= maxRelDiff || math.Abs(s.v-v) <= maxAbsDiff*scale {
			ok++
		}
	}
	union := len(a) + len(b) - len(diffs)
	if union == 0 || len(diffs) == 0 {
		return 0, 0, math.Inf(1)
	}
	slices.Sort(diffs)
	return float64(len(diffs)) / float64(union), float64(ok) / float64(len(diffs)), diffs[len(diffs)/2]
}

// Tolerance of TestAlertsAgainstPrometheus: an alert firing on one side
// fires on the other within one evaluation interval plus its `for`, plus
// one scrape interval (Prometheus and the in-process ring sample the
// service at different moments, up to a scrape apart) and one polling
// round of the test.
const (
	alertScrape = 5 * time.Second
	alertPoll   = 3 * time.Second
	alertWatch  = 150 * time.Second // how long both sides' alerts are watched
)

func alertSlack(forDur time.Duration) time.Duration {
	return alertInterval + forDur + alertScrape + alertPoll
}

// TestAlertsAgainstPrometheus runs the demo with the rules it evaluates
// in process also loaded into a real Prometheus scraping it, both
// evaluating every 5 s, and watches both /api/v1/alerts: every alert
// firing on one side fires on the other within alertSlack of its `for`.
// Two alerts are driven so that they fire within the test, through the
// rules' parameters and a shorter `for`: every busy operation's p95 above
// 0 s for 10 s, and the payments breaker flapping (the flaky provider's
// 10-s outages every 40 s open and close it: more than 1.5 transitions in
// 15 minutes). The other rules keep their shipped thresholds.
func TestAlertsAgainstPrometheus(t *testing.T) {
	p := rules.DefaultParams()
	p.IntervalSeconds = alertInterval.Seconds()
	for name, v := range map[string]float64{"latency-p95": 0, "breaker-transitions": 1.5} {
		if err := p.Set(name, v); err != nil {
			t.Fatal(err)
		}
	}
	groups, err := rules.Build(p)
	if err != nil {
		t.Fatal(err)
	}
	forOf := map[string]time.Duration{}
	for gi := range groups {
		for ri := range groups[gi].Rules {
			r := &groups[gi].Rules[ri]
			if r.Alert == "VitalsOperationLatencyP95High" {
				r.For = 10 * time.Second
			}
			forOf[r.Alert] = r.For
		}
	}
	b, err := rules.RuleFile(groups)
	if err != nil {
		t.Fatal(err)
	}
	ruleFile := filepath.Join(t.TempDir(), "rules.yaml")
	if err := os.WriteFile(ruleFile, b, 0o600); err != nil {
		t.Fatal(err)
	}
	d := startScrapedDemo(t, Config{AlertRules: groups}, ruleFile)

	// Watch both sides, polling them at the same moments.
	type round struct {
		at         time.Time
		prom, ours map[string]bool // firing alerts by their label set
	}
	var rounds []round
	for end := time.Now().Add(alertWatch); time.Now().Before(end); {
		r := round{at: time.Now()}
		var err error
		if r.prom, err = d.firing(d.prom + "/api/v1/alerts"); err != nil {
			t.Fatalf("Prometheus: %v\n%s", err, d.log())
		}
		if r.ours, err = d.firing("http://" + d.addr + "/api/v1/alerts"); err != nil {
			t.Fatalf("service: %v", err)
		}
		rounds = append(rounds, r)
		time.Sleep(alertPoll) // real evaluations of a real service: nothing to wait on but time
	}

	// onset returns when a side first showed key firing.
	onset := func(key string, side func(round) map[string]bool) (time.Time, bool) {
		for _, r := range rounds {
			if side(r)[key] {
				return r.at, true
			}
		}
		return time.Time{}, false
	}
	promSide := func(r round) map[string]bool { return r.prom }
	ourSide := func(r round) map[string]bool { return r.ours }
	keys := map[string]bool{}
	for _, r := range rounds {
		for k := range r.prom {
			keys[k] = true
		}
		for k := range r.ours {
			keys[k] = true
		}
	}
	first, last := rounds[0].at, rounds[len(rounds)-1].at
	fired := map[string]int{} // alertname: label sets firing on both sides
	since := func(at time.Time, ok bool) string {
		if !ok {
			return "never"
		}
		return fmt.Sprintf("at %.0fs", at.Sub(first).Seconds())
	}
	for _, key := range slices.Sorted(maps.Keys(keys)) {
		name := alertNameOf(key)
		slack := alertSlack(forOf[name])
		po, pok := onset(key, promSide)
		oo, ook := onset(key, ourSide)
		if pok && ook {
			fired[name]++
			t.Logf("%s: firing in Prometheus after %5.1fs, in process after %5.1fs (tolerance %v)", key, po.Sub(first).Seconds(), oo.Sub(first).Seconds(), slack)
		}
		// Each round a side shows key firing, the other shows it within
		// slack, where the watch covers the whole window.
		for _, c := range []struct {
			who         string
			this, other func(round) map[string]bool
		}{{"Prometheus", promSide, ourSide}, {"the service", ourSide, promSide}} {
			for _, r := range rounds {
				if !c.this(r)[key] || r.at.Add(-slack).Before(first) || r.at.Add(slack).After(last) {
					continue
				}
				if !slices.ContainsFunc(rounds, func(o round) bool { return c.other(o)[key] && o.at.Sub(r.at).Abs() <= slack }) {
					t.Errorf("%s: firing in %s at %.0fs of the watch, not on the other side within %v (first firing: Prometheus %s, in process %s)",
						key, c.who, r.at.Sub(first).Seconds(), slack, since(po, pok), since(oo, ook))
					break
				}
			}
		}
	}
	for _, name := range []string{"VitalsOperationLatencyP95High", "VitalsBreakerFlapping"} {
		if fired[name] == 0 {
			t.Errorf("%s never fired on both sides within %v (driven to)", name, alertWatch)
		}
	}
}

// firing returns the firing alerts of an /api/v1/alerts endpoint, keyed
// by their labels.
func (d *scrapedDemo) firing(u string) (map[string]bool, error) {
	resp, err := d.client.Get(u)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var r struct {
		Status string
		Data   struct {
			Alerts []struct {
				Labels map[string]string
				State  string
			}
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return nil, err
	}
	if r.Status != "success" {
		return nil, fmt.Errorf("GET %s: status %q", u, r.Status)
	}
	out := map[string]bool{}
	for _, a := range r.Data.Alerts {
		if a.State == "firing" {
			out[alertKey(a.Labels)] = true
		}
	}
	return out, nil
}

// alertKey writes a label set as alertname{k="v",...}, sorted.
func alertKey(l map[string]string) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(l)) {
		if k != "alertname" {
			parts = append(parts, k+"="+strconv.Quote(l[k]))
		}
	}
	return l["alertname"] + "{" + strings.Join(parts, ",") + "}"
}

func alertNameOf(key string) string { name, _, _ := strings.Cut(key, "{"); return name }
