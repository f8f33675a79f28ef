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
// The rules read only what the Queryable holds, plus what the evaluator
// recorded itself (recording rules and ALERTS, kept Options.Retention).
// With alerting/store alone that is the raw ring, one hour by default
// (store.Options.Retention), and a rule whose range or offset reaches past
// it sees less than Prometheus would: `offset 1d` selects nothing, a range
// `offset 1h` at most the ring's oldest sample, a 6h ratio one hour. The
// Go runtime and process series that store.Options.Gatherer adds are kept
// two hours by default (store.Options.GathererRetention), the longest
// offset + range the shipped rules read of them, so VitalsHeapGrowth
// (`[10m] offset 1h`) and VitalsGoroutineLeak (`[1h] offset 1h`) average
// every sample of their windows, as Prometheus would.
//
// Pass histstore.New(ring, hist) (package alerting/histstore) to read the
// history store (package history) for the time before the ring's oldest
// sample: the history's steps (minutes for the last day, 5 minutes for a
// week, hours for 90 days) joined to the ring as one series, counters and
// native histograms without a reset at the join. The rules then see the
// vitals series as Prometheus keeping 90 days would, at the history's
// resolution: VitalsOperationThroughputDrop and
// VitalsCacheCompressionRatioDegraded compare with the day before (from
// 5-minute steps), VitalsCacheEvictionStorm with the hour before (from
// minutes), and the 6h error ratio of VitalsOperationErrorBudgetBurnSlow
// covers 6 hours. The Go runtime and process series are not in history:
// the ring's two hours of them are all the rules see, which is what the
// shipped rules need (docs/PERFORMANCE.md gives what the second hour
// costs). Without a history, a Retention of 25h covers the `offset 1d`
// rules too.
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
