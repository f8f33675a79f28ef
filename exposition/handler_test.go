package exposition

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/klauspost/compress/gzip"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/bizra/vitals/metric"
)

// scrape runs one request against h in memory. Headers are given as
// name, value pairs.
func scrape(t *testing.T, h http.Handler, method, target string, headers ...string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func parseText(t *testing.T, body []byte) map[string]*dto.MetricFamily {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("text parser: %v\n%s", err, body)
	}
	return mfs
}

func decodeAll(t *testing.T, body []byte, f expfmt.Format) map[string]*dto.MetricFamily {
	t.Helper()
	dec := expfmt.NewDecoder(bytes.NewReader(body), f)
	out := make(map[string]*dto.MetricFamily)
	for {
		mf := &dto.MetricFamily{}
		err := dec.Decode(mf)
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("decode %s: %v\n%s", f, err, body)
		}
		if out[mf.GetName()] != nil {
			t.Fatalf("family %s decoded twice", mf.GetName())
		}
		out[mf.GetName()] = mf
	}
}

func sameName(f *metric.Family) string { return f.Name }

func TestHandlerFormatsRoundTrip(t *testing.T) {
	t.Parallel()
	reg := newFixture(t)
	h := Handler(reg, &HandlerOpts{DisableRuntimeMetrics: true})
	// Scrape once so the self-metrics have observations of their own.
	scrape(t, h, "GET", "/metrics")

	t.Run("text", func(t *testing.T) {
		rec := scrape(t, h, "GET", "/metrics")
		if ct := rec.Header().Get("Content-Type"); ct != ContentTypeText {
			t.Fatalf("Content-Type %q", ct)
		}
		checkDecoded(t, reg, parseText(t, rec.Body.Bytes()), sameName, false)
	})
	t.Run("openmetrics", func(t *testing.T) {
		rec := scrape(t, h, "GET", "/metrics", "Accept", "application/openmetrics-text;version=1.0.0")
		if ct := rec.Header().Get("Content-Type"); ct != ContentTypeOpenMetrics {
			t.Fatalf("Content-Type %q", ct)
		}
		body := rec.Body.Bytes()
		if !bytes.HasSuffix(body, []byte("\n# EOF\n")) {
			t.Fatalf("no # EOF at the end:\n%s", body)
		}
		for _, want := range []string{
			"# TYPE test_requests counter\n",
			"# UNIT test_latency_seconds seconds\n",
			"# UNIT test_size_bytes bytes\n",
			"# UNIT test_temperature_celsius celsius\n",
			"test_requests_total 42.0\n",
		} {
			if !bytes.Contains(body, []byte(want)) {
				t.Errorf("missing %q", want)
			}
		}
		checkDecoded(t, reg, decodeAll(t, body, expfmt.FmtOpenMetrics_1_0_0), sameName, false)
	})
	t.Run("protobuf", func(t *testing.T) {
		rec := scrape(t, h, "GET", "/metrics", "Accept", ContentTypeProtobuf)
		if ct := rec.Header().Get("Content-Type"); ct != ContentTypeProtobuf {
			t.Fatalf("Content-Type %q", ct)
		}
		got := decodeAll(t, rec.Body.Bytes(), expfmt.FmtProtoDelim)
		checkDecoded(t, reg, got, sameName, true)
		if u := got["test_latency_seconds"].GetUnit(); u != "seconds" {
			t.Errorf("unit %q, want seconds", u)
		}
	})
}

// TestPrometheusAcceptHeaders checks the Accept headers Prometheus v3
// actually sends.
func TestNegotiate(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		accept string
		want   string
	}{
		{"", ContentTypeText},
		{"*/*", ContentTypeText},
		{"text/html", ContentTypeText},
		{"text/plain", ContentTypeText},
		{"text/plain;version=0.0.4", ContentTypeText},
		{"text/plain;version=1.0.0", ContentTypeText},
		{"application/openmetrics-text", contentTypeOpenMetrics001},
		{"application/openmetrics-text;version=1.0.0", ContentTypeOpenMetrics},
		{"application/openmetrics-text; version=1.0.0; charset=utf-8", ContentTypeOpenMetrics},
		{"application/openmetrics-text;version=2.0.0", ContentTypeText},
		{"application/openmetrics-text;version=1.0.0;q=0,text/plain;q=0.1", ContentTypeText},
		{"application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited", ContentTypeProtobuf},
		{"application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=text", ContentTypeText},
		{"application/vnd.google.protobuf", ContentTypeText},
		// Prometheus v3, default scrape protocols.
		{"application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,application/openmetrics-text;version=0.0.1;q=0.5,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2", ContentTypeOpenMetrics},
		// Prometheus v3 with native histograms.
		{"application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.5,application/openmetrics-text;version=1.0.0;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2", ContentTypeProtobuf},
		{"text/plain;version=0.0.4;q=0.9,application/openmetrics-text;version=1.0.0;q=0.1", ContentTypeText},
		{",,;;==", ContentTypeText},
	} {
		if _, got := negotiate(c.accept); got != c.want {
			t.Errorf("Accept %q: %q, want %q", c.accept, got, c.want)
		}
	}
}

