package remotewrite

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/bizra/vitals"
	"github.com/bizra/vitals/metric"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/prompb"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var t0 = time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)

type fixture struct {
	m     *vitals.Monitor
	clock *vitals.ManualClock
	reqs  *metric.Counter
	errs  *metric.Vec[*metric.Counter]
	temp  *metric.FloatGauge
	lat   *metric.Histogram
	logs  *lockedBuffer
}

func newFixture() *fixture {
	clock := vitals.NewManualClock(t0)
	m := vitals.New(&vitals.Options{Clock: clock})
	r := m.Registry()
	f := &fixture{
		m:     m,
		clock: clock,
		reqs:  r.Counter(metric.Opts{Name: "shop_requests_total", Help: "Requests served."}),
		errs:  r.CounterVec(metric.Opts{Name: "shop_errors_total", Help: "Errors by kind.", Labels: []string{"kind"}}),
		temp:  r.FloatGauge(metric.Opts{Name: "shop_temperature_celsius", Unit: "celsius", Help: "Oven temperature."}),
		lat:   r.Histogram(metric.Opts{Name: "shop_latency_seconds", Unit: "seconds", Help: "Request latency."}),
		logs:  &lockedBuffer{},
	}
	return f
}

func (f *fixture) options(eps ...Endpoint) *Options {
	return &Options{
		Endpoints:      eps,
		Interval:       time.Hour, // tests push by hand
		Job:            "shop",
		Instance:       "host-1:9911",
		ExternalLabels: map[string]string{"region": "eu-1", "job": "ignored: Job wins"},
		Logger:         slog.New(slog.NewTextHandler(f.logs, nil)),
		FlushTimeout:   -1,
	}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// waitFor polls cond (the sender works on its own goroutine) for up to
// 10 s; it fails the test with what when cond never holds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func counterValue(t *testing.T, r *metric.Registry, name string, labels ...string) float64 {
	t.Helper()
	f := r.Family(name)
	if f == nil {
		t.Fatalf("no family %s", name)
	}
	for _, s := range f.Series() {
		if slices.Equal(s.Values, labels) {
			if s.Histogram != nil {
				return float64(s.Histogram.Count())
			}
			return s.Value()
		}
	}
	t.Fatalf("no series %s%v", name, labels)
	return 0
}

