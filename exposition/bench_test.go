package exposition

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"

	"github.com/bizra/vitals/metric"
)

// newBenchRegistry holds 10,000 labelled series: 9,000 counters in nine
// families and 1,000 histograms (default buckets, a few populated) in one.
func newBenchRegistry() *metric.Registry {
	reg := metric.NewRegistry()
	for f := range 9 {
		v := reg.CounterVec(metric.Opts{
			Name:      "bench_requests_" + strconv.Itoa(f) + "_total",
			Help:      "Requests, by route and code.",
			Labels:    []string{"route", "code"},
			MaxSeries: 1000,
		})
		for i := range 1000 {
			v.With("/api/v1/resource/"+strconv.Itoa(i), strconv.Itoa(200+i%5)).Add(uint64(i * 37))
		}
	}
	h := reg.HistogramVec(metric.Opts{
		Name:      "bench_request_duration_seconds",
		Help:      "Request duration, by route.",
		Unit:      "seconds",
		Labels:    []string{"route"},
		MaxSeries: 1000,
	})
	for i := range 1000 {
		s := h.With("/api/v1/resource/" + strconv.Itoa(i))
		for j := range 20 {
			s.Observe(0.0001 * float64(1+(i*j)%2000))
		}
	}
	return reg
}

// BenchmarkWriteText10k encodes 9,000 counters and 1,000 histograms (about
// 32,000 lines) in the text format.
func BenchmarkWriteText10k(b *testing.B) {
	reg := newBenchRegistry()
	b.ReportAllocs()
	for b.Loop() {
		if err := WriteText(discard{}, reg, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkHandler10k measures whole scrapes of the same registry through
// the Handler, per format, without runtime metrics.
func BenchmarkHandler10k(b *testing.B) {
	reg := newBenchRegistry()
	h := Handler(reg, &HandlerOpts{DisableRuntimeMetrics: true})
	for _, c := range []struct{ name, accept, encoding string }{
		{"text", "", ""},
		{"text-gzip", "", "gzip"},
		{"openmetrics", ContentTypeOpenMetrics, ""},
		{"protobuf", ContentTypeProtobuf, ""},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				req := httptest.NewRequest("GET", "/metrics", nil)
				req.Header.Set("Accept", c.accept)
				req.Header.Set("Accept-Encoding", c.encoding)
				w := &discardResponse{}
				h.ServeHTTP(w, req)
				if w.code != 0 && w.code != 200 {
					b.Fatalf("status %d", w.code)
				}
			}
		})
	}
}

// BenchmarkClientGolang10k is the reference: the same series through
// NewCollector, a client_golang registry's Gather and expfmt's text encoder.
func BenchmarkClientGolang10k(b *testing.B) {
	reg := newBenchRegistry()
	pr := prometheus.NewRegistry()
	pr.MustRegister(NewCollector(reg))
	b.ReportAllocs()
	for b.Loop() {
		mfs, err := pr.Gather()
		if err != nil {
			b.Fatal(err)
		}
		enc := expfmt.NewEncoder(io.Discard, expfmt.NewFormat(expfmt.TypeTextPlain))
		for _, mf := range mfs {
			if err := enc.Encode(mf); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// discardResponse is an http.ResponseWriter that drops the body.
type discardResponse struct {
	hdr  http.Header
	code int
}

func (w *discardResponse) Header() http.Header {
	if w.hdr == nil {
		w.hdr = make(http.Header)
	}
	return w.hdr
}
func (w *discardResponse) Write(p []byte) (int, error) { return len(p), nil }
func (w *discardResponse) WriteHeader(code int)        { w.code = code }