func TestAcceptsGzip(t *testing.T) {
	t.Parallel()
	for h, want := range map[string]bool{
		"": false, "gzip": true, "GZIP": true, "x-gzip": true, "br, gzip;q=0.5": true,
		"gzip;q=0": false, "gzip; q=0.000": false, "identity": false, "*": false,
		"deflate, gzip": true, "gzipper": false, "gzip;q=junk": true,
	} {
		if got := acceptsGzip(h); got != want {
			t.Errorf("acceptsGzip(%q) = %v, want %v", h, got, want)
		}
	}
}

func TestHandlerGzip(t *testing.T) {
	t.Parallel()
	reg := newFixture(t)
	h := Handler(reg, &HandlerOpts{DisableRuntimeMetrics: true})

	plain := scrape(t, h, "GET", "/metrics?name[]=test_requests_total")
	if enc := plain.Header().Get("Content-Encoding"); enc != "" {
		t.Fatalf("Content-Encoding %q without Accept-Encoding", enc)
	}
	if !strings.Contains(plain.Header().Get("Vary"), "Accept-Encoding") {
		t.Errorf("Vary %q", plain.Header().Get("Vary"))
	}

	zipped := scrape(t, h, "GET", "/metrics?name[]=test_requests_total", "Accept-Encoding", "gzip")
	if enc := zipped.Header().Get("Content-Encoding"); enc != "gzip" {
		t.Fatalf("Content-Encoding %q, want gzip", enc)
	}
	zr, err := gzip.NewReader(zipped.Body)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(body, plain.Body.Bytes()) {
		t.Fatalf("gunzipped body differs:\n%s\nwant:\n%s", body, plain.Body.Bytes())
	}

	off := Handler(reg, &HandlerOpts{DisableRuntimeMetrics: true, DisableCompression: true})
	if enc := scrape(t, off, "GET", "/metrics", "Accept-Encoding", "gzip").Header().Get("Content-Encoding"); enc != "" {
		t.Fatalf("DisableCompression: Content-Encoding %q", enc)
	}
}

func TestHandlerNameFilter(t *testing.T) {
	t.Parallel()
	reg := newFixture(t)
	h := Handler(reg, &HandlerOpts{})
	for _, c := range []struct {
		query string
		want  []string
	}{
		{"name[]=test_requests_total", []string{"test_requests_total"}},
		{"name[]=test_requests_total&name[]=test_latency_seconds&name[]=go_goroutines", []string{"test_requests_total", "test_latency_seconds", "go_goroutines"}},
		{"name%5B%5D=test_queue_depth", []string{"test_queue_depth"}},
		{"name[]=no_such_family", nil},
		{"name[]=", nil},
		{"name[]=test_unused_total", nil},
		{"other=1", nil}, // no name[]: everything, checked below
	} {
		for _, accept := range []string{"", ContentTypeProtobuf, ContentTypeOpenMetrics} {
			if c.query == "other=1" && accept == ContentTypeOpenMetrics {
				continue // slow to parse; TestHandlerFormatsRoundTrip covers it
			}
			rec := scrape(t, h, "GET", "/metrics?"+c.query, "Accept", accept)
			if rec.Code != http.StatusOK {
				t.Fatalf("%s: status %d", c.query, rec.Code)
			}
			var got map[string]*dto.MetricFamily
			switch accept {
			case "":
				got = parseText(t, rec.Body.Bytes())
			case ContentTypeProtobuf:
				got = decodeAll(t, rec.Body.Bytes(), expfmt.FmtProtoDelim)
			default:
				got = decodeAll(t, rec.Body.Bytes(), expfmt.FmtOpenMetrics_1_0_0)
			}
			if c.query == "other=1" {
				if len(got) < 20 {
					t.Errorf("%s: only %d families without a filter", c.query, len(got))
				}
				continue
			}
			var names []string
			for n := range got {
				names = append(names, n)
			}
			if len(names) != len(c.want) {
				t.Errorf("%s (%q): got families %v, want %v", c.query, accept, names, c.want)
				continue
			}
			for _, w := range c.want {
				if got[w] == nil {
					t.Errorf("%s (%q): %s missing from %v", c.query, accept, w, names)
				}
			}
		}
	}
}