func TestRemoteWriteV1DecodesWithPrometheusTypes(t *testing.T) {
	f := newFixture()
	rc := newReceiver(t)
	w, err := New(f.m, f.options(Endpoint{URL: rc.url(), BearerToken: "s3cret", Headers: map[string]string{"X-Scope-OrgID": "team-a"}}))
	if err != nil {
		t.Fatal(err)
	}
	f.reqs.Add(41)
	f.reqs.Inc()
	f.errs.With("timeout").Add(3)
	f.temp.Set(180.5)
	for _, v := range []float64{0.001, 0.002, 0.5, 3} {
		f.lat.Observe(v)
	}
	w.Start()
	if err := w.Push(); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}

	got := rc.samplesV1()
	ts := t0.UnixMilli()
	want := map[string]float64{
		"__name__=shop_requests_total,instance=host-1:9911,job=shop,region=eu-1":                                  42,
		"__name__=shop_errors_total,instance=host-1:9911,job=shop,kind=timeout,region=eu-1":                       3,
		"__name__=shop_temperature_celsius,instance=host-1:9911,job=shop,region=eu-1":                             180.5,
		"__name__=shop_latency_seconds_count,instance=host-1:9911,job=shop,region=eu-1":                           4,
		"__name__=shop_latency_seconds_sum,instance=host-1:9911,job=shop,region=eu-1":                             3.503,
		"__name__=shop_latency_seconds_bucket,instance=host-1:9911,job=shop,le=+Inf,region=eu-1":                  4,
		"__name__=shop_latency_seconds_bucket,instance=host-1:9911,job=shop,le=0.5,region=eu-1":                   3,
		"__name__=shop_latency_seconds_bucket,instance=host-1:9911,job=shop,le=0.0025,region=eu-1":                2,
		"__name__=vitals_remote_write_shards,endpoint=" + rc.url() + ",instance=host-1:9911,job=shop,region=eu-1": 1,
	}
	for k, v := range want {
		s, ok := got[k]
		if !ok {
			// Classic bounds are the registry's defaults; skip bounds the
			// defaults do not have rather than guess them.
			if strings.Contains(k, "le=0.") {
				continue
			}
			t.Errorf("series %s not received", k)
			continue
		}
		if len(s) != 1 || s[0].Value != v || s[0].Timestamp != ts {
			t.Errorf("%s: got %+v, want one sample %v at %d", k, s, v, ts)
		}
	}
	for k := range got {
		if strings.Contains(k, "ignored") {
			t.Errorf("an external label replaced Job: %s", k)
		}
	}
	// Prometheus requires sorted label names in every series.
	rc.mu.Lock()
	defer rc.mu.Unlock()
	for _, req := range rc.v1 {
		for _, s := range req.Timeseries {
			if !slices.IsSortedFunc(s.Labels, func(a, b prompb.Label) int { return strings.Compare(a.Name, b.Name) }) {
				t.Errorf("labels not sorted: %v", s.Labels)
			}
		}
	}
	h := rc.headers[0]
	for k, v := range map[string]string{
		"Content-Type":                      "application/x-protobuf",
		"Content-Encoding":                  "snappy",
		"X-Prometheus-Remote-Write-Version": "0.1.0",
		"Authorization":                     "Bearer s3cret",
		"X-Scope-Orgid":                     "team-a",
	} {
		if h.Get(k) != v {
			t.Errorf("header %s = %q, want %q", k, h.Get(k), v)
		}
	}
	if !strings.HasPrefix(h.Get("User-Agent"), "vitals-remote-write/") {
		t.Errorf("User-Agent %q", h.Get("User-Agent"))
	}
}

func TestRemoteWriteV2NativeHistogramsMetadataStartTimestamps(t *testing.T) {
	f := newFixture()
	rc := newReceiver(t)
	w, err := New(f.m, f.options(Endpoint{URL: rc.url(), Version: V2, BasicAuth: &BasicAuth{Username: "u", Password: "p"}}))
	if err != nil {
		t.Fatal(err)
	}
	values := []float64{0, 1e-9, 0.001, 0.0011, 0.002, 0.5, 0.51, 3, 3, 100, 1e6}
	for _, v := range values {
		f.lat.Observe(v)
	}
	f.reqs.Add(7)
	w.Start()
	f.clock.Advance(15 * time.Second)
	if err := w.Push(); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	w.Close()

	rc.mu.Lock()
	defer rc.mu.Unlock()
	if len(rc.v2) == 0 {
		t.Fatal("no 2.0 request received")
	}
	if h := rc.headers[0]; h.Get("X-Prometheus-Remote-Write-Version") != "2.0.0" ||
		h.Get("Content-Type") != "application/x-protobuf;proto=io.prometheus.write.v2.Request" {
		t.Errorf("2.0 headers: %v", h)
	}
	if u, p, ok := (&http.Request{Header: rc.headers[0]}).BasicAuth(); !ok || u != "u" || p != "p" {
		t.Errorf("basic auth not sent")
	}
	var want metric.HistogramValue
	f.lat.Read(&want)
	found := 0
	for _, req := range rc.v2 {
		for _, ts := range req.Timeseries {
			b := labels.NewScratchBuilder(0)
			ls, err := ts.ToLabels(&b, req.Symbols)
			if err != nil {
				t.Fatal(err)
			}
			md, err := ts.ToMetadata(req.Symbols)
			if err != nil {
				t.Fatal(err)
			}
			switch ls.Get("__name__") {
			case "shop_latency_seconds":
				found++
				if len(ts.Histograms) != 1 || len(ts.Samples) != 0 {
					t.Fatalf("histogram series carries %d histograms, %d samples", len(ts.Histograms), len(ts.Samples))
				}
				h := ts.Histograms[0].ToIntHistogram()
				if err := h.Validate(); err != nil {
					t.Fatalf("Prometheus refuses the histogram: %v", err)
				}
				if h.Schema != 6 || h.Count != want.Count || h.ZeroCount != want.ZeroCount || h.Sum != want.Sum {
					t.Errorf("histogram %v, want count %d zero %d sum %v", h, want.Count, want.ZeroCount, want.Sum)
				}
				var got []metric.Bucket
				it := h.PositiveBucketIterator()
				for it.Next() {
					b := it.At()
					got = append(got, metric.Bucket{Key: b.Index, Count: b.Count})
				}
				if !slices.Equal(got, want.Buckets) {
					t.Errorf("buckets %v, want %v", got, want.Buckets)
				}
				if md.Type != "histogram" || md.Unit != "seconds" || md.Help != "Request latency." {
					t.Errorf("metadata %+v", md)
				}
				if st := ts.Histograms[0].StartTimestamp; st != t0.UnixMilli() {
					t.Errorf("start timestamp %d, want the writer's start %d", st, t0.UnixMilli())
				}
				// Quantiles agree with vitals' own within the bucket width.
				for _, q := range []float64{0.5, 0.9, 0.99} {
					pq := histogramQuantile(h, q)
					vq := want.Quantile(q)
					if d := pq/vq - 1; d > 0.011 || d < -0.011 {
						t.Errorf("q%v: Prometheus-side %v, vitals %v", q, pq, vq)
					}
				}
			case "shop_requests_total":
				found++
				if len(ts.Samples) != 1 || ts.Samples[0].Value != 7 || ts.Samples[0].StartTimestamp != t0.UnixMilli() {
					t.Errorf("counter samples %+v", ts.Samples)
				}
				if md.Type != "counter" {
					t.Errorf("counter metadata %+v", md)
				}
			}
		}
	}
	if found != 2 {
		t.Errorf("found %d of the 2 series", found)
	}
}

