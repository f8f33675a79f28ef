package eval

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/bizra/vitals/alerting/rules"
	"github.com/bizra/vitals/alerting/store"
	"github.com/bizra/vitals/internal/testutil"
	"github.com/bizra/vitals/metric"
	"github.com/bizra/vitals/vitalstest"
)

// EnvAlertmanager names an Alertmanager binary (v0.35.0; .ci/run builds it
// into ~/.cache/vitals/bin/alertmanager).
const EnvAlertmanager = "VITALS_ALERTMANAGER"

// alertmanager is a real Alertmanager process started for one test.
type alertmanager struct {
	URL string
	cmd *exec.Cmd
	log string
}

// startAlertmanager runs VITALS_ALERTMANAGER on a free port with a config
// that routes everything to a receiver with no integrations, and waits
// until it is ready. Unset, the test is skipped, unless CI is set: there
// it must run, so the test fails.
func startAlertmanager(t *testing.T) *alertmanager {
	t.Helper()
	bin := os.Getenv(EnvAlertmanager)
	if bin == "" {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is not set, and CI is: .ci/run builds Alertmanager v0.35.0 into ~/.cache/vitals/bin/alertmanager and exports it", EnvAlertmanager)
		}
		t.Skipf("%s is not set: skipping delivery to a real Alertmanager (.ci/run builds v0.35.0 into ~/.cache/vitals/bin/alertmanager)", EnvAlertmanager)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	dir := t.TempDir()
	cfg := "route:\n  receiver: blackhole\n  group_wait: 1s\nreceivers:\n  - name: blackhole\n"
	if err := os.WriteFile(filepath.Join(dir, "alertmanager.yml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	am := &alertmanager{URL: "http://" + addr, log: filepath.Join(dir, "alertmanager.log")}
	logf, err := os.Create(am.log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { logf.Close() })
	am.cmd = exec.Command(bin, "--config.file="+filepath.Join(dir, "alertmanager.yml"), "--storage.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr, "--cluster.listen-address=", "--log.level=warn")
	am.cmd.Stdout, am.cmd.Stderr = logf, logf
	if err := am.cmd.Start(); err != nil {
		t.Fatalf("%s=%s does not start: %v", EnvAlertmanager, bin, err)
	}
	t.Cleanup(am.kill)
	client := &http.Client{Timeout: 5 * time.Second}
	defer client.CloseIdleConnections()
	testutil.WaitFor(t, "Alertmanager ready at "+addr, 60*time.Second, func() bool {
		resp, err := client.Get(am.URL + "/-/ready")
		if err != nil {
			time.Sleep(100 * time.Millisecond)
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return am
}

func (am *alertmanager) kill() {
	if am.cmd.ProcessState == nil {
		_ = am.cmd.Process.Signal(syscall.SIGCONT) // a stopped process dies only once continued
		_ = am.cmd.Process.Kill()
		_ = am.cmd.Wait()
	}
}

// amAlert is an alert as Alertmanager's GET /api/v2/alerts returns it.
type amAlert struct {
	Labels       map[string]string
	Annotations  map[string]string
	StartsAt     time.Time
	EndsAt       time.Time
	GeneratorURL string
	Status       struct{ State string }
}

// alerts returns the alerts Alertmanager holds that match filter (its
// matcher syntax, e.g. alertname="X"); resolved ones are not listed.
func (am *alertmanager) alerts(t *testing.T, filter string) []amAlert {
	t.Helper()
	client := &http.Client{Timeout: 5 * time.Second}
	defer client.CloseIdleConnections()
	resp, err := client.Get(am.URL + "/api/v2/alerts?filter=" + url.QueryEscape(filter))
	if err != nil {
		t.Fatalf("GET /api/v2/alerts: %v", err)
	}
	defer resp.Body.Close()
	var out []amAlert
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("GET /api/v2/alerts: %v", err)
	}
	return out
}

// TestAlertmanagerDelivery fires an alert in the evaluator and finds it in
// a real Alertmanager's GET /api/v2/alerts with its labels, annotations
// and generator URL; resolving it removes it from there.
func TestAlertmanagerDelivery(t *testing.T) {
	am := startAlertmanager(t)
	reg := metric.NewRegistry()
	n, err := NewNotifier(NotifierOptions{URL: am.URL, Backoff: 50 * time.Millisecond, Registry: reg, Logger: testutil.Quiet()})
	if err != nil {
		t.Fatal(err)
	}
	n.Start()
	defer n.Stop()
	f := newFixture(t, rules.Rule{Alert: "VitalsWaiting", Expr: "vitals_db_pool_waiters > 0"}, n)
	f.ev.opts.ExternalURL = "http://shop.example:9911"
	// Evaluate at (just before) the real time, as a service does:
	// Alertmanager lists a firing alert until its endsAt, 4 resend
	// intervals ahead, and takes a resolved one as resolved only when its
	// endsAt (the resolution) is past by Alertmanager's clock; one still
	// ahead would merge into the firing one and keep it listed.
	f.clk.Set(time.Now().Add(-30 * time.Second).Truncate(time.Second))
	f.gauge.Set(2)
	f.ev.Eval(context.Background(), f.tick())

	var got []amAlert
	testutil.WaitFor(t, "the alert in Alertmanager's /api/v2/alerts", 60*time.Second, func() bool {
		got = am.alerts(t, `alertname="VitalsWaiting"`)
		if len(got) == 0 {
			time.Sleep(50 * time.Millisecond)
		}
		return len(got) > 0
	})
	a := got[0]
	want := map[string]string{"alertname": "VitalsWaiting", "severity": "warning", "pool": "shop", "job": "shop", "instance": "a:1"}
	for k, v := range want {
		if a.Labels[k] != v {
			t.Errorf("label %s = %q, want %q (labels %v)", k, a.Labels[k], v, a.Labels)
		}
	}
	if len(a.Labels) != len(want) {
		t.Errorf("labels %v, want %v", a.Labels, want)
	}
	if a.Annotations["summary"] != "pool shop" || a.Annotations["description"] != "waiters 2" || a.Annotations["runbook_url"] != "rb" {
		t.Errorf("annotations %v", a.Annotations)
	}
	if a.Status.State != "active" || !a.StartsAt.Equal(f.now) || !a.EndsAt.After(time.Now()) {
		t.Errorf("state %q, startsAt %v (fired at %v), endsAt %v", a.Status.State, a.StartsAt, f.now, a.EndsAt)
	}
	if u, err := url.Parse(a.GeneratorURL); err != nil || u.Host != "shop.example:9911" || u.Query().Get("g0.expr") != "vitals_db_pool_waiters > 0" {
		t.Errorf("generatorURL %q", a.GeneratorURL)
	}

	// Resolved: sent with endsAt at the resolution, which is now past,
	// so Alertmanager stops listing it.
	f.gauge.Set(0)
	f.ev.Eval(context.Background(), f.tick())
	testutil.WaitFor(t, "the resolved alert to leave /api/v2/alerts", 60*time.Second, func() bool {
		got = am.alerts(t, `alertname="VitalsWaiting"`)
		if len(got) > 0 {
			time.Sleep(50 * time.Millisecond)
		}
		return len(got) == 0
	})
	// The notifier counts a batch once Alertmanager's answer is in, which
	// may be after Alertmanager has already applied it.
	testutil.WaitFor(t, "two alerts counted as sent", 30*time.Second, func() bool {
		if n.Stats().Sent < 2 {
			time.Sleep(10 * time.Millisecond)
			return false
		}
		return true
	})
	if s := n.Stats(); s.Sent != 2 || s.Failed != 0 || s.Dropped != 0 {
		t.Errorf("stats %+v, want 2 sent", s)
	}
	if v := vitalstest.Value(t, reg, "vitals_alertmanager_alerts_sent_total"); v != 2 {
		t.Errorf("vitals_alertmanager_alerts_sent_total = %v, want 2", v)
	}
}

// TestAlertmanagerStalledOrDown stops a real Alertmanager (SIGSTOP: it
// accepts connections and never answers) while the evaluator keeps
// evaluating 50 firing alerts, sent again at every evaluation: the
// evaluations all complete, the queue keeps only the newest alerts and
// counts the dropped ones. Continued, Alertmanager receives the newest
// alerts. Killed, delivery fails (counted) and evaluation goes on.
func TestAlertmanagerStalledOrDown(t *testing.T) {
	am := startAlertmanager(t)
	reg := metric.NewRegistry()
	const queueCap, pools, evals = 100, 50, 20
	n, err := NewNotifier(NotifierOptions{URL: am.URL, QueueCapacity: queueCap, BatchSize: 10, Timeout: 2 * time.Minute,
		Retries: 1, Backoff: 10 * time.Millisecond, Registry: reg, Logger: testutil.Quiet()})
	if err != nil {
		t.Fatal(err)
	}
	n.Start()
	defer n.Stop()

	m, clk := vitalstest.NewMonitor(t)
	clk.Set(time.Now().Add(-time.Minute).Truncate(time.Second))
	g := m.Registry().GaugeVec(metric.Opts{Name: "vitals_db_pool_waiters", Help: "h", Labels: []string{"pool"}})
	for i := range pools {
		g.With(fmt.Sprintf("pool-%02d", i)).Set(1)
	}
	st := store.New(m, &store.Options{Resolution: time.Second})
	defer st.Close()
	r := rules.Rule{Alert: "VitalsWaiting", Expr: "vitals_db_pool_waiters > 0", Severity: rules.Warning,
		Summary: "s", Description: "d", Runbook: "rb", Test: &rules.Case{}}
	// A one-minute interval: each alert is sent with endsAt 4 minutes
	// ahead, so what Alertmanager receives late is still active.
	// ResendDelay 1ns sends every alert again at every evaluation.
	ev, err := New(st, &Options{Groups: []rules.Group{{Name: "g", Interval: time.Minute, Rules: []rules.Rule{r}}},
		Notifier: n, ResendDelay: time.Nanosecond, Logger: testutil.Quiet()})
	if err != nil {
		t.Fatal(err)
	}
	evaluate := func(count int) time.Time {
		t.Helper()
		done := make(chan time.Time, 1)
		go func() {
			var ts time.Time
			for range count {
				ts = vitalstest.Tick(m, clk, time.Second).Time
				ev.Eval(context.Background(), ts)
			}
			done <- ts
		}()
		select {
		case ts := <-done:
			return ts
		case <-time.After(2 * time.Minute): // a bound for a failure report, not a speed target
			t.Fatal("the evaluator is blocked by a stalled Alertmanager")
			return time.Time{}
		}
	}

	if err := am.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	last := evaluate(evals)
	n.mu.Lock()
	queued := append([]AMAlert(nil), n.queue...)
	n.mu.Unlock()
	// One batch at most is in flight, stuck in the stopped Alertmanager.
	s := n.Stats()
	if len(queued) != queueCap || s.Dropped < pools*evals-queueCap-10 {
		t.Fatalf("queued %d (cap %d), dropped %d of %d", len(queued), queueCap, s.Dropped, pools*evals)
	}
	// Oldest dropped: the queue holds the last two evaluations' alerts.
	wantEnd := last.Add(4 * time.Minute)
	for i, a := range queued {
		if i >= queueCap-pools && !a.EndsAt.Equal(wantEnd) {
			t.Fatalf("queue[%d] endsAt %v, want the last evaluation's %v", i, a.EndsAt, wantEnd)
		}
		if a.EndsAt.Before(wantEnd.Add(-time.Second)) {
			t.Fatalf("queue[%d] is from an older evaluation (endsAt %v, last %v)", i, a.EndsAt, wantEnd)
		}
	}
	if v := vitalstest.Value(t, reg, "vitals_alertmanager_alerts_dropped_total"); v != float64(s.Dropped) {
		t.Errorf("vitals_alertmanager_alerts_dropped_total = %v, Stats().Dropped = %d", v, s.Dropped)
	}

	// Continued: the stuck request completes, the queue drains, and every
	// pool's alert is in Alertmanager.
	if err := am.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, "all 50 alerts in Alertmanager after it continued", 2*time.Minute, func() bool {
		if len(am.alerts(t, `alertname="VitalsWaiting"`)) == pools {
			return true
		}
		time.Sleep(100 * time.Millisecond)
		return false
	})

	// Down: refused connections fail after the retry; evaluation goes on.
	am.kill()
	sentBefore := n.Stats().Sent
	evaluate(3)
	testutil.WaitFor(t, "failed deliveries counted", time.Minute, func() bool {
		if n.Stats().Failed > 0 {
			return true
		}
		time.Sleep(10 * time.Millisecond)
		return false
	})
	if s := n.Stats(); s.Sent != sentBefore {
		t.Errorf("sent %d to a dead Alertmanager", s.Sent-sentBefore)
	}
	if v := vitalstest.Value(t, reg, "vitals_alertmanager_alerts_failed_total"); v == 0 {
		t.Error("vitals_alertmanager_alerts_failed_total not counted")
	}
}