func TestOpenMetricsCounterClash(t *testing.T) {
	t.Parallel()
	reg := metric.NewRegistry()
	reg.Gauge(metric.Opts{Name: "app_jobs", Help: "Jobs queued."}).Set(2)
	reg.Counter(metric.Opts{Name: "app_jobs_total", Help: "Jobs done."}).Add(5)
	reg.Counter(metric.Opts{Name: "app_other_total", Help: "Other."}).Add(1)
	h := Handler(reg, &HandlerOpts{DisableRuntimeMetrics: true})
	rec := scrape(t, h, "GET", "/metrics?name[]=app_jobs&name[]=app_jobs_total&name[]=app_other_total", "Accept", ContentTypeOpenMetrics)
	want := `# HELP app_jobs Jobs queued.
# TYPE app_jobs gauge
app_jobs 2.0
# HELP app_jobs_total Jobs done.
# TYPE app_jobs_total unknown
app_jobs_total 5.0
# HELP app_other Other.
# TYPE app_other counter
app_other_total 1.0
# EOF
`
	if got := rec.Body.String(); got != want {
		t.Fatalf("got:\n%s\nwant:\n%s", got, want)
	}
	decodeAll(t, rec.Body.Bytes(), expfmt.FmtOpenMetrics_1_0_0)
	// Only OpenMetrics is affected.
	if body := scrape(t, h, "GET", "/metrics?name[]=app_jobs_total").Body.String(); !strings.Contains(body, "# TYPE app_jobs_total counter\n") {
		t.Errorf("text format changed:\n%s", body)
	}
}

func TestHandlerBadQuery(t *testing.T) {
	t.Parallel()
	h := Handler(newFixture(t), &HandlerOpts{DisableRuntimeMetrics: true})
	for _, q := range []string{"name[]=%zz", "a=1;b=2", "name[]=%"} {
		req := httptest.NewRequest("GET", "/metrics", nil)
		req.URL.RawQuery = q
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusBadRequest {
			t.Errorf("%q: status %d, want 400", q, rec.Code)
		}
		if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
			t.Errorf("%q: Content-Type %q", q, ct)
		}
	}
}

func TestHandlerMethods(t *testing.T) {
	t.Parallel()
	reg := newFixture(t)
	h := Handler(reg, &HandlerOpts{DisableRuntimeMetrics: true})
	for _, m := range []string{"POST", "PUT", "DELETE", "PATCH", "OPTIONS"} {
		rec := scrape(t, h, m, "/metrics")
		if rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") != "GET, HEAD" {
			t.Errorf("%s: status %d, Allow %q", m, rec.Code, rec.Header().Get("Allow"))
		}
	}
	head := scrape(t, h, "HEAD", "/metrics", "Accept", ContentTypeProtobuf)
	if head.Code != http.StatusOK || head.Body.Len() != 0 || head.Header().Get("Content-Type") != ContentTypeProtobuf {
		t.Errorf("HEAD: status %d, %d body bytes, Content-Type %q", head.Code, head.Body.Len(), head.Header().Get("Content-Type"))
	}
	body := scrape(t, h, "GET", "/metrics?name[]="+ScrapeRejectedName).Body.String()
	if !strings.Contains(body, ScrapeRejectedName+`{reason="method"} 5`) {
		t.Errorf("rejections not counted:\n%s", body)
	}
}

func TestHandlerBearerToken(t *testing.T) {
	t.Parallel()
	const token = "s3cret-token"
	var logs bytes.Buffer
	reg := newFixture(t)
	h := Handler(reg, &HandlerOpts{
		BearerToken:           token,
		DisableRuntimeMetrics: true,
		Logger:                slog.New(slog.NewTextHandler(&logs, nil)),
	})
	for _, c := range []struct {
		auth string
		code int
	}{
		{"", http.StatusUnauthorized},
		{"Bearer", http.StatusUnauthorized},
		{"Bearer ", http.StatusUnauthorized},
		{"Bearer wrong", http.StatusUnauthorized},
		{"Bearer " + token + "x", http.StatusUnauthorized},
		{"Basic " + token, http.StatusUnauthorized},
		{token, http.StatusUnauthorized},
		{"Bearer " + token, http.StatusOK},
		{"bearer " + token, http.StatusOK},
	} {
		var rec *httptest.ResponseRecorder
		if c.auth == "" {
			rec = scrape(t, h, "GET", "/metrics")
		} else {
			rec = scrape(t, h, "GET", "/metrics", "Authorization", c.auth)
		}
		if rec.Code != c.code {
			t.Errorf("Authorization %q: status %d, want %d", c.auth, rec.Code, c.code)
		}
		if c.code == http.StatusUnauthorized {
			if rec.Header().Get("WWW-Authenticate") == "" {
				t.Errorf("Authorization %q: 401 without WWW-Authenticate", c.auth)
			}
			if strings.Contains(rec.Body.String(), "test_requests_total") {
				t.Errorf("Authorization %q: metrics leaked in a 401", c.auth)
			}
		}
	}
	if strings.Contains(logs.String(), token) {
		t.Errorf("token logged: %s", logs.String())
	}
}

