package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/klauspost/compress/snappy"
	"github.com/prometheus/client_golang/exp/api/remote"
	writev2 "github.com/prometheus/client_golang/exp/api/remote/genproto/v2"
	promv2 "github.com/prometheus/prometheus/prompb/io/prometheus/write/v2"

	"github.com/bizra/vitals"
	"github.com/bizra/vitals/metric"
	"github.com/bizra/vitals/remotewrite"
)

// Remote write: one push of 10,000 series (9,000 counters and gauges,
// 1,000 native histograms with ~40 populated buckets each), encoded and
// sent to an in-process receiver that reads and discards the body.
//
//	vitals-v2, vitals-v1: Writer.Push (read the registry, encode, queue on
//	  disk) and the sender delivering it (read back, HTTP), as the demo runs;
//	  vitals-v2-one-request with MaxSamplesPerSend 20,000 (one request,
//	  one symbol table, no parallel shards).
//	exp-v2: the Prometheus project's client (client_golang/exp
//	  api/remote) sending the same series, read from the same registry into
//	  its writev2 messages.
//
// Both sides send the same 10,047 series: the 10,000 and those the
// Monitor registers itself; the writer's own vitals_remote_write_* series
// are left out on both.
//
// Reported per push: ns, allocs and B (Go's), plus wire-B/sample (the
// compressed bytes the receiver got over the samples and histograms
// acknowledged: the writer's own counters, the reference's series count).

const (
	rwFamilies   = 9 // counter/gauge families of 1,000 series
	rwSeriesPerF = 1000
	rwHistograms = 1000
)

func newRWRegistry() (*vitals.Monitor, func()) {
	m := vitals.New(nil)
	return m, fillRW(m)
}

// fillRW registers the 10,000 series in m and returns the function that
// changes their values between pushes.
func fillRW(m *vitals.Monitor) func() {
	r := m.Registry()
	var ctrs []*metric.Counter
	for f := 0; f < rwFamilies; f++ {
		name := fmt.Sprintf("bench_rw_requests_%d_total", f)
		if f%3 == 2 {
			name = fmt.Sprintf("bench_rw_in_flight_%d", f)
			v := r.GaugeVec(metric.Opts{Name: name, Help: "In flight.", Labels: []string{"route", "code"}, MaxSeries: rwSeriesPerF})
			for i := 0; i < rwSeriesPerF; i++ {
				v.With("/route/"+strconv.Itoa(i/10), strconv.Itoa(200+i%10)).Set(int64(i))
			}
			continue
		}
		v := r.CounterVec(metric.Opts{Name: name, Help: "Requests.", Labels: []string{"route", "code"}, MaxSeries: rwSeriesPerF})
		for i := 0; i < rwSeriesPerF; i++ {
			c := v.With("/route/"+strconv.Itoa(i/10), strconv.Itoa(200+i%10))
			c.Add(uint64(i * 7))
			ctrs = append(ctrs, c)
		}
	}
	hv := r.HistogramVec(metric.Opts{Name: "bench_rw_latency_seconds", Unit: "seconds", Help: "Latency.", Labels: []string{"route"}, MaxSeries: rwHistograms})
	var hs []*metric.Histogram
	for i := 0; i < rwHistograms; i++ {
		h := hv.With("/route/" + strconv.Itoa(i))
		for j := 0; j < 200; j++ {
			h.Observe(0.001 * float64(1+(i*31+j*17)%997) / 10)
		}
		hs = append(hs, h)
	}
	// Values change between pushes, as in a live service.
	tick := 0
	return func() {
		tick++
		for i, c := range ctrs {
			if i%4 == tick%4 {
				c.Inc()
			}
		}
		hs[tick%len(hs)].Observe(0.01)
	}
}

type discardReceiver struct {
	srv   *httptest.Server
	bytes atomic.Int64
}

func newDiscardReceiver() *discardReceiver {
	d := &discardReceiver{}
	d.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		d.bytes.Add(n)
		// What a 2.0 receiver answers (the exp client requires it).
		w.Header().Set("X-Prometheus-Remote-Write-Samples-Written", "1")
		w.WriteHeader(http.StatusNoContent)
	}))
	return d
}

// cpuTime is the process' CPU time (user and system, every thread): the
// work of a push wherever it ran (encoder, senders, the in-process
// receiver, the garbage collector), which the machine's load does not
// inflate as it does wall time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func reportCPU(b *testing.B, since time.Duration) {
	b.ReportMetric(float64(cpuTime()-since)/float64(time.Millisecond)/float64(b.N), "cpu-ms/push")
}

