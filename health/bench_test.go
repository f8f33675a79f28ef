package health

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"
)

// benchEngine has 10 readiness checks with results, one of them stuck in
// a run that never returns until the benchmark ends: probes must not care.
func benchEngine(b *testing.B) (*fixture, func()) {
	f := newFixture(b, &Options{Timeout: time.Hour})
	for i := range 9 {
		must(f.e.AddCheck(Check{Name: "c" + string(rune('0'+i)), Func: func(context.Context) Result {
			return Result{Status: P, ObservedValue: 0.5, ObservedUnit: "ratio"}
		}}))
	}
	f.e.RunChecks(context.Background())
	release := make(chan struct{})
	entered := make(chan struct{})
	must(f.e.AddCheck(Check{Name: "stuck", Func: func(context.Context) Result {
		close(entered)
		<-release
		return Pass()
	}}))
	done := make(chan struct{})
	go func() { defer close(done); f.e.RunChecks(context.Background()) }()
	<-entered
	return f, func() { close(release); <-done }
}

func BenchmarkStatus(b *testing.B) {
	f, stop := benchEngine(b)
	defer stop()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			f.e.Status(Readiness)
		}
	})
}

func BenchmarkReadyzJSON(b *testing.B) {
	f, stop := benchEngine(b)
	defer stop()
	h := f.e.Handler()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		r := httptest.NewRequest("GET", "/readyz?exclude=c1", nil)
		for pb.Next() {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != 503 { // "stuck" has not run yet: not ready
				b.Fatal(w.Code)
			}
		}
	})
}