func TestHandlerInFlightLimit(t *testing.T) {
	t.Parallel()
	reg := metric.NewRegistry()
	entered := make(chan struct{})
	release := make(chan struct{})
	var once sync.Once
	// A func gauge that blocks holds the only in-flight slot.
	reg.GaugeFunc(metric.Opts{Name: "test_blocking", Help: "Blocks the first scrape."}, func() float64 {
		once.Do(func() {
			close(entered)
			<-release
		})
		return 1
	})
	h := Handler(reg, &HandlerOpts{MaxRequestsInFlight: 1, DisableRuntimeMetrics: true})
	done := make(chan int, 1)
	go func() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
		done <- rec.Code
	}()
	<-entered
	rec := scrape(t, h, "GET", "/metrics")
	if rec.Code != http.StatusServiceUnavailable {
		t.Errorf("second scrape: status %d, want 503", rec.Code)
	}
	close(release)
	if code := <-done; code != http.StatusOK {
		t.Errorf("first scrape: status %d", code)
	}
	if rec := scrape(t, h, "GET", "/metrics?name[]="+ScrapeRejectedName); !strings.Contains(rec.Body.String(), `reason="overloaded"} 1`) {
		t.Errorf("overload not counted:\n%s", rec.Body.String())
	}
}

func TestHandlerSelfMetricsPreinitialised(t *testing.T) {
	t.Parallel()
	reg := metric.NewRegistry()
	h := Handler(reg, &HandlerOpts{DisableRuntimeMetrics: true})
	Handler(reg, nil) // a second handler on the same registry shares them
	body := scrape(t, h, "GET", "/metrics").Body.String()
	for _, want := range []string{
		ScrapeDurationName + `_count{format="text"} 0`,
		ScrapeDurationName + `_count{format="openmetrics"} 0`,
		ScrapeDurationName + `_count{format="protobuf"} 0`,
		ScrapeErrorsName + `{cause="write"} 0`,
		ScrapeErrorsName + `{cause="encode"} 0`,
		ScrapeErrorsName + `{cause="runtime"} 0`,
		ScrapeRejectedName + `{reason="unauthorized"} 0`,
		ScrapeRejectedName + `{reason="bad_request"} 0`,
	} {
		if !strings.Contains(body, want+"\n") {
			t.Errorf("missing %q in:\n%s", want, body)
		}
	}
}

