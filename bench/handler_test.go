package bench

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"

	"github.com/bizra/vitals/exposition"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// The /metrics handler as users mount it, side by side:
//
//	vitals: exposition.Handler(reg, nil): default options, so the Go
//	        runtime and process metrics are on (read natively)
//	prom:   promhttp.HandlerFor on a registry holding the same workload and
//	        client_golang's default collectors (NewGoCollector(),
//	        NewProcessCollector), OpenMetrics enabled so that it can be
//	        compared
//
// at two sizes of the scrape workload (100 series: 9 counter families and
// 1 histogram family of 10; 10k: the Scrape10k workload), in the three
// formats, with gzip asked for and not. Each scrape is a whole ServeHTTP
// into a ResponseWriter that discards the body.
var handlerSizes = []struct {
	name                    string
	counters, hists, perFam int
}{
	{"100", 9, 1, 10},
	{"10k", counterFamilies, histogramFamilies, seriesPerFamily},
}

var handlerFormats = []struct{ name, accept, encoding string }{
	{"text", "", ""},
	{"text-gzip", "", "gzip"},
	{"openmetrics", "application/openmetrics-text; version=1.0.0", ""},
	{"protobuf", exposition.ContentTypeProtobuf, ""},
	{"protobuf-gzip", exposition.ContentTypeProtobuf, "gzip"},
}

// newHandlers returns both handlers over fresh registries of one size.
func newHandlers(counters, hists, perFam int) (vitals, prom http.Handler) {
	vitals = exposition.Handler(newVitalsScrapeRegistry(counters, hists, perFam), nil)
	reg := newPromScrapeRegistry(counters, hists, perFam)
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	prom = promhttp.HandlerFor(reg, promhttp.HandlerOpts{EnableOpenMetrics: true})
	return vitals, prom
}

func BenchmarkHandler(b *testing.B) {
	for _, size := range handlerSizes {
		vitals, prom := newHandlers(size.counters, size.hists, size.perFam)
		for _, f := range handlerFormats {
			for _, impl := range []struct {
				name string
				h    http.Handler
			}{{"vitals", vitals}, {"prom", prom}} {
				b.Run(size.name+"/"+f.name+"/"+impl.name, func(b *testing.B) {
					req := httptest.NewRequest("GET", "/metrics", nil)
					req.Header.Set("Accept", f.accept)
					req.Header.Set("Accept-Encoding", f.encoding)
					w := &discardResponse{hdr: make(http.Header)}
					impl.h.ServeHTTP(w, req) // warm pools outside the timing
					b.ReportAllocs()
					cpu0 := processCPU()
					for b.Loop() {
						clear(w.hdr)
						w.code, w.n = 0, 0
						impl.h.ServeHTTP(w, req)
					}
					b.ReportMetric(float64(processCPU()-cpu0)/float64(b.N), "cpu-ns/op")
					if w.code != 0 && w.code != http.StatusOK {
						b.Fatalf("status %d", w.code)
					}
					b.ReportMetric(float64(w.n), "bytes/scrape")
				})
			}
		}
	}
}

// processCPU returns the CPU time (user and system) the process has used,
// in nanoseconds. cpu-ns/op, next to ns/op, is the CPU a scrape costs,
// garbage collection included: on a shared machine it moves much less
// with the neighbours' load than wall time does.
func processCPU() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// discardResponse is an http.ResponseWriter that counts and drops the body.
type discardResponse struct {
	hdr  http.Header
	code int
	n    int
}

func (w *discardResponse) Header() http.Header         { return w.hdr }
func (w *discardResponse) Write(p []byte) (int, error) { w.n += len(p); return len(p), nil }
func (w *discardResponse) WriteHeader(code int)        { w.code = code }

// TestHandlerFixtures checks that both handlers answer every format of the
// benchmark with 200 and the negotiated Content-Type, runtime metrics
// included.
func TestHandlerFixtures(t *testing.T) {
	vitals, prom := newHandlers(9, 1, 10)
	for _, f := range handlerFormats {
		for name, h := range map[string]http.Handler{"vitals": vitals, "prom": prom} {
			req := httptest.NewRequest("GET", "/metrics", nil)
			req.Header.Set("Accept", f.accept)
			req.Header.Set("Accept-Encoding", f.encoding)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				t.Errorf("%s %s: status %d", name, f.name, rec.Code)
			}
			if got := rec.Header().Get("Content-Encoding"); (got == "gzip") != (f.encoding == "gzip") {
				t.Errorf("%s %s: Content-Encoding %q", name, f.name, got)
			}
			if f.encoding == "" && f.accept == "" && !containsAll(rec.Body.String(), "go_goroutines ", "go_gc_duration_seconds_count ", "bench_c08_requests_total{") {
				t.Errorf("%s %s: runtime or workload families missing", name, f.name)
			}
		}
	}
}

func containsAll(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}
