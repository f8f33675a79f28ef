package exposition_test

import (
	"fmt"
	"net/http/httptest"
	"os"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"

	"github.com/bizra/vitals/exposition"
	"github.com/bizra/vitals/metric"
)

func ExampleHandler() {
	reg := metric.NewRegistry()
	jobs := reg.CounterVec(metric.Opts{Name: "app_jobs_total", Help: "Jobs done, by queue.", Labels: []string{"queue"}})
	jobs.With("email").Add(3)

	h := exposition.Handler(reg, &exposition.HandlerOpts{DisableRuntimeMetrics: true})

	// What Prometheus does, in memory; name[] keeps the output short.
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics?name[]=app_jobs_total", nil))
	fmt.Println(rec.Code, rec.Header().Get("Content-Type"))
	fmt.Print(rec.Body)
	// Output:
	// 200 text/plain; version=0.0.4; charset=utf-8
	// # HELP app_jobs_total Jobs done, by queue.
	// # TYPE app_jobs_total counter
	// app_jobs_total{queue="email"} 3
}

func ExampleHandler_openMetrics() {
	reg := metric.NewRegistry()
	reg.Gauge(metric.Opts{Name: "app_queue_bytes", Help: "Bytes queued.", Unit: "bytes"}).Set(512)

	h := exposition.Handler(reg, &exposition.HandlerOpts{DisableRuntimeMetrics: true})
	req := httptest.NewRequest("GET", "/metrics?name[]=app_queue_bytes", nil)
	req.Header.Set("Accept", "application/openmetrics-text;version=1.0.0")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	fmt.Println(rec.Header().Get("Content-Type"))
	fmt.Print(rec.Body)
	// Output:
	// application/openmetrics-text; version=1.0.0; charset=utf-8
	// # HELP app_queue_bytes Bytes queued.
	// # TYPE app_queue_bytes gauge
	// # UNIT app_queue_bytes bytes
	// app_queue_bytes 512.0
	// # EOF
}

func ExampleHandler_bearerToken() {
	reg := metric.NewRegistry()
	h := exposition.Handler(reg, &exposition.HandlerOpts{BearerToken: "s3cret", DisableRuntimeMetrics: true})

	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	fmt.Println(rec.Code, rec.Header().Get("WWW-Authenticate"))

	req := httptest.NewRequest("GET", "/metrics", nil)
	req.Header.Set("Authorization", "Bearer s3cret")
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	fmt.Println(rec.Code)
	// Output:
	// 401 Bearer realm="metrics"
	// 200
}

func ExampleWriteText() {
	reg := metric.NewRegistry()
	size := reg.Histogram(metric.Opts{
		Name:    "app_response_bytes",
		Help:    "Response sizes.",
		Unit:    "bytes",
		Buckets: []float64{100, 1000},
	})
	for _, v := range []float64{50, 120, 700, 5000} {
		size.Observe(v)
	}
	only := func(name string) bool { return name == "app_response_bytes" }
	if err := exposition.WriteText(os.Stdout, reg, only); err != nil {
		fmt.Println(err)
	}
	// Output:
	// # HELP app_response_bytes Response sizes.
	// # TYPE app_response_bytes histogram
	// app_response_bytes_bucket{le="100"} 1
	// app_response_bytes_bucket{le="1000"} 3
	// app_response_bytes_bucket{le="+Inf"} 4
	// app_response_bytes_sum 5870
	// app_response_bytes_count 4
}

func ExampleNewCollector() {
	vitalsReg := metric.NewRegistry()
	vitalsReg.Gauge(metric.Opts{Name: "app_workers", Help: "Workers running."}).Set(4)

	// A service that already serves a client_golang registry.
	promReg := prometheus.NewRegistry()
	promReg.MustRegister(exposition.NewCollector(vitalsReg))

	mfs, err := promReg.Gather()
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, mf := range mfs {
		if _, err := expfmt.MetricFamilyToText(os.Stdout, mf); err != nil {
			fmt.Println(err)
		}
	}
	// Output:
	// # HELP app_workers Workers running.
	// # TYPE app_workers gauge
	// app_workers 4
}