// histogramQuantile is the upper bound of the bucket holding rank q*count:
// what Prometheus' histogram_quantile returns within one bucket.
func histogramQuantile(h *histogram.Histogram, q float64) float64 {
	rank := q * float64(h.Count)
	run := float64(h.ZeroCount)
	it := h.PositiveBucketIterator()
	for it.Next() {
		b := it.At()
		run += float64(b.Count)
		if run >= rank {
			return b.Upper
		}
	}
	return 0
}

func TestFilterAndNewSeriesStartTimestamp(t *testing.T) {
	f := newFixture()
	rc := newReceiver(t)
	o := f.options(Endpoint{URL: rc.url()})
	o.Filter = func(fam *metric.Family, s *metric.Series) bool { return strings.HasPrefix(fam.Name, "shop_") }
	w, err := New(f.m, o)
	if err != nil {
		t.Fatal(err)
	}
	w.Start()
	defer w.Close()
	w.Push()
	w.Flush(context.Background())
	for k := range rc.samplesV1() {
		if !strings.Contains(k, "__name__=shop_") {
			t.Errorf("filtered-out series sent: %s", k)
		}
	}
	// A series born after a push starts at that push.
	f.clock.Advance(15 * time.Second)
	f.errs.With("late").Inc()
	if e := w.cat.byID[lastSeries(f.errs.Family()).ID]; e != nil {
		t.Fatal("series cached before it was pushed")
	}
	w.Push()
	w.Flush(context.Background())
	if e := w.cat.byID[lastSeries(f.errs.Family()).ID]; e == nil || e.start != t0.UnixMilli() {
		t.Errorf("new series start %v, want the previous push %d", e, t0.UnixMilli())
	}
}

func lastSeries(f *metric.Family) *metric.Series {
	ss := f.Series()
	return ss[len(ss)-1]
}

