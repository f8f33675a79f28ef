// Package exposition serves a vitals metric.Registry to Prometheus: the
// /metrics handler, a fast text encoder, and an adapter for services that
// already expose a client_golang registry.
//
// Three entry points:
//
//   - Handler serves GET /metrics with content negotiation: the Prometheus
//     text format 0.0.4 (the default), OpenMetrics 1.0.0, and delimited
//     protobuf, the one format that carries native histograms (schema 6,
//     sent together with the classic buckets). It gzips only when asked,
//     filters on name[] like promhttp, limits scrapes in flight, can demand
//     a bearer token, and adds the Go runtime and process metrics unless
//     HandlerOpts.DisableRuntimeMetrics is set. Those are read natively
//     (runtime/metrics, /proc/self on Linux) under the names, types, units
//     and HELP of client_golang's default Go and process collectors, with
//     go_sched_latencies_seconds, the stop-the-world pause histograms and
//     the GC CPU counters (GCCPUSecondsName, TotalCPUSecondsName) added;
//     HandlerOpts.ClientGolangRuntime reads them through client_golang's
//     collectors instead. HandlerOpts.Gatherers serves existing
//     client_golang registries through the same handler.
//   - WriteText writes the text format to any io.Writer. It is the
//     encoder behind Handler's default format.
//   - NewCollector wraps a registry as a prometheus.Collector:
//     promReg.MustRegister(exposition.NewCollector(vitalsReg)).
//
// All three formats are written directly into pooled buffers, the
// protobuf one in the wire format of io.prometheus.client.MetricFamily,
// without building client_model trees: a default scrape (runtime and
// process metrics included) allocates a handful of times however many
// series (TestDefaultScrapeAllocs, BenchmarkHandler in bench/).
//
// Histograms are exposed with the exact classic bucket counts the
// histogram keeps (never interpolated from the native buckets); le="+Inf"
// is the total count.
//
// # Self-metrics
//
// Handler registers, in the registry it serves, a histogram of scrape
// durations by format (vitals_scrape_duration_seconds), scrapes that failed
// part-way by cause (vitals_scrape_errors_total) and requests turned away
// by reason (vitals_scrape_rejected_total), and runtime or gathered
// families left out for a name clash (vitals_scrape_skipped_families_total).
// All series exist from the first scrape on.
//
// A GaugeFunc or CounterFunc callback that panics during a scrape is
// contained: its series reads NaN, the rest of the scrape is served, and
// the panic is counted (vitals_scrape_errors_total{cause="callback"}) and
// logged once per series.
//
// # Example
//
// A complete program that counts requests and serves them, with runtime
// metrics, on an admin listener:
//
//	package main
//
//	import (
//		"log"
//		"net/http"
//		"os"
//		"time"
//
//		"github.com/bizra/vitals/exposition"
//		"github.com/bizra/vitals/metric"
//		"github.com/bizra/vitals/vitalshttp"
//	)
//
//	func main() {
//		reg := metric.NewRegistry()
//		requests := reg.CounterVec(metric.Opts{
//			Name:   "app_requests_total",
//			Help:   "Requests handled, by route.",
//			Labels: []string{"route"},
//		})
//		latency := reg.Histogram(metric.Opts{
//			Name: "app_request_duration_seconds",
//			Help: "Time to handle a request.",
//			Unit: "seconds",
//		})
//		hello := requests.With("/hello") // look the series up once
//
//		app := http.NewServeMux()
//		app.HandleFunc("/hello", func(w http.ResponseWriter, r *http.Request) {
//			t := latency.StartTimer()
//			defer t.End()
//			hello.Inc()
//			w.Write([]byte("hello\n"))
//		})
//
//		// /metrics belongs on its own listener (loopback or an internal
//		// network the scraper reaches), with a token when others can
//		// reach it; HostGuard refuses DNS-rebinding requests on loopback.
//		admin := http.NewServeMux()
//		admin.Handle("/metrics", exposition.Handler(reg, &exposition.HandlerOpts{
//			BearerToken: os.Getenv("METRICS_TOKEN"), // "" disables authentication
//		}))
//		go func() { log.Fatal(server("127.0.0.1:9100", vitalshttp.HostGuard(admin, "127.0.0.1:9100", nil)).ListenAndServe()) }()
//		log.Fatal(server(":8080", app).ListenAndServe())
//	}
//
//	// server sets every timeout and limit: a slow or idle client must not
//	// hold a connection (and a file descriptor) for ever.
//	func server(addr string, h http.Handler) *http.Server {
//		return &http.Server{Addr: addr, Handler: http.MaxBytesHandler(h, 1<<20),
//			ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second,
//			WriteTimeout: 30 * time.Second, IdleTimeout: 30 * time.Second, MaxHeaderBytes: 64 << 10}
//	}
//
// # Concurrency
//
// Everything here is safe for concurrent use. Handler, WriteText and the
// collector start no goroutines and hold no lock while they format: they
// read each instrument's atomics (a histogram into a reused snapshot) and
// encode outside any vitals lock. Func series' callbacks run on the
// scraping goroutine.
package exposition
