package bench

import (
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/bizra/vitals"
	"github.com/bizra/vitals/remotewrite"
	"github.com/bizra/vitals/vitalshttp"
)

// BenchmarkBadReceiverLatency: does a misbehaving remote-write receiver
// slow the service down? One request through vitalshttp's instrumented
// handler (the benchmark's goroutine, locked to its thread), while a
// writer pushes the 10,047-series registry by 2.0 every 250 ms (the
// default 15 s interval, 60 times faster, so a run of a few seconds sees
// about ten pushes) to:
//
//	good         a receiver that accepts every request
//	400          one that refuses every request with a message
//	never        one that never answers (the writer's 1 s timeout)
//	mid-body     one that resets the connection in the middle of the body
//	429          one that answers 429 with Retry-After: 1
//
// A receiver can move the service's latency in two ways only: by making
// the request path itself slower (shared locks or cache lines with the
// writer), or by taking CPU from it. Reported for each:
//
//	thread-cpu-ns/op   CPU time of the request path's thread per request
//	                   (getrusage per thread: time the loaded machine gave
//	                   to other processes is not counted, as it is in
//	                   ns/op)
//	other-cpu-ms/push  CPU time of the rest of the process (writer,
//	                   senders, the in-process receiver, the garbage
//	                   collector) per push: what the writer takes
//	pushes, retries    the writer's, during the measurement
//
// Compare each with good's of the same run; run the command several times
// so that the variants alternate under the machine's load
// (docs/PERFORMANCE.md).
func BenchmarkBadReceiverLatency(b *testing.B) {
	for _, c := range []struct {
		name string
		h    http.HandlerFunc
	}{
		{"good", func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body)
			w.WriteHeader(http.StatusNoContent)
		}},
		{"400", func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body)
			http.Error(w, "out of order sample", http.StatusBadRequest)
		}},
		{"never", func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body) // then the server notices the writer leaving
			<-r.Context().Done()
		}},
		{"mid-body", func(w http.ResponseWriter, r *http.Request) {
			var buf [512]byte
			r.Body.Read(buf[:])
			conn, _, err := http.NewResponseController(w).Hijack()
			if err != nil {
				return
			}
			if tc, ok := conn.(*net.TCPConn); ok {
				tc.SetLinger(0)
			}
			conn.Close()
		}},
		{"429", func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body)
			w.Header().Set("Retry-After", "1")
			http.Error(w, "rate limited", http.StatusTooManyRequests)
		}},
	} {
		b.Run(c.name, func(b *testing.B) {
			rc := httptest.NewServer(c.h)
			defer rc.Close()
			m, change := newRWRegistry()
			w, err := remotewrite.New(m, &remotewrite.Options{
				Endpoints: []remotewrite.Endpoint{{URL: rc.URL + "/api/v1/write", Version: remotewrite.V2, Timeout: time.Second}},
				Interval:  250 * time.Millisecond, Dir: b.TempDir(), FlushTimeout: -1,
				Logger: slog.New(slog.DiscardHandler),
			})
			if err != nil {
				b.Fatal(err)
			}
			w.Start()
			defer w.Close()
			change()
			const pattern = "GET /items/{id}"
			body := []byte("ok")
			h := vitalshttp.Route(m, pattern, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(body) }))
			time.Sleep(600 * time.Millisecond) // two pushes: the writer is in its steady (bad) state
			req := httptest.NewRequest("GET", "/items/42", nil)
			req.Pattern = pattern
			rw := &discardWriter{h: http.Header{}}
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			pushes, retries := writerCounts(m)
			thread0, proc0 := threadCPU(), cpuTime()
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				h.ServeHTTP(rw, req)
			}
			b.StopTimer()
			thread, proc := threadCPU()-thread0, cpuTime()-proc0
			p, r := writerCounts(m)
			b.ReportMetric(float64(thread)/float64(b.N), "thread-cpu-ns/op")
			b.ReportMetric(float64(proc-thread)/float64(time.Millisecond)/(p-pushes), "other-cpu-ms/push")
			b.ReportMetric(p-pushes, "pushes")
			b.ReportMetric(r-retries, "retries")
		})
	}
}

// writerCounts reads the writer's self-metrics: pushes made and requests
// retried (every reason).
func writerCounts(m *vitals.Monitor) (pushes, retries float64) {
	for _, s := range m.Registry().Family("vitals_remote_write_pushes_total").Series() {
		pushes += s.Value()
	}
	for _, s := range m.Registry().Family("vitals_remote_write_retries_total").Series() {
		retries += s.Value()
	}
	return pushes, retries
}

// threadCPU is the calling thread's CPU time (Linux RUSAGE_THREAD; 0
// elsewhere).
func threadCPU() time.Duration {
	const rusageThread = 1
	var ru syscall.Rusage
	if err := syscall.Getrusage(rusageThread, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