func TestRejected400IsDroppedCountedAndLoggedOncePerMinute(t *testing.T) {
	f := newFixture()
	rc := newReceiver(t)
	rc.respond = func(w http.ResponseWriter, r *http.Request, n int) bool {
		http.Error(w, "out of order sample\x00 for series shop_requests_total\n", http.StatusBadRequest)
		return true
	}
	w, err := New(f.m, f.options(Endpoint{URL: rc.url()}))
	if err != nil {
		t.Fatal(err)
	}
	w.Start()
	defer w.Close()
	for range 3 {
		w.Push()
		f.clock.Advance(15 * time.Second)
	}
	w.Flush(context.Background())
	reg := f.m.Registry()
	name := rc.url()
	if v := counterValue(t, reg, "vitals_remote_write_samples_failed_total", name, ReasonRejected); v == 0 {
		t.Error("rejected samples not counted")
	}
	if v := counterValue(t, reg, "vitals_remote_write_histograms_failed_total", name, ReasonRejected); v != 0 {
		t.Errorf("1.0 sends no native histograms, yet %v counted", v)
	}
	if rc.count() != 3 {
		t.Errorf("a 400 was retried: %d requests for 3 pushes", rc.count())
	}
	logs := f.logs.String()
	if n := strings.Count(logs, "refused"); n != 1 {
		t.Errorf("%d refusal log lines, want 1 per minute:\n%s", n, logs)
	}
	if !strings.Contains(logs, "out of order sample for series shop_requests_total") {
		t.Errorf("receiver's message not logged (or not sanitized):\n%s", logs)
	}
}

func TestRateLimitedHonoursRetryAfterThenDelivers(t *testing.T) {
	f := newFixture()
	rc := newReceiver(t)
	var first time.Time
	var retried time.Duration
	rc.respond = func(w http.ResponseWriter, r *http.Request, n int) bool {
		switch n {
		case 1:
			first = time.Now()
			w.Header().Set("Retry-After", "1")
			http.Error(w, "slow down", http.StatusTooManyRequests)
			return true
		case 2:
			retried = time.Since(first)
			if r.Header.Get("Retry-Attempt") != "1" {
				t.Errorf("Retry-Attempt %q", r.Header.Get("Retry-Attempt"))
			}
		}
		return false
	}
	w, err := New(f.m, f.options(Endpoint{URL: rc.url()}))
	if err != nil {
		t.Fatal(err)
	}
	w.Start()
	defer w.Close()
	f.reqs.Add(5)
	w.Push()
	w.Flush(context.Background())
	if retried < 900*time.Millisecond {
		t.Errorf("retried after %v, Retry-After said 1 s", retried)
	}
	reg := f.m.Registry()
	if v := counterValue(t, reg, "vitals_remote_write_retries_total", rc.url(), RetryRateLimited); v != 1 {
		t.Errorf("rate_limited retries %v, want 1", v)
	}
	if v := counterValue(t, reg, "vitals_remote_write_samples_failed_total", rc.url(), ReasonRejected); v != 0 {
		t.Errorf("a 429 dropped %v samples", v)
	}
	if got := rc.samplesV1()["__name__=shop_requests_total,instance=host-1:9911,job=shop,region=eu-1"]; len(got) != 1 || got[0].Value != 5 {
		t.Errorf("after the retry the receiver has %v", got)
	}
	if v := counterValue(t, reg, "vitals_remote_write_highest_acked_timestamp_seconds", rc.url()); v != float64(t0.Unix()) {
		t.Errorf("highest acked %v, want %v", v, t0.Unix())
	}
}

