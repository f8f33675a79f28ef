package bench

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/bizra/vitals"
	"github.com/bizra/vitals/vitalshttp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// discardWriter is a ResponseWriter that costs nothing, so the benchmark
// times the middleware, not a recorder.
type discardWriter struct{ h http.Header }

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *discardWriter) WriteHeader(int)             {}

// BenchmarkMiddleware times one request through each library's HTTP
// instrumentation around the same trivial handler, from parallel clients
// (RunParallel: run with -cpu 1,2,8 to see it across cores):
//
//	vitals_route    vitalshttp.Route(m, "GET /items/{id}", h)
//	vitals_pattern  vitalshttp.Handler(m, h) inside a ServeMux (the
//	                request carries the matched pattern, as the mux sets it)
//	prom_chain      client_golang's usual chain: InstrumentHandlerInFlight,
//	                InstrumentHandlerDuration (DefBuckets, code and method
//	                labels) and InstrumentHandlerCounter (code and method)
//	bare            the handler alone
//
// vitals records more per request than the chain (exact min/max/sum, 8,192
// native buckets, in-flight, status class, errors).
func BenchmarkMiddleware(b *testing.B) {
	body := []byte("ok")
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(body) })
	const pattern = "GET /items/{id}"

	m := vitals.New(nil)
	route := vitalshttp.Route(m, pattern, h)
	byPattern := vitalshttp.Handler(m, h)

	reg := prometheus.NewRegistry()
	inFlight := prometheus.NewGauge(prometheus.GaugeOpts{Name: "http_requests_in_flight", Help: "In-flight requests."})
	dur := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "http_request_duration_seconds", Help: "Request latency.", Buckets: prometheus.DefBuckets}, []string{"code", "method"})
	count := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "http_requests_total", Help: "Requests."}, []string{"code", "method"})
	reg.MustRegister(inFlight, dur, count)
	chain := promhttp.InstrumentHandlerInFlight(inFlight, promhttp.InstrumentHandlerDuration(dur, promhttp.InstrumentHandlerCounter(count, h)))

	for _, c := range []struct {
		name string
		h    http.Handler
	}{{"vitals_route", route}, {"vitals_pattern", byPattern}, {"prom_chain", chain}, {"bare", h}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				req := httptest.NewRequest("GET", "/items/42", nil)
				req.Pattern = pattern
				w := &discardWriter{h: http.Header{}}
				for pb.Next() {
					c.h.ServeHTTP(w, req)
				}
			})
		})
	}
}
