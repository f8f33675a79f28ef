// Package eval runs the vitals alert and recording rules inside the
// service with Prometheus' own PromQL engine over the in-process sample
// ring (alerting/store), so a service with no Prometheus running still
// evaluates the very same expressions. It keeps Prometheus' alert states
// (pending, firing, resolved) with `for` and `keep_firing_for`, serves
// GET /api/v1/alerts and /api/v1/rules in Prometheus' API shape and a
// Prometheus-compatible query API under /promql/api/v1/ (query,
// query_range, series, labels, label/<name>/values) that Grafana's
// Prometheus data source can use, and can deliver alerts to an
// Alertmanager (Notifier).
//
//	st := store.New(m, &store.Options{Labels: map[string]string{"job": "shop", "instance": "host:9911"}})
//	defer st.Close()
//	n, err := eval.NewNotifier(eval.NotifierOptions{URL: "http://127.0.0.1:9093", Registry: m.Registry()})
//	if err != nil {
//		log.Fatal(err)
//	}
//	n.Start()
//	defer n.Stop()
//	ev, err := eval.New(st, &eval.Options{Notifier: n, Registry: m.Registry()}) // the shipped rules
//	if err != nil {
//		log.Fatal(err)
//	}
//	ev.Mount(mux) // /api/v1/alerts, /api/v1/rules, /promql/api/v1/...
//	ev.Start()
//	defer ev.Stop()
//
// The rule loop is a small one of its own on top of the engine rather
// than prometheus/rules, which would bring the Kubernetes client packages
// into the build; its semantics follow Prometheus' (see Eval).
// TestAlertsAgainstPrometheus (cmd/vitals/internal/demo) checks that the
// alerts it fires are the ones a real Prometheus fires from the same rule
// file, and TestAlertmanagerDelivery that a real Alertmanager lists the
// alerts it sends.
//
// # Ranges
//
// The rules read only what the Queryable holds: with alerting/store, the
// raw ring, one hour by default (store.Options.Retention), plus what the
// evaluator recorded itself (recording rules and ALERTS, kept
// Options.Retention). The history store (package history) is not read.
// So a rule whose range or offset reaches past the ring sees less than
// Prometheus would. With the default hour: `offset 1d` selects nothing, so
// VitalsOperationThroughputDrop and VitalsCacheCompressionRatioDegraded
// never fire in process; a range `offset 1h` holds at most the ring's
// oldest sample, so VitalsCacheEvictionStorm (a rate, which needs two)
// never fires, and VitalsHeapGrowth and VitalsGoroutineLeak compare with
// that one sample instead of a 10-minute or 1-hour average; the 6h error
// ratio of VitalsOperationErrorBudgetBurnSlow covers only the hour held.
// Raise store.Options.Retention to cover them (2h for the `offset 1h`
// rules, 25h for `offset 1d`), at the memory per series
// docs/PERFORMANCE.md gives.
//
// # Concurrency and lifecycle
//
// New and NewNotifier allocate and start nothing. Start runs one
// goroutine per rule group (and Notifier.Start one for delivery); Stop
// ends them and waits, is idempotent, and is safe before Start. Every
// method is safe for concurrent use. Notifier.Send never blocks: its
// queue is bounded and drops the oldest alerts when full, counted in
// vitals_alertmanager_alerts_dropped_total.
package eval
