// Package dashboard builds the vitals Grafana dashboard with the Grafana
// Foundation SDK's typed builders: a data-source variable, job and instance
// variables, rows per area (operations, cache, database pool, circuit
// breakers, runtime and health), units on every panel, $__rate_interval in
// every rate, and the firing alerts as annotations. Its queries read the
// same metric families as the alert rules (alerting/rules), so one test
// proves both against the demo's /metrics.
//
//	b, err := dashboard.JSON(&dashboard.Params{Job: "shop"})
//	// write b to a file and import it in Grafana
package dashboard
