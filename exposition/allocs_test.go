package exposition

import (
	"bytes"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"

	"github.com/bizra/vitals/metric"
)

// newHundredSeries holds 100 series: 90 counters in three families and
// ten histograms in one, the registry of the allocation target.
func newHundredSeries() *metric.Registry {
	reg := metric.NewRegistry()
	for f := range 3 {
		v := reg.CounterVec(metric.Opts{Name: "app_requests_" + strconv.Itoa(f) + "_total", Help: "Requests.", Labels: []string{"route", "code"}})
		for i := range 30 {
			v.With("/r"+strconv.Itoa(i), "200").Add(uint64(i))
		}
	}
	h := reg.HistogramVec(metric.Opts{Name: "app_duration_seconds", Help: "Duration.", Unit: "seconds", Labels: []string{"route"}})
	for i := range 10 {
		h.With("/r" + strconv.Itoa(i)).Observe(0.01 * float64(i+1))
	}
	return reg
}

// TestDefaultScrapeAllocs bounds the allocations of a scrape through the
// default Handler (runtime and process metrics on) of a 100-series
// registry, in every format, with and without gzip. The target is
// under 60; client_golang's collectors alone made about 1,100.
func TestDefaultScrapeAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under the race detector (sync.Pool drops items on purpose)")
	}
	h := Handler(newHundredSeries(), nil)
	for _, c := range []struct {
		accept, encoding string
		max              float64
	}{
		{"", "", 10},
		{"", "gzip", 10},
		{ContentTypeOpenMetrics, "", 10},
		{ContentTypeProtobuf, "", 10},
		{ContentTypeProtobuf, "gzip", 10},
	} {
		req := httptest.NewRequest("GET", "/metrics", nil)
		req.Header.Set("Accept", c.accept)
		req.Header.Set("Accept-Encoding", c.encoding)
		w := &discardResponse{}
		h.ServeHTTP(w, req) // warm the pools
		allocs := testing.AllocsPerRun(20, func() {
			w.hdr = nil
			h.ServeHTTP(w, req)
		})
		t.Logf("Accept %q, Accept-Encoding %q: %.0f allocations per scrape", c.accept, c.encoding, allocs)
		if allocs > c.max {
			t.Errorf("Accept %q, Accept-Encoding %q: %.0f allocations per scrape, want <= %.0f", c.accept, c.encoding, allocs, c.max)
		}
	}
}

// TestCallbackPanicContained serves a registry whose GaugeFunc panics over
// a real http.Server: every format answers 200 with every other series,
// the panicking series reads NaN, the panic is counted and logged once.
func TestCallbackPanicContained(t *testing.T) {
	reg := metric.NewRegistry()
	reg.Counter(metric.Opts{Name: "app_ok_total", Help: "Fine."}).Add(7)
	reg.GaugeFunc(metric.Opts{Name: "app_broken", Help: "Panics."}, func() float64 { panic("boom") })
	reg.CounterFunc(metric.Opts{Name: "app_fine_total", Help: "A callback that works."}, func() float64 { return 3 })
	var logs bytes.Buffer
	srv := httptest.NewServer(Handler(reg, &HandlerOpts{Logger: slog.New(slog.NewTextHandler(&logs, nil))}))
	defer srv.Close()

	formats := []struct {
		accept string
		f      expfmt.Format
	}{
		{"", expfmt.NewFormat(expfmt.TypeTextPlain)},
		{ContentTypeOpenMetrics, expfmt.FmtOpenMetrics_1_0_0},
		{ContentTypeProtobuf, expfmt.FmtProtoDelim},
	}
	for _, c := range formats {
		req, _ := http.NewRequest("GET", srv.URL+"?name[]=app_ok_total&name[]=app_broken&name[]=app_fine_total", nil)
		req.Header.Set("Accept", c.accept)
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("%q: status %d, %v", c.accept, resp.StatusCode, err)
		}
		got := decodeAll(t, body, c.f)
		if v := got["app_ok_total"].GetMetric()[0].GetCounter().GetValue(); v != 7 {
			t.Errorf("%q: app_ok_total = %v", c.accept, v)
		}
		if v := got["app_fine_total"].GetMetric()[0].GetCounter().GetValue(); v != 3 {
			t.Errorf("%q: app_fine_total = %v", c.accept, v)
		}
		b := got["app_broken"]
		if b == nil {
			t.Fatalf("%q: app_broken missing", c.accept)
		}
		var v float64
		if m := b.GetMetric()[0]; m.Gauge != nil {
			v = m.GetGauge().GetValue()
		} else {
			v = m.GetUntyped().GetValue()
		}
		if !math.IsNaN(v) {
			t.Errorf("%q: app_broken = %v, want NaN", c.accept, v)
		}
	}
	fam := reg.Family(ScrapeErrorsName)
	var panics float64
	for _, s := range fam.Series() {
		if s.Text == `cause="callback"` {
			panics = s.Value()
		}
	}
	if panics != float64(len(formats)) {
		t.Errorf("callback panics counted %v, want %d", panics, len(formats))
	}
	if n := strings.Count(logs.String(), "callback panicked"); n != 1 {
		t.Errorf("panic logged %d times, want once:\n%s", n, logs.String())
	}
}

