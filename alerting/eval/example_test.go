package eval_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/bizra/vitals"
	"github.com/bizra/vitals/alerting/eval"
	"github.com/bizra/vitals/alerting/rules"
	"github.com/bizra/vitals/alerting/store"
	"github.com/bizra/vitals/metric"
)

// An alert rule evaluated in process: pending at once, firing once its
// `for` has passed. A service calls Start instead of Eval, and Mount to
// serve /api/v1/alerts, /api/v1/rules and the PromQL API.
func ExampleNew() {
	quiet := slog.New(slog.DiscardHandler)
	clk := vitals.NewManualClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	m := vitals.New(&vitals.Options{Clock: clk, Logger: quiet})
	defer m.Stop()
	waiters := m.Registry().Gauge(metric.Opts{Name: rules.PoolWaiters, Help: "Callers waiting for a connection."})
	st := store.New(m, &store.Options{Resolution: 5 * time.Second, Labels: map[string]string{"job": "shop", "instance": "host:9911"}})
	defer st.Close()

	ev, err := eval.New(st, &eval.Options{Logger: quiet, Groups: []rules.Group{{Name: "pool", Interval: 5 * time.Second, Rules: []rules.Rule{{
		Alert: "VitalsPoolWaiting", Expr: rules.PoolWaiters + " > 0", For: 10 * time.Second, Severity: rules.Warning,
		Summary: "Callers wait on {{ $labels.instance }}", Description: "{{ $value }} callers wait for a connection.",
		Runbook: "https://example.com/runbooks#pool", Test: &rules.Case{},
	}}}}})
	if err != nil {
		fmt.Println(err)
		return
	}
	waiters.Set(3)
	for range 4 {
		ts := clk.Advance(5 * time.Second)
		m.Collect()
		ev.Eval(context.Background(), ts)
		for _, a := range ev.Alerts() {
			fmt.Println(ts.Format(time.TimeOnly), a.Labels.Get("alertname"), a.State, a.Annotations.Get("description"))
		}
	}
	// Output:
	// 00:00:05 VitalsPoolWaiting pending 3 callers wait for a connection.
	// 00:00:10 VitalsPoolWaiting pending 3 callers wait for a connection.
	// 00:00:15 VitalsPoolWaiting firing 3 callers wait for a connection.
	// 00:00:20 VitalsPoolWaiting firing 3 callers wait for a connection.
}

// A Notifier delivers alerts to an Alertmanager's v2 API from its own
// goroutine; Send never blocks (Options.Notifier of an Evaluator calls
// it). Here a stand-in Alertmanager prints what it receives.
func ExampleNewNotifier() {
	got := make(chan []eval.AMAlert, 1)
	am := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var alerts []eval.AMAlert
		_ = json.NewDecoder(r.Body).Decode(&alerts)
		got <- alerts
	}))
	defer am.Close()
	n, err := eval.NewNotifier(eval.NotifierOptions{URL: am.URL})
	if err != nil {
		fmt.Println(err)
		return
	}
	n.Start()
	defer n.Stop()
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	n.Send(eval.AMAlert{Labels: map[string]string{"alertname": "VitalsPoolWaiting", "severity": "warning"},
		StartsAt: start, EndsAt: start.Add(4 * time.Minute)})
	for _, a := range <-got {
		fmt.Println(a.Labels["alertname"], a.EndsAt.Sub(a.StartsAt))
	}
	// Output: VitalsPoolWaiting 4m0s
}