// notSelf keeps the writer's own series out of the benchmark's pushes.
func notSelf(f *metric.Family, _ *metric.Series) bool {
	return !strings.HasPrefix(f.Name, "vitals_remote_write_")
}

// acked is the samples and histograms the writer's endpoints acknowledged.
func acked(m *vitals.Monitor) float64 {
	var n float64
	for _, name := range []string{"vitals_remote_write_samples_total", "vitals_remote_write_histograms_total"} {
		for _, s := range m.Registry().Family(name).Series() {
			n += s.Value()
		}
	}
	return n
}

func BenchmarkRemoteWritePush(b *testing.B) {
	for _, c := range []struct {
		name    string
		v       remotewrite.Version
		perSend int
	}{
		{"vitals-v2", remotewrite.V2, 0},
		{"vitals-v2-one-request", remotewrite.V2, 20000},
		{"vitals-v1", remotewrite.V1, 0},
	} {
		v := c.v
		b.Run(c.name, func(b *testing.B) {
			m, change := newRWRegistry()
			rc := newDiscardReceiver()
			defer rc.srv.Close()
			w, err := remotewrite.New(m, &remotewrite.Options{
				Endpoints: []remotewrite.Endpoint{{URL: rc.srv.URL + "/api/v1/write", Version: v, MaxSamplesPerSend: c.perSend}},
				Interval:  time.Hour, Dir: b.TempDir(), FlushTimeout: -1, Filter: notSelf,
				Job: "bench", Instance: "host-1:9911", // the reference gets the same two labels
				Logger: slog.New(slog.DiscardHandler),
			})
			if err != nil {
				b.Fatal(err)
			}
			w.Start()
			defer w.Close()
			push := func() {
				change()
				time.Sleep(time.Millisecond) // a new millisecond: one push per timestamp
				if err := w.Push(); err != nil {
					b.Fatal(err)
				}
				if err := w.Flush(context.Background()); err != nil {
					b.Fatal(err)
				}
			}
			push() // warm: series cached, buffers grown
			push()
			rc.bytes.Store(0)
			before := acked(m)
			b.ReportAllocs()
			b.ResetTimer()
			cpu0 := cpuTime()
			for i := 0; i < b.N; i++ {
				push()
			}
			b.StopTimer()
			reportCPU(b, cpu0)
			// By 1.0 a histogram is its classic series: _bucket per
			// bound and +Inf, _sum, _count.
			n := acked(m) - before
			b.ReportMetric(float64(rc.bytes.Load())/n, "wire-B/sample")
			b.ReportMetric(n/float64(b.N), "samples/push")
		})
	}
	b.Run("exp-v2", func(b *testing.B) {
		m, change := newRWRegistry()
		rc := newDiscardReceiver()
		defer rc.srv.Close()
		api, err := remote.NewAPI(rc.srv.URL)
		if err != nil {
			b.Fatal(err)
		}
		// A writer that is never started: its registration adds the
		// same per-family series (overflow and rejected counters) to the
		// registry as on the vitals side.
		w, err := remotewrite.New(m, &remotewrite.Options{
			Endpoints: []remotewrite.Endpoint{{URL: rc.srv.URL, Version: remotewrite.V2}},
			Interval:  time.Hour, Dir: b.TempDir(), Logger: slog.New(slog.DiscardHandler),
		})
		if err != nil {
			b.Fatal(err)
		}
		defer w.Close()
		r := m.Registry()
		var n int
		push := func() {
			change()
			req := expRequest(r, time.Now().UnixMilli())
			if _, err := api.Write(context.Background(), remote.WriteV2MessageType, req); err != nil {
				b.Fatal(err)
			}
			n += len(req.Timeseries) // one sample or histogram each
		}
		push()
		rc.bytes.Store(0)
		n = 0
		b.ReportAllocs()
		b.ResetTimer()
		cpu0 := cpuTime()
		for i := 0; i < b.N; i++ {
			push()
		}
		b.StopTimer()
		reportCPU(b, cpu0)
		b.ReportMetric(float64(rc.bytes.Load())/float64(n), "wire-B/sample")
		b.ReportMetric(float64(n)/float64(b.N), "samples/push")
	})
}

// expStart is the reference's created timestamp: the benchmark's start.
var expStart = time.Now().UnixMilli()

