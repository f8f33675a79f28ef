package bench

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/bizra/vitals/exposition"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// These tests check that the benchmarks compare what they claim to: the
// resolutions chosen for the anchors, and 10,000 series in every scrape.

func TestPromNativeSchemas(t *testing.T) {
	for _, c := range []struct {
		factor float64
		schema int32
	}{{promNativeFactor, 3}, {promNativeFactorSchema6, 6}} {
		h := newPromNative(c.factor)
		for _, v := range latencies {
			h.Observe(v)
		}
		var m dto.Metric
		if err := h.Write(&m); err != nil {
			t.Fatal(err)
		}
		if got := m.GetHistogram().GetSchema(); got != c.schema {
			t.Errorf("factor %v: schema %d, want %d", c.factor, got, c.schema)
		}
		if n := len(m.GetHistogram().GetBucket()); n != 0 {
			t.Errorf("factor %v: %d classic buckets, want a native-only histogram", c.factor, n)
		}
	}
}

func TestOTelKeepsScale6(t *testing.T) {
	h, reader := newOTelHistogram()
	ctx := context.Background()
	for _, v := range latencies {
		h.Record(ctx, v)
	}
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(ctx, &rm); err != nil {
		t.Fatal(err)
	}
	data := rm.ScopeMetrics[0].Metrics[0].Data.(metricdata.ExponentialHistogram[float64])
	if got := data.DataPoints[0].Scale; got != 6 {
		t.Errorf("scale %d after the value stream, want 6 (MaxSize too small?)", got)
	}
	if got := data.DataPoints[0].Count; got != ringSize {
		t.Errorf("count %d, want %d", got, ringSize)
	}
}

// TestScrapeFixtures parses every library's exposition of the scrape
// workload back and counts its series.
func TestScrapeFixtures(t *testing.T) {
	var vitalsOut, promOut, vmOut bytes.Buffer
	if err := exposition.WriteText(&vitalsOut, vitalsScrapeFixture(), nil); err != nil {
		t.Fatal(err)
	}
	if err := promScrape(&promOut, promScrapeFixture()); err != nil {
		t.Fatal(err)
	}
	vmScrapeFixture().WritePrometheus(&vmOut)

	for _, c := range []struct {
		name string
		out  *bytes.Buffer
	}{{"vitals", &vitalsOut}, {"prom", &promOut}, {"vm", &vmOut}} {
		t.Run(c.name, func(t *testing.T) {
			p := expfmt.NewTextParser(model.UTF8Validation)
			fams, err := p.TextToMetricFamilies(c.out)
			if err != nil {
				t.Fatal(err)
			}
			counters, histograms, histObs := 0, 0, uint64(0)
			for name, mf := range fams {
				switch {
				case strings.HasPrefix(name, "bench_c"):
					counters += len(mf.GetMetric())
				case strings.HasPrefix(name, "bench_h") && mf.GetType() == dto.MetricType_HISTOGRAM:
					// vitals and client_golang: typed histograms.
					histograms += len(mf.GetMetric())
					for _, m := range mf.GetMetric() {
						histObs += m.GetHistogram().GetSampleCount()
					}
				case strings.HasPrefix(name, "bench_h") && strings.HasSuffix(name, "_count"):
					// VictoriaMetrics: untyped _bucket{vmrange}, _sum and _count lines.
					histograms += len(mf.GetMetric())
					for _, m := range mf.GetMetric() {
						histObs += uint64(m.GetUntyped().GetValue())
					}
				}
			}
			if counters != counterFamilies*seriesPerFamily {
				t.Errorf("%d counter series, want %d", counters, counterFamilies*seriesPerFamily)
			}
			if histograms != histogramFamilies*seriesPerFamily {
				t.Errorf("%d histogram series, want %d", histograms, histogramFamilies*seriesPerFamily)
			}
			if want := uint64(histogramFamilies * seriesPerFamily * obsPerHistogram); histObs != want {
				t.Errorf("%d observations in histograms, want %d", histObs, want)
			}
		})
	}
}
