package health_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"time"

	"github.com/bizra/vitals"
	"github.com/bizra/vitals/health"
)

var start = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func quiet() *slog.Logger { return slog.New(slog.DiscardHandler) }

func ExampleEngine() {
	clk := vitals.NewManualClock(start)
	m := vitals.New(&vitals.Options{Clock: clk})
	h := health.New(m, &health.Options{Logger: quiet()})
	defer h.Stop()

	startup := new(health.Gate)
	_ = h.AddCheck(health.Check{Name: "startup", Gate: startup})
	_ = h.AddCheck(health.Check{Name: "db", ComponentType: "datastore",
		Func: health.ErrorCheck(func(context.Context) error { return nil })})

	h.RunChecks(context.Background()) // Start runs them every Interval
	fmt.Println("before startup:", h.Status(health.Readiness).Status)
	startup.Open()
	fmt.Println("after startup:", h.Status(health.Readiness).Status)
	fmt.Println("liveness:", h.Status(health.Liveness).Status)
	// Output:
	// before startup: fail
	// after startup: pass
	// liveness: pass
}

func ExampleEngine_Handler() {
	clk := vitals.NewManualClock(start)
	m := vitals.New(&vitals.Options{Clock: clk})
	h := health.New(m, &health.Options{Logger: quiet(), Hysteresis: health.Hysteresis{FailAfter: 1}})
	defer h.Stop()
	_ = h.AddCheck(health.Check{Name: "search", WarnOnly: true, // degraded, not down
		Func: health.ErrorCheck(func(context.Context) error { return errors.New("index unreachable") })})
	h.RunChecks(context.Background())

	for _, target := range []string{"/readyz?verbose", "/readyz/search"} {
		w := httptest.NewRecorder()
		h.Handler().ServeHTTP(w, httptest.NewRequest("GET", target, nil))
		fmt.Println(w.Code, w.Header().Get("Content-Type"))
		fmt.Print(w.Body)
	}
	// Output:
	// 200 text/plain; charset=utf-8
	// [+]shutdown ok
	// [!]search warn: index unreachable
	// readyz check passed
	// 200 application/health+json
	// {"status":"warn","output":"index unreachable","checks":{"search":[{"status":"warn","time":"2026-01-01T00:00:00.000Z","output":"index unreachable"}]}}
}

func ExampleHysteresis() {
	clk := vitals.NewManualClock(start)
	m := vitals.New(&vitals.Options{Clock: clk})
	h := health.New(m, &health.Options{Logger: quiet()})
	defer h.Stop()
	pool := &fullPool{}
	_ = h.AddCheck(health.Check{Name: "pool",
		Hysteresis: health.Hysteresis{FailAfter: 2, RecoverAfter: 2},
		Func:       health.PoolCheck(pool, nil)})

	for i, w := range []int{0, 5, 5, 5, 0, 0} {
		pool.waiters.Store(int64(w))
		clk.Advance(time.Second)
		m.Collect()
		h.RunChecks(context.Background())
		fmt.Println(i, w, "waiting:", h.Status(health.Readiness).Status)
	}
	// Output:
	// 0 0 waiting: warn
	// 1 5 waiting: warn
	// 2 5 waiting: fail
	// 3 5 waiting: fail
	// 4 0 waiting: fail
	// 5 0 waiting: warn
}

func ExampleEngine_Subscribe() {
	m := vitals.New(&vitals.Options{Clock: vitals.NewManualClock(start)})
	h := health.New(m, &health.Options{Logger: quiet()})
	defer h.Stop()
	sub := h.Subscribe(16)
	defer sub.Close()

	h.Drain()
	for range 2 {
		ev := <-sub.C()
		fmt.Println(ev.Source, ev.Name, ev.From, "->", ev.To)
	}
	// Output:
	// check shutdown pass -> fail
	// probe ready pass -> fail
}

func ExampleDrainer() {
	m := vitals.New(nil)
	h := health.New(m, nil)
	mux := http.NewServeMux()
	h.Mount(mux)
	srv := &http.Server{Addr: ":8080", Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.ListenAndServe() }()

	// Blocks until SIGTERM: readiness fails, 10 s more of serving (the
	// endpoints stop routing here), then at most 15 s to finish requests.
	// terminationGracePeriodSeconds must exceed 25.
	d := &health.Drainer{Engine: h, Servers: []*http.Server{srv}, Delay: 10 * time.Second, Timeout: 15 * time.Second}
	_ = d.Run(context.Background())
}

// fullPool is a pool with every connection in use and a changing queue
// (*dbpool.Pool in a real service).
type fullPool struct{ waiters atomic.Int64 }

func (p *fullPool) Usage() (float64, int)      { return 1, int(p.waiters.Load()) }
func (p *fullPool) Ping(context.Context) error { return nil }