// expRequest builds the exp client's 2.0 request for every series of r,
// as a user of that client would, with what vitals sends: symbols, label
// refs, metadata, samples, native histograms with spans and deltas, and a
// created (start) timestamp on counters and histograms.
func expRequest(r *metric.Registry, ts int64) *writev2.Request {
	st := writev2.NewSymbolTable()
	req := &writev2.Request{}
	var hv metric.HistogramValue
	for _, f := range r.Families() {
		if !notSelf(f, nil) {
			continue
		}
		for _, s := range f.Series() {
			t := &writev2.TimeSeries{Metadata: &writev2.Metadata{HelpRef: st.Symbolize(f.Help), UnitRef: st.Symbolize(f.Unit)}}
			names := append([]string{"__name__", "job", "instance"}, f.Labels...)
			values := append([]string{f.Name, "bench", "host-1:9911"}, s.Values...)
			idx := make([]int, len(names))
			for i := range idx {
				idx[i] = i
			}
			sort.Slice(idx, func(a, b int) bool { return names[idx[a]] < names[idx[b]] })
			for _, i := range idx {
				t.LabelsRefs = append(t.LabelsRefs, st.Symbolize(names[i]), st.Symbolize(values[i]))
			}
			switch f.Kind {
			case metric.KindHistogram:
				t.Metadata.Type = writev2.Metadata_METRIC_TYPE_HISTOGRAM
				s.Histogram.Read(&hv)
				h := &writev2.Histogram{Count: &writev2.Histogram_CountInt{CountInt: hv.Count}, Sum: hv.Sum, Schema: hv.Schema,
					ZeroThreshold: hv.ZeroThreshold, ZeroCount: &writev2.Histogram_ZeroCountInt{ZeroCountInt: hv.ZeroCount}, Timestamp: ts}
				var prev int32
				var prevC int64
				for i, bk := range hv.Buckets {
					switch {
					case i == 0:
						h.PositiveSpans = append(h.PositiveSpans, &writev2.BucketSpan{Offset: bk.Key, Length: 1})
					case bk.Key == prev+1:
						h.PositiveSpans[len(h.PositiveSpans)-1].Length++
					default:
						h.PositiveSpans = append(h.PositiveSpans, &writev2.BucketSpan{Offset: bk.Key - prev - 1, Length: 1})
					}
					h.PositiveDeltas = append(h.PositiveDeltas, int64(bk.Count)-prevC)
					prev, prevC = bk.Key, int64(bk.Count)
				}
				t.Histograms = []*writev2.Histogram{h}
				t.CreatedTimestamp = expStart
			case metric.KindCounter:
				t.Metadata.Type = writev2.Metadata_METRIC_TYPE_COUNTER
				t.CreatedTimestamp = expStart
				t.Samples = []*writev2.Sample{{Value: s.Value(), Timestamp: ts}}
			default:
				t.Metadata.Type = writev2.Metadata_METRIC_TYPE_GAUGE
				t.Samples = []*writev2.Sample{{Value: s.Value(), Timestamp: ts}}
			}
			req.Timeseries = append(req.Timeseries, t)
		}
	}
	req.Symbols = st.Symbols()
	return req
}

// BenchmarkRemoteWriteOutageQueue: the durable queue while the receiver is
// down for one hour at 10,000 series every 15 s: 240 pushes on a manual
// clock moved 15 s between them, none sent (the writer is not started).
// Reported:
//
//	disk-B/sample   the queue directory's bytes over the samples queued
//	write-amp       bytes the process wrote (write system calls, from
//	                /proc/self/io) over the encoded pushes' bytes
//	disk-amp        the directory's bytes over the encoded pushes' bytes
//	writes/push     write system calls per push
//	disk-MiB/hour   the directory after the hour
func BenchmarkRemoteWriteOutageQueue(b *testing.B) {
	const pushes = 240
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		clock := vitals.NewManualClock(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC))
		m := vitals.New(&vitals.Options{Clock: clock})
		change := fillRW(m)
		dir := b.TempDir()
		w, err := remotewrite.New(m, &remotewrite.Options{
			Endpoints: []remotewrite.Endpoint{{URL: "http://127.0.0.1:1/api/v1/write", Version: remotewrite.V2}},
			Interval:  15 * time.Second, Dir: dir, FlushTimeout: -1, Filter: notSelf, Logger: slog.New(slog.DiscardHandler),
		})
		if err != nil {
			b.Fatal(err)
		}
		var samples int
		for _, f := range m.Registry().Families() {
			if notSelf(f, nil) {
				samples += len(f.Series())
			}
		}
		io0 := procIO(b)
		b.StartTimer()
		for p := 0; p < pushes; p++ {
			change()
			clock.Advance(15 * time.Second)
			if err := w.Push(); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		io1 := procIO(b)
		disk := dirBytes(dir)
		queued := gaugeValue(m, "vitals_remote_write_queue_bytes")
		records := gaugeValue(m, "vitals_remote_write_queue_records")
		w.Close()
		if records != pushes {
			b.Fatalf("%v pushes queued, want %d", records, pushes)
		}
		// A queued push is its encoded bytes and a 24-byte frame header.
		payload := queued - 24*records
		b.ReportMetric(float64(disk)/pushes/float64(samples), "disk-B/sample")
		b.ReportMetric(float64(io1["wchar"]-io0["wchar"])/payload, "write-amp")
		b.ReportMetric(float64(disk)/payload, "disk-amp")
		b.ReportMetric(float64(io1["syscw"]-io0["syscw"])/pushes, "writes/push")
		b.ReportMetric(float64(io1["write_bytes"]-io0["write_bytes"])/payload, "storage-amp")
		b.ReportMetric(float64(disk)/(1<<20), "disk-MiB/hour")
	}
}

