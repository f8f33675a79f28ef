package bench

import (
	"bytes"
	"fmt"
	"strconv"
	"sync"
	"testing"

	vm "github.com/VictoriaMetrics/metrics"
	"github.com/bizra/vitals/exposition"
	"github.com/bizra/vitals/metric"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
)

// The scrape workload: 10,000 labelled series, the same in every library.
//
//	90 counter families   bench_cNN_requests_total{route, code}   100 series each
//	10 histogram families bench_hN_duration_seconds{route}         100 series each
//
// Every counter holds a distinct value; every histogram has seen
// obsPerHistogram values of the latency stream, so its buckets are spread
// as a real latency histogram's are. Each library uses its default
// buckets: vitals writes 20 power-of-two le bounds + +Inf, client_golang
// its 11 DefBuckets + +Inf, VictoriaMetrics one vmrange line per non-empty
// bucket. Output sizes therefore differ; BenchmarkScrape10k reports them
// as bytes/scrape next to the time.
const (
	counterFamilies   = 90
	histogramFamilies = 10
	seriesPerFamily   = 100
	obsPerHistogram   = 64
	codesPerRoute     = 2
)

func counterFamilyName(f int) string   { return fmt.Sprintf("bench_c%02d_requests_total", f) }
func histogramFamilyName(f int) string { return fmt.Sprintf("bench_h%d_duration_seconds", f) }
func route(i int) string               { return "/api/v1/resource" + strconv.Itoa(i) }

var codes = [codesPerRoute]string{"200", "500"}

// counterLabels returns the label values of counter series i of a family.
func counterLabels(i int) (route_, code string) {
	return route(i / codesPerRoute), codes[i%codesPerRoute]
}

func counterValue(f, i int) uint64 { return uint64(f*seriesPerFamily+i)*13 + 1 }

// histogramValues calls observe with the values of histogram series i.
func histogramValues(f, i int, observe func(float64)) {
	start := (f*seriesPerFamily + i) * 131
	for k := range obsPerHistogram {
		observe(latencies[(start+k)&ringMask])
	}
}

var (
	vitalsScrapeOnce sync.Once
	vitalsScrapeReg  *metric.Registry
)

func vitalsScrapeFixture() *metric.Registry {
	vitalsScrapeOnce.Do(func() { vitalsScrapeReg = newVitalsScrapeRegistry(counterFamilies, histogramFamilies, seriesPerFamily) })
	return vitalsScrapeReg
}

// newVitalsScrapeRegistry builds the scrape workload at any size: counters
// and histograms families of perFamily series each.
func newVitalsScrapeRegistry(counters, histograms, perFamily int) *metric.Registry {
	reg := metric.NewRegistry()
	for f := range counters {
		vec := reg.CounterVec(metric.Opts{Name: counterFamilyName(f), Help: "Benchmark requests.", Labels: []string{"route", "code"}})
		for i := range perFamily {
			r, c := counterLabels(i)
			vec.With(r, c).Add(counterValue(f, i))
		}
	}
	for f := range histograms {
		vec := reg.HistogramVec(metric.Opts{Name: histogramFamilyName(f), Unit: "seconds", Help: "Benchmark request duration.", Labels: []string{"route"}})
		for i := range perFamily {
			histogramValues(f, i, vec.With(route(i)).Observe)
		}
	}
	return reg
}

var (
	promScrapeOnce sync.Once
	promScrapeReg  *prometheus.Registry
)

func promScrapeFixture() *prometheus.Registry {
	promScrapeOnce.Do(func() { promScrapeReg = newPromScrapeRegistry(counterFamilies, histogramFamilies, seriesPerFamily) })
	return promScrapeReg
}

// newPromScrapeRegistry is newVitalsScrapeRegistry in client_golang.
func newPromScrapeRegistry(counters, histograms, perFamily int) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	for f := range counters {
		vec := prometheus.NewCounterVec(prometheus.CounterOpts{Name: counterFamilyName(f), Help: "Benchmark requests."}, []string{"route", "code"})
		reg.MustRegister(vec)
		for i := range perFamily {
			r, c := counterLabels(i)
			vec.WithLabelValues(r, c).Add(float64(counterValue(f, i)))
		}
	}
	for f := range histograms {
		vec := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: histogramFamilyName(f), Help: "Benchmark request duration.", Buckets: prometheus.DefBuckets}, []string{"route"})
		reg.MustRegister(vec)
		for i := range perFamily {
			histogramValues(f, i, vec.WithLabelValues(route(i)).Observe)
		}
	}
	return reg
}

var (
	vmScrapeOnce sync.Once
	vmScrapeSet  *vm.Set
)

func vmScrapeFixture() *vm.Set {
	vmScrapeOnce.Do(func() {
		set := vm.NewSet()
		for f := range counterFamilies {
			for i := range seriesPerFamily {
				r, c := counterLabels(i)
				set.NewCounter(fmt.Sprintf(`%s{route=%q,code=%q}`, counterFamilyName(f), r, c)).Set(counterValue(f, i))
			}
		}
		for f := range histogramFamilies {
			for i := range seriesPerFamily {
				h := set.NewHistogram(fmt.Sprintf(`%s{route=%q}`, histogramFamilyName(f), route(i)))
				histogramValues(f, i, h.Update)
			}
		}
		vmScrapeSet = set
	})
	return vmScrapeSet
}

// promScrape is what promhttp does for a text scrape: Gather, then encode
// every family with one text encoder.
func promScrape(buf *bytes.Buffer, reg *prometheus.Registry) error {
	mfs, err := reg.Gather()
	if err != nil {
		return err
	}
	enc := expfmt.NewEncoder(buf, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			return err
		}
	}
	return nil
}

// BenchmarkScrape10k encodes the 10,000-series workload in the Prometheus
// text format into a reused buffer (so the writer costs nothing and every
// allocation reported is the library's). Building the fixtures and one
// warm-up scrape are not timed. Scrapes are serial: a server runs one or
// two at a time.
func BenchmarkScrape10k(b *testing.B) {
	var buf bytes.Buffer

	b.Run("vitals", func(b *testing.B) {
		reg := vitalsScrapeFixture()
		_ = exposition.WriteText(&buf, reg, nil) // grow buf and the encoder pool outside the timing
		b.ReportAllocs()
		for b.Loop() {
			buf.Reset()
			if err := exposition.WriteText(&buf, reg, nil); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(buf.Len()), "bytes/scrape")
	})

	b.Run("prom", func(b *testing.B) {
		reg := promScrapeFixture()
		_ = promScrape(&buf, reg)
		b.ReportAllocs()
		for b.Loop() {
			buf.Reset()
			if err := promScrape(&buf, reg); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(buf.Len()), "bytes/scrape")
	})

	b.Run("vm", func(b *testing.B) {
		set := vmScrapeFixture()
		set.WritePrometheus(&buf)
		b.ReportAllocs()
		for b.Loop() {
			buf.Reset()
			set.WritePrometheus(&buf)
		}
		b.ReportMetric(float64(buf.Len()), "bytes/scrape")
	})
}