// A receiver that never answers: each request times out and is retried,
// the queue holds pushes up to its byte limit, older ones are dropped and
// counted, memory stays bounded, and the service (Push) never blocks.
func TestNeverAnsweringReceiverBoundsQueueAndCountsTimeouts(t *testing.T) {
	f := newFixture()
	hang := make(chan struct{})
	rc := newReceiver(t)
	rc.respond = func(w http.ResponseWriter, r *http.Request, n int) bool {
		select {
		case <-hang:
		case <-r.Context().Done():
		}
		return true
	}
	defer close(hang)
	o := f.options(Endpoint{URL: rc.url(), Timeout: 50 * time.Millisecond, MaxBackoff: 50 * time.Millisecond})
	o.MaxQueueBytes = 8 << 10
	o.Dir = t.TempDir()
	w := f.start(t, o)
	for i := range 200 {
		f.reqs.Inc()
		f.lat.Observe(float64(i))
		start := time.Now()
		if err := w.Push(); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d > time.Second {
			t.Fatalf("Push blocked for %v behind a dead receiver", d)
		}
		f.clock.Advance(15 * time.Second)
	}
	reg := f.m.Registry()
	waitFor(t, "timeouts to be counted", func() bool {
		return counterValue(t, reg, "vitals_remote_write_retries_total", rc.url(), RetryTimeout) >= 2
	})
	if v := counterValue(t, reg, "vitals_remote_write_samples_failed_total", rc.url(), ReasonQueueFull); v == 0 {
		t.Error("no queue_full drops although 200 pushes exceed 8 KiB")
	}
	if v := counterValue(t, reg, "vitals_remote_write_queue_bytes", rc.url()); v > 8<<10 {
		t.Errorf("queue holds %v bytes, limit 8 KiB", v)
	}
	if du := dirSize(t, o.Dir); du > 8<<10+(1<<10) {
		t.Errorf("queue directory holds %d bytes, limit 8 KiB", du)
	}
}

func dirSize(t *testing.T, dir string) int64 {
	var n int64
	filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() && strings.HasSuffix(fi.Name(), segSuffix) {
			n += fi.Size()
		}
		return nil
	})
	return n
}

// A receiver that closes the connection in the middle of reading the
// body: a network error, retried until the receiver behaves.
func TestConnectionClosedMidBodyIsRetried(t *testing.T) {
	f := newFixture()
	rc := newReceiver(t)
	rc.respond = func(w http.ResponseWriter, r *http.Request, n int) bool {
		if n > 2 {
			return false
		}
		var buf [16]byte
		r.Body.Read(buf[:])
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Error(err)
			return true
		}
		if tc, ok := conn.(*net.TCPConn); ok {
			tc.SetLinger(0) // reset, not a clean close
		}
		conn.Close()
		return true
	}
	w, err := New(f.m, f.options(Endpoint{URL: rc.url()}))
	if err != nil {
		t.Fatal(err)
	}
	w.Start()
	defer w.Close()
	f.reqs.Add(9)
	w.Push()
	w.Flush(context.Background())
	reg := f.m.Registry()
	if v := counterValue(t, reg, "vitals_remote_write_retries_total", rc.url(), RetryNetwork); v != 2 {
		t.Errorf("network retries %v, want 2", v)
	}
	if got := rc.samplesV1()["__name__=shop_requests_total,instance=host-1:9911,job=shop,region=eu-1"]; len(got) != 1 || got[0].Value != 9 {
		t.Errorf("receiver has %v", got)
	}
}

