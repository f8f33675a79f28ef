package demo

import (
	"bytes"
	"compress/gzip"
	"context"
	"flag"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/klauspost/compress/snappy"
	writev2 "github.com/prometheus/prometheus/prompb/io/prometheus/write/v2"
	colmetricpb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	"google.golang.org/protobuf/proto"
)

func TestPushFlags(t *testing.T) {
	var p Push
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	p.RegisterFlags(fs)
	err := fs.Parse([]string{"--remote-write", "http://a/api/v1/write", "--remote-write", "http://b/api/v1/write", "--remote-write-version", "2"})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.RemoteWrite) != 2 || p.RemoteWriteVersion != "2" {
		t.Errorf("parsed %+v", p)
	}
	if _, err := startPush(nil, &Config{Push: Push{RemoteWrite: []string{"http://a/"}, RemoteWriteVersion: "3"}}, slog.New(slog.DiscardHandler)); err == nil {
		t.Error("version 3 accepted")
	}
}

// TestDemoRemoteWrite runs the demo with --remote-write-version 2 and
// --otlp against an in-memory receiver and checks the shop's metrics
// arrive as 2.0 requests and OTLP exports.
func TestDemoRemoteWrite(t *testing.T) {
	var mu sync.Mutex
	names := map[string]bool{}
	otlpNames := map[string]bool{}
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.URL.Path == "/v1/metrics" {
			if r.Header.Get("Content-Encoding") == "gzip" {
				zr, err := gzip.NewReader(bytes.NewReader(body))
				if err != nil {
					http.Error(w, err.Error(), http.StatusBadRequest)
					return
				}
				body, _ = io.ReadAll(zr)
			}
			var req colmetricpb.ExportMetricsServiceRequest
			if err := proto.Unmarshal(body, &req); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			mu.Lock()
			for _, rm := range req.ResourceMetrics {
				for _, sm := range rm.ScopeMetrics {
					for _, m := range sm.Metrics {
						otlpNames[m.Name] = true
					}
				}
			}
			mu.Unlock()
			w.Header().Set("Content-Type", "application/x-protobuf")
			return
		}
		raw, err := snappy.Decode(nil, body)
		var req writev2.Request
		if err == nil {
			err = req.Unmarshal(raw)
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		mu.Lock()
		for _, ts := range req.Timeseries {
			for i := 0; i+1 < len(ts.LabelsRefs); i += 2 {
				if req.Symbols[ts.LabelsRefs[i]] == "__name__" {
					names[req.Symbols[ts.LabelsRefs[i+1]]] = true
				}
			}
		}
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	defer rc.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Second)
	defer cancel()
	err = Run(ctx, Config{Listener: ln, DataDir: t.TempDir(), Rate: 50, DrainDelay: 100 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(&logs, nil)),
		Push: Push{RemoteWrite: []string{rc.URL + "/api/v1/write"}, RemoteWriteVersion: "2", RemoteWriteInterval: 500 * time.Millisecond,
			OTLP: rc.URL + "/v1/metrics", OTLPInterval: 500 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, want := range []string{"vitals_operation_duration_seconds", "vitals_remote_write_samples_total"} {
		if !names[want] {
			t.Errorf("%s not received; got %d names", want, len(names))
		}
	}
	if !otlpNames["vitals_operation_duration_seconds"] {
		t.Errorf("OTLP export lacks the operation histogram; got %d names", len(otlpNames))
	}
	if !strings.Contains(logs.String(), "remote write on") {
		t.Errorf("no start log:\n%s", logs.String())
	}
}
