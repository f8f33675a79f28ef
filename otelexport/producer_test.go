package otelexport

import (
	"context"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	colmetricpb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	metricpb "go.opentelemetry.io/proto/otlp/metrics/v1"
	"go.uber.org/goleak"
	"google.golang.org/protobuf/proto"

	"github.com/bizra/vitals/metric"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var t0 = time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)

func fixture() (*metric.Registry, *metric.Histogram, *metric.Vec[*metric.Counter], *metric.Gauge) {
	r := metric.NewRegistry()
	h := r.Histogram(metric.Opts{Name: "shop_latency_seconds", Unit: "seconds", Help: "Request latency."})
	c := r.CounterVec(metric.Opts{Name: "shop_requests_total", Help: "Requests.", Labels: []string{"route"}})
	g := r.Gauge(metric.Opts{Name: "shop_in_flight", Help: "Requests in flight."})
	return r, h, c, g
}

// Every observed value must fall inside the OTel bucket that counts it:
// (2^(i/64), 2^((i+1)/64)] at scale 6. One observation per histogram
// pins the index mapping down exactly, including at powers of two.
func TestExponentialBucketsAreExactAtScale6(t *testing.T) {
	for _, v := range []float64{1, 2, 0.5, 1.0000001, 1.5, 3e-9, 0.001, 12345.678, math.Nextafter(2, 0), math.Nextafter(2, 3)} {
		r := metric.NewRegistry()
		h := r.Histogram(metric.Opts{Name: "x_seconds", Unit: "seconds", Help: "x."})
		h.Observe(v)
		p := New(r, &Options{Now: func() time.Time { return t0 }})
		sm, err := p.Produce(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		dp := sm[0].Metrics[0].Data.(metricdata.ExponentialHistogram[float64]).DataPoints[0]
		if dp.Scale != 6 || dp.Count != 1 || len(dp.PositiveBucket.Counts) != 1 {
			t.Fatalf("v=%v: %+v", v, dp)
		}
		i := float64(dp.PositiveBucket.Offset)
		lo, hi := math.Exp2(i/64), math.Exp2((i+1)/64)
		if !(v > lo*(1-1e-15) && v <= hi*(1+1e-15)) {
			t.Errorf("v=%v counted in OTel bucket %v = (%v, %v]", v, i, lo, hi)
		}
	}
}

func TestProducerThroughTheSDKReader(t *testing.T) {
	r, h, c, g := fixture()
	now := t0
	p := New(r, &Options{Now: func() time.Time { return now }, Filter: func(f *metric.Family, s *metric.Series) bool {
		return f.Name != "shop_in_flight"
	}})
	reader := sdkmetric.NewManualReader(sdkmetric.WithProducer(p))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer mp.Shutdown(context.Background())

	for _, v := range []float64{0.001, 0.002, 0.002, 0.5, 7} {
		h.Observe(v)
	}
	c.With("/a").Add(3)
	g.Set(5)
	now = t0.Add(15 * time.Second)
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	byName := map[string]metricdata.Metrics{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			byName[m.Name] = m
		}
	}
	if _, ok := byName["shop_in_flight"]; ok {
		t.Error("filtered gauge exported")
	}
	sum := byName["shop_requests_total"].Data.(metricdata.Sum[float64])
	if !sum.IsMonotonic || sum.Temporality != metricdata.CumulativeTemporality || sum.DataPoints[0].Value != 3 ||
		!sum.DataPoints[0].StartTime.Equal(t0) || !sum.DataPoints[0].Time.Equal(now) {
		t.Errorf("counter %+v", sum)
	}
	if v, _ := sum.DataPoints[0].Attributes.Value("route"); v.AsString() != "/a" {
		t.Errorf("attributes %v", sum.DataPoints[0].Attributes)
	}
	hm := byName["shop_latency_seconds"]
	if hm.Unit != "s" || hm.Description != "Request latency." {
		t.Errorf("histogram metadata %+v", hm)
	}
	dp := hm.Data.(metricdata.ExponentialHistogram[float64]).DataPoints[0]
	var want metric.HistogramValue
	h.Read(&want)
	var total uint64
	for j, n := range dp.PositiveBucket.Counts {
		total += n
		if n == 0 {
			continue
		}
		key := dp.PositiveBucket.Offset + int32(j) + 1
		found := false
		for _, b := range want.Buckets {
			if b.Key == key && b.Count == n {
				found = true
			}
		}
		if !found {
			t.Errorf("OTel bucket %d (key %d) count %d not in vitals' buckets %v", j, key, n, want.Buckets)
		}
	}
	if total != dp.Count || dp.Count != 5 || dp.Sum != want.Sum {
		t.Errorf("count %d (buckets %d), sum %v; want 5, %v", dp.Count, total, dp.Sum, want.Sum)
	}
	if mn, _ := dp.Min.Value(); mn != 0.001 {
		t.Errorf("min %v", mn)
	}
	if mx, _ := dp.Max.Value(); mx != 7 {
		t.Errorf("max %v", mx)
	}
}

// The SDK's own OTLP/HTTP exporter sends the registry; the receiver
// decodes the request with the OTLP protobuf types.
func TestOTLPHTTPExporterCarriesTheRegistry(t *testing.T) {
	r, h, c, _ := fixture()
	h.Observe(0.25)
	h.Observe(0.3)
	c.With("/b").Add(11)
	var mu sync.Mutex
	var got []*colmetricpb.ExportMetricsServiceRequest
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		var m colmetricpb.ExportMetricsServiceRequest
		if err := proto.Unmarshal(body, &m); err != nil {
			t.Errorf("OTLP body: %v", err)
		}
		mu.Lock()
		got = append(got, &m)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.Write(nil)
	}))
	defer srv.Close()
	exp, err := otlpmetrichttp.New(context.Background(), otlpmetrichttp.WithEndpointURL(srv.URL+"/v1/metrics"), otlpmetrichttp.WithCompression(otlpmetrichttp.NoCompression))
	if err != nil {
		t.Fatal(err)
	}
	reader := sdkmetric.NewPeriodicReader(exp, sdkmetric.WithProducer(New(r, nil)), sdkmetric.WithInterval(time.Hour))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	if err := mp.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
	mp.Shutdown(context.Background())
	mu.Lock()
	defer mu.Unlock()
	var hist *metricpb.ExponentialHistogramDataPoint
	var ctr *metricpb.NumberDataPoint
	for _, req := range got {
		for _, rm := range req.ResourceMetrics {
			for _, sm := range rm.ScopeMetrics {
				for _, m := range sm.Metrics {
					switch m.Name {
					case "shop_latency_seconds":
						hist = m.GetExponentialHistogram().DataPoints[0]
					case "shop_requests_total":
						ctr = m.GetSum().DataPoints[0]
					}
				}
			}
		}
	}
	if hist == nil || hist.Count != 2 || hist.Scale != 6 || hist.GetSum() != 0.55 {
		t.Errorf("exponential histogram over OTLP: %v", hist)
	}
	if ctr == nil || ctr.GetAsDouble() != 11 {
		t.Errorf("counter over OTLP: %v", ctr)
	}
}