// procIO reads the process' I/O counters (Linux); the benchmark is
// skipped where there are none.
func procIO(b *testing.B) map[string]int64 {
	data, err := os.ReadFile("/proc/self/io")
	if err != nil {
		b.Skip("no /proc/self/io:", err)
	}
	out := map[string]int64{}
	for _, line := range strings.Split(string(data), "\n") {
		k, v, ok := strings.Cut(line, ": ")
		if n, err := strconv.ParseInt(v, 10, 64); ok && err == nil {
			out[k] = n
		}
	}
	return out
}

func gaugeValue(m *vitals.Monitor, name string) float64 {
	var n float64
	for _, s := range m.Registry().Family(name).Series() {
		n += s.Value()
	}
	return n
}

func dirBytes(dir string) int64 {
	var n int64
	filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			n += fi.Size()
		}
		return nil
	})
	return n
}

// TestRemoteWriteV2Bytes accounts for the 2.0 bytes on the wire against
// the reference, one request each, same series: it decodes what the
// writer sent, compresses it again without start timestamps, and does
// the same for the reference's request without created timestamps. The
// two encodings without those are equally compact; the difference is
// where the timestamps sit. Prometheus 0.316's 2.0 message has a start
// timestamp in every sample and histogram (what vitals sends); the
// client_golang/exp messages have the older created_timestamp per series
// (TimeSeries field 6, reserved, so ignored, in Prometheus' message).
// Run with -v for the figures (docs/PERFORMANCE.md).
func TestRemoteWriteV2Bytes(t *testing.T) {
	m, change := newRWRegistry()
	var body []byte
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		if body == nil {
			body = b
		}
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	w, err := remotewrite.New(m, &remotewrite.Options{
		Endpoints: []remotewrite.Endpoint{{URL: srv.URL, Version: remotewrite.V2, MaxSamplesPerSend: 20000}},
		Interval:  time.Hour, Dir: t.TempDir(), FlushTimeout: -1, Filter: notSelf,
		Job: "bench", Instance: "host-1:9911", Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	w.Start()
	change()
	if err := w.Push(); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	w.Close()
	mu.Lock()
	defer mu.Unlock()
	raw, err := snappy.Decode(nil, body)
	if err != nil {
		t.Fatal(err)
	}
	var req promv2.Request
	if err := req.Unmarshal(raw); err != nil {
		t.Fatal(err)
	}
	for i := range req.Timeseries {
		ts := &req.Timeseries[i]
		for j := range ts.Samples {
			ts.Samples[j].StartTimestamp = 0
		}
		for j := range ts.Histograms {
			ts.Histograms[j].StartTimestamp = 0
		}
	}
	stripped, err := req.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	ref := expRequest(m.Registry(), time.Now().UnixMilli())
	refRaw, err := ref.MarshalVT()
	if err != nil {
		t.Fatal(err)
	}
	for _, ts := range ref.Timeseries {
		ts.CreatedTimestamp = 0
	}
	refStripped, err := ref.MarshalVT()
	if err != nil {
		t.Fatal(err)
	}
	size := func(b []byte) int { return len(snappy.Encode(nil, b)) }
	vs, vn, rs, rn := len(body), size(stripped), size(refRaw), size(refStripped)
	t.Logf("series %d; snappy bytes: vitals %d, without start timestamps %d; reference %d, without created timestamps %d", len(req.Timeseries), vs, vn, rs, rn)
	t.Logf("vitals/reference: %.3f as sent, %.3f without those timestamps", float64(vs)/float64(rs), float64(vn)/float64(rn))
	if float64(vn) > 1.005*float64(rn) {
		t.Errorf("without start/created timestamps vitals sends %d bytes, the reference %d: the encodings should be equally compact", vn, rn)
	}
}
