package monitorsapi_test

import (
	"fmt"
	"io"
	"net/http/httptest"
	"time"

	"github.com/bizra/vitals"
	"github.com/bizra/vitals/breaker"
	"github.com/bizra/vitals/monitorsapi"
)

func Example() {
	clk := vitals.NewManualClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	m := vitals.New(&vitals.Options{Clock: clk})
	b := breaker.New(m, "payments", nil)
	api := monitorsapi.New(m)
	api.AddBreaker(b)

	b.Transition(breaker.Closed, breaker.Open)
	clk.Advance(1500 * time.Millisecond)
	m.Collect()

	rec := httptest.NewRecorder()
	api.CircuitBreaker().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics/circuit-breaker?name=nope", nil))
	body, _ := io.ReadAll(rec.Body)
	fmt.Print(rec.Code, " ", string(body))

	rec = httptest.NewRecorder()
	api.CircuitBreaker().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics/circuit-breaker?name=payments", nil))
	fmt.Println(rec.Code, rec.Header().Get("Content-Type"), rec.Body.Len() > 0)
	// Output:
	// 404 {"error":"no monitor named \"nope\""}
	// 200 application/json; charset=utf-8 true
}