// TestGatherers serves a client_golang registry through the handler: its
// families come after vitals', a name clash is won by vitals (logged once,
// counted per scrape), and a gatherer error is counted.
func TestGatherers(t *testing.T) {
	reg := metric.NewRegistry()
	reg.Gauge(metric.Opts{Name: "shared_name", Help: "The vitals one."}).Set(1)
	pr := prometheus.NewRegistry()
	legacy := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "legacy_requests_total", Help: "From client_golang."}, []string{"code"})
	legacy.WithLabelValues("200").Add(5)
	pr.MustRegister(legacy)
	pr.MustRegister(prometheus.NewGauge(prometheus.GaugeOpts{Name: "shared_name", Help: "The client_golang one."}))
	// go_goroutines from a second Go collector: the native runtime wins.
	pr.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "go_goroutines", Help: "Shadowed."}, func() float64 { return -5 }))
	failing := prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) {
		return []*dto.MetricFamily{{Name: new("partial_metric"), Help: new("Gathered despite the error."), Type: dto.MetricType_GAUGE.Enum(),
			Metric: []*dto.Metric{{Gauge: &dto.Gauge{Value: new(2.0)}}}}}, io.ErrUnexpectedEOF
	})
	var logs bytes.Buffer
	h := Handler(reg, &HandlerOpts{Gatherers: []prometheus.Gatherer{pr, failing}, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	for _, c := range []struct {
		accept string
		f      expfmt.Format
	}{
		{"", expfmt.NewFormat(expfmt.TypeTextPlain)},
		{ContentTypeProtobuf, expfmt.FmtProtoDelim},
		{ContentTypeOpenMetrics, expfmt.FmtOpenMetrics_1_0_0},
	} {
		target := "/metrics"
		if c.accept == ContentTypeOpenMetrics {
			target += "?name[]=legacy_requests_total&name[]=shared_name&name[]=go_goroutines&name[]=partial_metric"
		}
		got := decodeAll(t, scrape(t, h, "GET", target, "Accept", c.accept).Body.Bytes(), c.f)
		if v := got["legacy_requests_total"].GetMetric()[0].GetCounter().GetValue(); v != 5 {
			t.Errorf("%q: legacy_requests_total = %v", c.accept, v)
		}
		if s := got["shared_name"]; s.GetHelp() != "The vitals one." {
			t.Errorf("%q: shared_name is not the vitals family: %v", c.accept, s)
		}
		if g := got["go_goroutines"]; g.GetMetric()[0].GetGauge().GetValue() <= 0 {
			t.Errorf("%q: go_goroutines is not the runtime's: %v", c.accept, g)
		}
		if got["partial_metric"] == nil {
			t.Errorf("%q: a failing gatherer's families are not served", c.accept)
		}
	}
	text := scrape(t, h, "GET", "/metrics?name[]="+ScrapeSkippedName+"&name[]="+ScrapeErrorsName).Body.String()
	for _, want := range []string{ScrapeSkippedName + " 6\n", ScrapeErrorsName + `{cause="gather"} 4` + "\n"} {
		if !strings.Contains(text, want) {
			t.Errorf("missing %q in\n%s", want, text)
		}
	}
	for _, name := range []string{"shared_name", "go_goroutines"} {
		if n := strings.Count(logs.String(), "family="+name); n != 1 {
			t.Errorf("%s skipped: logged %d times, want once:\n%s", name, n, logs.String())
		}
	}
}

// TestClientGolangRuntimeBridge: the opt-in bridge serves the same runtime
// families through client_golang's collectors.
func TestClientGolangRuntimeBridge(t *testing.T) {
	reg := metric.NewRegistry()
	h := Handler(reg, &HandlerOpts{ClientGolangRuntime: true})
	got := parseText(t, scrape(t, h, "GET", "/metrics").Body.Bytes())
	for _, name := range []string{"go_goroutines", "go_gc_duration_seconds", GCCPUSecondsName, TotalCPUSecondsName, "go_sched_latencies_seconds"} {
		if got[name] == nil {
			t.Errorf("%s missing", name)
		}
	}
}