// The durable queue: pushes made while the receiver is down survive a
// restart of the writer and arrive oldest first, each exactly once.
func TestDurableQueueSurvivesOutageAndRestart(t *testing.T) {
	f := newFixture()
	rc := newReceiver(t)
	var down sync.Mutex
	isDown := true
	rc.respond = func(w http.ResponseWriter, r *http.Request, n int) bool {
		down.Lock()
		defer down.Unlock()
		if isDown {
			http.Error(w, "unavailable", http.StatusServiceUnavailable)
			return true
		}
		return false
	}
	dir := t.TempDir()
	o := f.options(Endpoint{URL: rc.url(), MaxBackoff: 20 * time.Millisecond})
	o.Dir = dir
	o.Filter = func(fam *metric.Family, _ *metric.Series) bool { return fam.Name == "shop_requests_total" }
	w, err := New(f.m, o)
	if err != nil {
		t.Fatal(err)
	}
	w.Start()
	for range 5 {
		f.reqs.Inc()
		w.Push()
		f.clock.Advance(15 * time.Second)
	}
	waitFor(t, "5xx retries", func() bool {
		return counterValue(t, f.m.Registry(), "vitals_remote_write_retries_total", rc.url(), RetryServerError) > 0
	})
	w.Close() // the final push is the 6th
	if n := len(rc.samplesV1()); n != 0 {
		t.Fatalf("receiver got data while down: %d series", n)
	}

	// The service restarts (a new Monitor: counters start again) while
	// the receiver is still down, then the receiver comes back.
	f2 := newFixture()
	f2.clock.Advance(2 * time.Minute)
	w2, err := New(f2.m, o)
	if err != nil {
		t.Fatal(err)
	}
	if v := counterValue(t, f2.m.Registry(), "vitals_remote_write_queue_records", rc.url()); v != 6 {
		t.Fatalf("reopened queue holds %v pushes, want 6", v)
	}
	down.Lock()
	isDown = false
	down.Unlock()
	w2.Start()
	w2.Push()
	if err := w2.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	f2.clock.Advance(15 * time.Second)
	w2.Close()
	got := rc.samplesV1()["__name__=shop_requests_total,instance=host-1:9911,job=shop,region=eu-1"]
	var vals []float64
	var tss []int64
	for _, s := range got {
		vals = append(vals, s.Value)
		tss = append(tss, s.Timestamp)
	}
	// 5 pushes, the final one at close (5), one after restart (0), and
	// the second close's final push (0), which may still be queued:
	// FlushTimeout < 0 does not wait for it.
	if want := []float64{1, 2, 3, 4, 5, 5, 0, 0}; !slices.Equal(vals, want[:len(vals)]) || len(vals) < 7 {
		t.Errorf("values %v, want %v", vals, want)
	}
	if !slices.IsSorted(tss[:6]) {
		t.Errorf("queued pushes not sent oldest first: %v", tss)
	}
	q, _, err := openQueue(filepath.Join(dir, queueDirName(w2.senders[0].ep)), o.MaxQueueBytes, slog.Default())
	if err != nil {
		t.Fatal(err)
	}
	defer q.close()
	if n, _, _ := q.stats(); n+len(vals) != 8 {
		t.Errorf("after the second close: %d pushes queued and %d delivered, want 8 in all", n, len(vals))
	}
}

func TestNewRejectsBadEndpoints(t *testing.T) {
	m := vitals.New(nil)
	for _, ep := range []Endpoint{
		{URL: "ftp://x/y"},
		{URL: "http://"},
		{URL: "http://x/", Version: 3},
		{URL: "http://x/", Headers: map[string]string{"Content-Type": "x"}},
		{URL: "http://x/", BearerToken: "a", BasicAuth: &BasicAuth{}},
	} {
		if _, err := New(m, &Options{Endpoints: []Endpoint{ep}}); err == nil {
			t.Errorf("%+v accepted", ep)
		}
	}
	_, err := New(m, &Options{Endpoints: []Endpoint{{URL: "http://user:pw@x/a"}, {URL: "http://user:pw@x/a"}}})
	if err == nil || strings.Contains(err.Error(), "pw") {
		t.Errorf("duplicate endpoint: %v (credentials must not show)", err)
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Duration{
		"":                              0,
		"3":                             3 * time.Second,
		"-1":                            0,
		"soon":                          0,
		"Thu, 01 Jan 2026 00:00:10 GMT": 10 * time.Second,
		"99999999":                      24 * time.Hour,
	} {
		if got := retryAfter(in, now); got != want {
			t.Errorf("retryAfter(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestParseVersion(t *testing.T) {
	for in, want := range map[string]Version{"1": V1, "2.0": V2, "2": V2, "1.0": V1} {
		if v, err := ParseVersion(in); err != nil || v != want {
			t.Errorf("ParseVersion(%q) = %v, %v", in, v, err)
		}
	}
	if _, err := ParseVersion("3"); err == nil {
		t.Error("3 accepted")
	}
}
