package remotewrite

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/bizra/vitals/metric"
)

// badReceivers are receivers that never accept a request, each in its own
// way, with the reason the writer must count its outcome under.
var badReceivers = []struct {
	name    string
	respond func(w http.ResponseWriter, r *http.Request, n int) bool
	retry   string // the retry reason counted; "" when nothing is retried
	dropped string // the drop reason that must be counted
}{
	{"400_with_message", func(w http.ResponseWriter, r *http.Request, _ int) bool {
		io.Copy(io.Discard, r.Body)
		http.Error(w, "invalid labels: duplicate label name", http.StatusBadRequest)
		return true
	}, "", ReasonRejected},
	{"never_answers", func(w http.ResponseWriter, r *http.Request, _ int) bool {
		// With the body read, the server watches the connection and
		// ends the context when the writer gives up on the request.
		io.Copy(io.Discard, r.Body)
		<-r.Context().Done()
		return true
	}, RetryTimeout, ReasonQueueFull},
	{"closes_mid_body", func(w http.ResponseWriter, r *http.Request, _ int) bool {
		var buf [64]byte
		r.Body.Read(buf[:])
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return true
		}
		if tc, ok := conn.(*net.TCPConn); ok {
			tc.SetLinger(0) // a reset, not a clean close
		}
		conn.Close()
		return true
	}, RetryNetwork, ReasonQueueFull},
	{"429_retry_after", func(w http.ResponseWriter, r *http.Request, _ int) bool {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Retry-After", "1")
		http.Error(w, "rate limited", http.StatusTooManyRequests)
		return true
	}, RetryRateLimited, ReasonQueueFull},
}

// Against each bad receiver, for 150 pushes (37 minutes of a 15 s
// interval on the fixture's clock): the service keeps serving (every
// request to its instrumented handler answered and counted, every Push
// returns), memory stays bounded (the queue at its byte limit on disk,
// the Go heap not growing with the pushes), and the outcome is counted
// under its own reason and no other.
func TestBadReceivers(t *testing.T) {
	for _, bad := range badReceivers {
		t.Run(bad.name, func(t *testing.T) {
			f := newFixture()
			load := f.m.Registry().CounterVec(metric.Opts{Name: "shop_items_total", Help: "Items.", Labels: []string{"item"}})
			for i := range 2000 {
				load.With("item-" + strconv.Itoa(i)).Add(uint64(i))
			}
			rc := newReceiver(t)
			rc.respond = bad.respond
			// The service: an instrumented handler on its own server.
			svc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				start := time.Now()
				f.reqs.Inc()
				w.Write([]byte("ok"))
				f.lat.ObserveDuration(time.Since(start))
			}))
			defer svc.Close()
			const maxQueue = 64 << 10
			timeout := 10 * time.Second // never reached on a loaded machine
			if bad.retry == RetryTimeout {
				timeout = 100 * time.Millisecond
			}
			o := f.options(Endpoint{URL: rc.url(), Timeout: timeout, MinBackoff: 5 * time.Millisecond, MaxBackoff: 20 * time.Millisecond})
			o.MaxQueueBytes = maxQueue
			o.Dir = t.TempDir()
			w := f.start(t, o)

			var served int
			var heap []uint64
			for i := range 150 {
				load.With("item-" + strconv.Itoa(i)).Inc()
				if err := w.Push(); err != nil {
					t.Fatal(err)
				}
				f.clock.Advance(15 * time.Second)
				for range 3 {
					resp, err := http.Get(svc.URL)
					if err != nil {
						t.Fatalf("the service stopped serving: %v", err)
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode == http.StatusOK {
						served++
					}
				}
				if i == 30 || i == 149 {
					heap = append(heap, heapAfterGC())
				}
			}
			if served != 450 || f.reqs.Value() != 450 {
				t.Errorf("served %d requests, counted %v, want 450", served, f.reqs.Value())
			}

			reg := f.m.Registry()
			waitFor(t, "the outcome to be counted", func() bool {
				if bad.retry != "" && counterValue(t, reg, "vitals_remote_write_retries_total", rc.url(), bad.retry) == 0 {
					return false
				}
				return counterValue(t, reg, "vitals_remote_write_samples_failed_total", rc.url(), bad.dropped) > 0
			})
			for _, reason := range retryReasons {
				if v := counterValue(t, reg, "vitals_remote_write_retries_total", rc.url(), reason); reason != bad.retry && v != 0 {
					t.Errorf("%v retries counted as %s", v, reason)
				}
			}
			for _, reason := range dropReasons {
				// A backlog behind refusals may also fill the queue.
				ok := reason == bad.dropped || reason == ReasonQueueFull
				if v := counterValue(t, reg, "vitals_remote_write_samples_failed_total", rc.url(), reason); !ok && v != 0 {
					t.Errorf("%v samples dropped as %s", v, reason)
				}
			}
			if v := counterValue(t, reg, "vitals_remote_write_samples_total", rc.url()); v != 0 {
				t.Errorf("%v samples counted as sent to a receiver that accepts nothing", v)
			}

			if v := counterValue(t, reg, "vitals_remote_write_queue_bytes", rc.url()); v > maxQueue {
				t.Errorf("queue holds %v bytes, limit %d", v, maxQueue)
			}
			if du := dirSize(t, o.Dir); du > maxQueue+4<<10 {
				t.Errorf("queue directory holds %d bytes, limit %d", du, maxQueue)
			}
			// 120 pushes between the two readings are 1.7 MB of
			// compressed requests (14 KB each): kept in memory, they
			// would show.
			if grown := int64(heap[1]) - int64(heap[0]); grown > 512<<10 {
				t.Errorf("heap grew by %d bytes over 120 pushes (%d to %d)", grown, heap[0], heap[1])
			}
			t.Logf("heap after GC: %d then %d bytes", heap[0], heap[1])
		})
	}
}

// heapAfterGC is the live heap: two collections, so that sync.Pool
// contents (the snappy encoder's tables, net/http's buffers) are gone.
func heapAfterGC() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// start creates and starts a writer with o, closed when the test ends
// (before the receivers it talks to, registered earlier).
func (f *fixture) start(t *testing.T, o *Options) *Writer {
	t.Helper()
	w, err := New(f.m, o)
	if err != nil {
		t.Fatal(err)
	}
	w.Start()
	t.Cleanup(func() { w.Close() })
	return w
}
