package demo

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
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
// state, 0, 1 or 2, sampled twelve times a minute around 10-s outages).
var presenceOnly = map[string]bool{"Operations in flight": true, "Collector tick p99": true, "Breaker state": true}

const (
	minOverlap = 0.8
	minAgree   = 0.8
	maxRelDiff = 0.25
	maxAbsDiff = 0.1 // of the query's largest value
)

// TestDashboardAgainstPrometheus runs the demo, has a real Prometheus
// (VITALS_PROMETHEUS, built by .ci/run) scrape it with native histograms
// and the generated rule file loaded, and checks that every query of the
// dashboard returns data from Prometheus and from the service's own
// PromQL endpoint, and that the two agree within the tolerance above.
func TestDashboardAgainstPrometheus(t *testing.T) {
	bin := os.Getenv("VITALS_PROMETHEUS")
	if bin == "" {
		t.Skip("VITALS_PROMETHEUS is not set: skipping the comparison with a real Prometheus (.ci/run builds it into ~/.cache/vitals/bin)")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Config{Addr: addr, Listener: ln, DataDir: t.TempDir(), Rate: 50, DrainDelay: -1, Logger: slog.New(slog.DiscardHandler)})
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()

	promLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	promAddr := promLn.Addr().String()
	promLn.Close()
	dir := t.TempDir()
	ruleFile, err := filepath.Abs("../../../../" + rules.RuleFilePath)
	if err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf(`global:
  scrape_interval: 5s
  evaluation_interval: 5s
rule_files: [%q]
scrape_configs:
  - job_name: vitals
    scrape_native_histograms: true
    static_configs:
      - targets: [%q]
`, ruleFile, addr)
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--config.file="+filepath.Join(dir, "prometheus.yml"), "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+promAddr, "--log.level=warn")
	logf, err := os.Create(filepath.Join(dir, "prometheus.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatalf("VITALS_PROMETHEUS=%s does not start: %v", bin, err)
	}
	defer func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}()

	client := &http.Client{Timeout: 10 * time.Second}
	// query runs q over the minute before ts at a 5-s step and returns each
	// series' mean over it: sawtooth gauges (the heap between two GCs)
	// and bursty ratios compare by their average, not at one instant that
	// each side samples at a different phase.
	query := func(base, q string, ts time.Time) ([]sample, error) {
		resp, err := client.Get(base + "/api/v1/query_range?query=" + url.QueryEscape(q) + "&start=" + strconv.FormatInt(ts.Unix()-60, 10) +
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
	prom := "http://" + promAddr
	ours := "http://" + addr + "/promql"

	// Wait for Prometheus to be up and for 90 s of scrapes, enough for
	// every 1m rate.
	deadline := time.Now().Add(60 * time.Second)
	for {
		if s, err := query(prom, "up", time.Now()); err == nil && len(s) == 1 && s[0].v > 0 {
			break
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(filepath.Join(dir, "prometheus.log"))
			t.Fatalf("Prometheus never scraped the demo:\n%s", b)
		}
		time.Sleep(time.Second)
	}
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
			continue // ALERTS: compared below through the alerts APIs
		}
		expr := dashboard.Substitute(q.Expr, "1m")
		ps, err := query(prom, expr, at)
		if err != nil {
			t.Errorf("%s: Prometheus: %v", q.Panel, err)
			continue
		}
		os, err := query(ours, expr, at)
		if err != nil {
			t.Errorf("%s: /promql: %v", q.Panel, err)
			continue
		}
		if len(ps) == 0 || len(os) == 0 {
			t.Errorf("%s: %s: no data (Prometheus %d series, /promql %d)", q.Panel, expr, len(ps), len(os))
			continue
		}
		overlap, agree, median := agreement(ps, os)
		t.Logf("%-55s %-28s series %3d/%3d overlap %.2f agree %.2f median rel. diff %.3f", q.Panel, q.Legend, len(ps), len(os), overlap, agree, median)
		if overlap < minOverlap || (agree < minAgree && !presenceOnly[q.Panel]) {
			t.Errorf("%s (%s): overlap %.2f (min %.2f), agreeing %.2f (min %.2f)\nPrometheus: %v\n/promql:    %v",
				q.Panel, expr, overlap, minOverlap, agree, minAgree, ps, os)
		}
	}
}

type sample struct {
	labels string
	v      float64
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