func TestHandlerRuntimeMetrics(t *testing.T) {
	t.Parallel()
	reg := newFixture(t)
	// A vitals family with a runtime family's name: ours wins.
	reg.Gauge(metric.Opts{Name: "go_goroutines", Help: "Shadowing the runtime's."}).Set(-1)
	var logs bytes.Buffer
	h := Handler(reg, &HandlerOpts{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	want := []string{"go_sched_latencies_seconds", "go_sched_pauses_total_gc_seconds", "go_gc_duration_seconds",
		"go_memstats_alloc_bytes", "go_memstats_alloc_bytes_total", "test_latency_seconds"}
	if runtime.GOOS == "linux" {
		want = append(want, "process_resident_memory_bytes", "process_open_fds")
	}
	// The OpenMetrics parser is slow (an ABNF parser, seconds for a full
	// runtime scrape under -race): it gets only the families checked.
	query := "?name[]=go_goroutines"
	for _, n := range want {
		query += "&name[]=" + n
	}
	for i := range 2 {
		for _, accept := range []string{"", ContentTypeProtobuf, ContentTypeOpenMetrics} {
			target := "/metrics"
			if accept == ContentTypeOpenMetrics {
				if i > 0 {
					continue
				}
				target += query
			}
			rec := scrape(t, h, "GET", target, "Accept", accept)
			var got map[string]*dto.MetricFamily
			switch accept {
			case "":
				got = parseText(t, rec.Body.Bytes())
			case ContentTypeProtobuf:
				got = decodeAll(t, rec.Body.Bytes(), expfmt.FmtProtoDelim)
			default:
				got = decodeAll(t, rec.Body.Bytes(), expfmt.FmtOpenMetrics_1_0_0)
			}
			for _, n := range want {
				if got[n] == nil {
					t.Errorf("%q: %s missing", accept, n)
				}
			}
			if accept == ContentTypeOpenMetrics {
				// A counter whose name less _total is another family's
				// name goes out as unknown under its full name.
				if c := got["go_memstats_alloc_bytes_total"]; c.GetType() != dto.MetricType_UNTYPED || len(c.Metric) != 1 || c.Metric[0].GetUntyped().GetValue() <= 0 {
					t.Errorf("go_memstats_alloc_bytes_total in OpenMetrics: %v", c)
				}
				if !bytes.Contains(rec.Body.Bytes(), []byte("# TYPE go_memstats_alloc_bytes_total unknown\n")) {
					t.Errorf("go_memstats_alloc_bytes_total not typed unknown")
				}
			}
			g := got["go_goroutines"]
			if g == nil || len(g.Metric) != 1 || g.Metric[0].GetGauge().GetValue() != -1 || g.GetHelp() != "Shadowing the runtime's." {
				t.Errorf("%q: go_goroutines is not the vitals family: %v", accept, g)
			}
		}
	}
	if n := strings.Count(logs.String(), "go_goroutines"); n != 1 {
		t.Errorf("collision logged %d times, want once:\n%s", n, logs.String())
	}
}

// TestHandlerConcurrent scrapes while instruments change, for the race
// detector.
func TestHandlerConcurrent(t *testing.T) {
	t.Parallel()
	reg := newFixture(t)
	h := Handler(reg, &HandlerOpts{MaxRequestsInFlight: -1, DisableRuntimeMetrics: true})
	lat := reg.HistogramVec(metric.Opts{Name: "test_latency_seconds", Help: "Latency with default buckets.", Unit: "seconds", Labels: []string{"route"}})
	ops := reg.CounterVec(metric.Opts{Name: "test_operations_total", Help: "Operations, by op and path.", Labels: []string{"path", "op"}})
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			lat.With("/x").Observe(float64(i%100) / 100)
			ops.With("/new", string(rune('a'+i%20))).Inc()
		}
	})
	for i := range 3 {
		for _, accept := range []string{"", ContentTypeProtobuf, ContentTypeOpenMetrics} {
			wg.Go(func() {
				rec := httptest.NewRecorder()
				req := httptest.NewRequest("GET", "/metrics", nil)
				req.Header.Set("Accept", accept)
				if i%2 == 0 {
					req.Header.Set("Accept-Encoding", "gzip")
				}
				h.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					t.Errorf("status %d", rec.Code)
				}
			})
		}
	}
	// Let the scrapers finish, then stop the writer.
	for range 3 {
		scrape(t, h, "GET", "/metrics")
	}
	close(stop)
	wg.Wait()
}

// brokenWriter is a ResponseWriter whose connection is gone.
type brokenWriter struct{ httptest.ResponseRecorder }

func (w *brokenWriter) Write([]byte) (int, error) { return 0, errBroken }

func TestHandlerWriteErrorCounted(t *testing.T) {
	t.Parallel()
	reg := newFixture(t)
	var logs bytes.Buffer
	h := Handler(reg, &HandlerOpts{DisableRuntimeMetrics: true, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	for _, accept := range []string{"", ContentTypeProtobuf, ContentTypeOpenMetrics} {
		w := &brokenWriter{*httptest.NewRecorder()}
		req := httptest.NewRequest("GET", "/metrics", nil)
		req.Header.Set("Accept", accept)
		h.ServeHTTP(w, req)
	}
	body := scrape(t, h, "GET", "/metrics?name[]="+ScrapeErrorsName).Body.String()
	if !strings.Contains(body, ScrapeErrorsName+`{cause="write"} 3`) {
		t.Errorf("write errors not counted:\n%s", body)
	}
	if !strings.Contains(logs.String(), "broken pipe") {
		t.Errorf("write error not logged: %s", logs.String())
	}
}

func TestHandlerNilRegistryPanics(t *testing.T) {
	t.Parallel()
	defer func() {
		if recover() == nil {
			t.Fatal("no panic")
		}
	}()
	Handler(nil, nil)
}
