package queryapi

import (
	"context"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bizra/vitals"
	"github.com/bizra/vitals/history"
	"github.com/bizra/vitals/metric"
)

// ninetyDays is a history of 90 days of one-minute ticks of ten latency
// histograms and a counter, built once per process (it takes a minute).
var ninetyDays struct {
	once sync.Once
	dir  string
	end  time.Time
	err  error
}

func buildNinetyDays(b *testing.B) (dir string, end time.Time) {
	ninetyDays.once.Do(func() {
		ninetyDays.dir, ninetyDays.err = os_MkdirTemp()
		if ninetyDays.err != nil {
			return
		}
		start := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
		clk := vitals.NewManualClock(start)
		quiet := slog.New(slog.DiscardHandler)
		m := vitals.New(&vitals.Options{Clock: clk, Logger: quiet})
		st, err := history.Open(m, &history.Options{Dir: ninetyDays.dir, Logger: quiet, NoSync: true, MaxPending: 1 << 20})
		if err != nil {
			ninetyDays.err = err
			return
		}
		lat := m.Registry().HistogramVec(metric.Opts{Name: "shop_request_duration_seconds", Help: "Latency.", Unit: "seconds", Labels: []string{"route"}})
		reqs := m.Registry().Counter(metric.Opts{Name: "shop_requests_total", Help: "Requests."})
		routes := make([]*metric.Histogram, 10)
		for i := range routes {
			routes[i] = lat.With("/r" + strconv.Itoa(i))
		}
		m.Collect()
		for min := 0; min < 90*1440; min++ {
			for i, h := range routes {
				for k := 0; k < 20; k++ {
					h.Observe(float64(1+(min*7+i*13+k*31)%500) / 1000)
				}
			}
			reqs.Add(200)
			clk.Advance(time.Minute)
			m.Collect()
			if min%720 == 719 {
				if ninetyDays.err = st.Flush(context.Background()); ninetyDays.err != nil {
					return
				}
			}
		}
		ninetyDays.end = clk.Now()
		m.Stop()
		ninetyDays.err = st.Close()
	})
	if ninetyDays.err != nil {
		b.Fatal(ninetyDays.err)
	}
	return ninetyDays.dir, ninetyDays.end
}

// shopP99 runs the service's own work, the "shop", for n operations: one
// every 2 ms, each about 0.3 ms of hashing and a 32 KB allocation, like a
// request handler. It returns the 99th percentile of each operation's time
// from its scheduled start to its end, so that scheduling delays count.
func shopP99(n int) time.Duration {
	lat := make([]time.Duration, 0, n)
	buf := make([]byte, 16<<10)
	next := time.Now()
	for range n {
		next = next.Add(2 * time.Millisecond)
		if d := time.Until(next); d > 0 {
			time.Sleep(d)
		}
		scratch := make([]byte, 32<<10)
		for j := 0; j < 6; j++ {
			s := sha256.Sum256(buf)
			buf[j] = s[0]
			scratch[j] = s[1]
		}
		lat = append(lat, time.Since(next))
	}
	slices.Sort(lat)
	return lat[len(lat)*99/100]
}

// BenchmarkServiceUnderQueries measures what 50 clients asking for 90-day
// ranges at once do to the service the API runs in: the shop's p99 (see
// shopP99) idle, then under the clients, with the API's defaults. In
// "distinct" every query is new (its "to" differs by a minute), so none
// is answered from the cache; in "dashboard" the clients ask for the same
// ten panels, as viewers of one dashboard do. Record the ratio, not the
// absolute times (the machine is shared):
//
//	go test -run '^$' -bench BenchmarkServiceUnderQueries -benchtime 1x -count 3 ./history/queryapi/
func BenchmarkServiceUnderQueries(b *testing.B) {
	if testing.Short() {
		b.Skip("builds 90 days of history")
	}
	dir, end := buildNinetyDays(b)
	quiet := slog.New(slog.DiscardHandler)
	st, err := history.Open(nil, &history.Options{Dir: dir, Logger: quiet, ReadOnly: true})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	clk := vitals.NewManualClock(end)
	for _, mode := range []string{"distinct", "dashboard"} {
		b.Run(mode, func(b *testing.B) {
			api := New(nil, st, &Options{Clock: clk, Logger: quiet})
			for b.Loop() {
				idle := shopP99(1500)
				var stop atomic.Bool
				var done, rejected atomic.Int64
				var wg sync.WaitGroup
				for c := 0; c < 50; c++ {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for k := 0; !stop.Load(); k++ {
							series := url.QueryEscape(`shop_request_duration_seconds{route="/r` + strconv.Itoa((c+k)%10) + `"}`)
							from, to := "now-90d", "now"
							if mode == "distinct" {
								t := end.Add(-time.Duration(c+50*k) * time.Minute)
								from, to = strconv.FormatInt(t.Add(-90*24*time.Hour).Unix(), 10), strconv.FormatInt(t.Unix(), 10)
							}
							target := fmt.Sprintf("/api/v1/query_range?series=%s&stat=p99&from=%s&to=%s&step=1h", series, from, to)
							rec := httptest.NewRecorder()
							api.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, target, nil))
							switch rec.Code {
							case 200:
								done.Add(1)
							case 503:
								rejected.Add(1)
								time.Sleep(time.Second) // Retry-After
							default:
								b.Errorf("%s: %d %s", target, rec.Code, rec.Body)
								return
							}
						}
					}()
				}
				start := time.Now()
				loaded := shopP99(1500)
				el := time.Since(start)
				stop.Store(true)
				wg.Wait()
				b.ReportMetric(float64(idle.Microseconds())/1000, "idle-p99-ms")
				b.ReportMetric(float64(loaded.Microseconds())/1000, "loaded-p99-ms")
				b.ReportMetric(float64(loaded)/float64(idle), "p99-ratio")
				b.ReportMetric(float64(done.Load())/el.Seconds(), "queries/s")
				b.ReportMetric(float64(rejected.Load()), "503s")
			}
		})
	}
}

func os_MkdirTemp() (string, error) { return os.MkdirTemp("", "vitals-90d-") }
