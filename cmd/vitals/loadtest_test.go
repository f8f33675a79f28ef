package main

import (
	"bytes"
	"context"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/bizra/vitals"
	"github.com/bizra/vitals/exposition"
	"github.com/bizra/vitals/metric"
	"github.com/bizra/vitals/stream"
)

// The load tool against an in-process hub: a short run with reading and
// never-reading clients reports frames, lag and the server's own figures.
// It asserts what the tool counted, never how fast anything was.
func TestLoadtestStream(t *testing.T) {
	m := vitals.New(nil)
	op := m.Operation("checkout")
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				op.Observe(3*time.Millisecond, nil)
			}
		}
	}()
	defer func() { close(stop); <-done }()
	hub := stream.New(m, nil)
	mux := http.NewServeMux()
	hub.Mount(mux)
	mux.Handle("GET /metrics", exposition.Handler(m.Registry(), nil))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	defer hub.Close()

	for _, transport := range []string{"ws", "sse"} {
		t.Run(transport, func(t *testing.T) {
			c := &loadConfig{URL: srv.URL, Clients: 20, Interval: 100 * time.Millisecond, Transport: transport,
				Duration: time.Second, Warmup: 300 * time.Millisecond, Topics: []string{"performance"}, Concurrency: 8}
			if transport == "ws" {
				c.Slow = 3
			}
			if err := c.check(); err != nil {
				t.Fatal(err)
			}
			var log bytes.Buffer
			res, err := runStreamLoad(context.Background(), c, &log)
			if err != nil {
				t.Fatal(err)
			}
			if res.connected != c.Clients+c.Slow || res.dialFails != 0 {
				t.Fatalf("connected %d of %d: %v", res.connected, c.Clients+c.Slow, res.dialErrs)
			}
			if res.frames == 0 || res.lag.n.Load() != res.frames || res.minFrames == 0 {
				t.Fatalf("frames %d (min per client %d), lag samples %d", res.frames, res.minFrames, res.lag.n.Load())
			}
			if res.readErrs != 0 {
				t.Fatalf("read errors: %v", res.readErrSamples)
			}
			if !res.base.ok || !res.during.ok || res.during.clients < float64(c.Clients) || res.during.gorouts <= 0 || res.during.heap <= 0 {
				t.Fatalf("server figures: %+v", res.during)
			}
			var out bytes.Buffer
			res.print(&out)
			for _, want := range []string{"delivery lag    p50", "frames/client   expected", "per client      heap", "operation p99   checkout"} {
				if !strings.Contains(out.String(), want) {
					t.Errorf("report lacks %q:\n%s", want, out.String())
				}
			}
			t.Logf("%s", out.String())
		})
	}
}

func TestLoadtestUsage(t *testing.T) {
	for _, args := range [][]string{
		{"loadtest"},
		{"loadtest", "websocket"},
		{"loadtest", "stream"},
		{"loadtest", "stream", "-interval", "10ms", "http://x"},
		{"loadtest", "stream", "-transport", "udp", "http://x"},
		{"loadtest", "stream", "-transport", "sse", "-slow", "3", "http://x"},
	} {
		var out, errb bytes.Buffer
		if code := run(args, &out, &errb); code != 2 || errb.Len() == 0 {
			t.Errorf("%q: exit %d, stderr %q", args, code, errb.String())
		}
	}
	var out, errb bytes.Buffer
	run([]string{"help"}, &out, &errb)
	if !strings.Contains(out.String(), "vitals loadtest stream") || !strings.Contains(out.String(), "-slow") {
		t.Error("help does not explain loadtest")
	}
}

func TestFrameFields(t *testing.T) {
	data, seq, at := frameFields([]byte(`{"v":1,"type":"update","stream":3,"seq":42,"time":1700000000123,"interval_ms":100,"series":[]}`))
	if !data || seq != 42 || at != 1700000000123 {
		t.Fatalf("%v %d %d", data, seq, at)
	}
	if data, seq, _ := frameFields([]byte(`{"v":1,"type":"full","stream":3,"seq":7`)); !data || seq != 7 {
		t.Fatalf("full: %v %d", data, seq)
	}
	for _, m := range []string{`{"v":1`, `{"v":1,"type":"hello","time":1}`, `{"v":1,"type":"fuller"}`} {
		if data, _, _ := frameFields([]byte(m)); data {
			t.Errorf("%s read as a data frame", m)
		}
	}
}

// The tool's quantiles come from the native buckets: the p99 of the
// observations between two scrapes is within a bucket of the exact one,
// where the classic power-of-two buckets could only say "125 to 250 ms".
func TestScrapeQuantileFromNativeBuckets(t *testing.T) {
	reg := metric.NewRegistry()
	h := reg.Histogram(metric.Opts{Name: "vitals_stream_delivery_lag_seconds", Unit: "seconds", Help: "Lag."})
	srv := httptest.NewServer(exposition.Handler(reg, nil))
	defer srv.Close()
	ctx := context.Background()
	for i := 1; i <= 1000; i++ {
		h.Observe(float64(i) / 10000) // 0.1 to 100 ms: before the window
	}
	a, err := scrape(ctx, http.DefaultClient, srv.URL, "")
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 1000; i++ {
		h.Observe(0.130 + float64(i)/20000) // 130.05 to 180 ms
	}
	b, err := scrape(ctx, http.DefaultClient, srv.URL, "")
	if err != nil {
		t.Fatal(err)
	}
	if a.lag.Schema == nil || len(b.lag.PositiveSpan) == 0 {
		t.Fatalf("no native buckets in the scrape: %v", b.lag)
	}
	for _, tc := range []struct{ q, exact float64 }{{0.5, 0.155}, {0.99, 0.1795}, {0.01, 0.1305}} {
		n, got := deltaQuantile(a.lag, b.lag, tc.q)
		if n != 1000 || math.Abs(got-tc.exact)/tc.exact > 0.01 {
			t.Errorf("q%.2f over %d observations: %.5f, want %.5f within 1%%", tc.q, n, got, tc.exact)
		}
	}
	// Without a previous scrape: every observation counts.
	if n, got := deltaQuantile(nil, b.lag, 0.25); n != 2000 || math.Abs(got-0.05)/0.05 > 0.01 {
		t.Errorf("q0.25 of all: %d %.5f", n, got)
	}
}
