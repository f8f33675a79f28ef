package demo

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"

	"github.com/sony/gobreaker/v2"

	"github.com/bizra/vitals"
	"github.com/bizra/vitals/cmd/vitals/internal/demoload"
	"github.com/bizra/vitals/vitalshttp"
)

// shop is the example service: a small online shop whose handlers take
// time the way real ones do (log-normal bodies, a heavy tail on checkout,
// a bimodal search that sometimes misses its cache) and sometimes fail.
type shop struct {
	payment  *vitals.Operation     // the payment call, tracked by hand
	payments *demoload.BreakerLoad // the payment provider, behind the "payments" breaker
}

// sleep stands in for work. It ends early when the client goes away or the
// server shuts down, as real work with a context would.
func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

func newShop(m *vitals.Monitor, mux *http.ServeMux, payments *demoload.BreakerLoad) *shop {
	s := &shop{payment: m.Operation("payment.authorize"), payments: payments}
	route := func(pattern string, h http.HandlerFunc) {
		mux.Handle(pattern, vitalshttp.Route(m, pattern, h))
	}
	route("GET /shop/products", s.products)
	route("GET /shop/products/{id}", s.product)
	route("POST /shop/cart", s.cart)
	route("POST /shop/checkout", s.checkout)
	route("GET /shop/search", s.search)
	return s
}

// logNormal returns a duration whose median is median and whose log has
// standard deviation sigma.
func logNormal(median time.Duration, sigma float64) time.Duration {
	return time.Duration(float64(median) * math.Exp(rand.NormFloat64()*sigma))
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func (s *shop) products(w http.ResponseWriter, r *http.Request) {
	sleep(r.Context(), logNormal(4*time.Millisecond, 0.5))
	if rand.Float64() < 0.002 {
		http.Error(w, "catalogue unavailable", http.StatusServiceUnavailable)
		return
	}
	writeJSON(w, []string{"kettle", "teapot", "mug"})
}

func (s *shop) product(w http.ResponseWriter, r *http.Request) {
	sleep(r.Context(), logNormal(2*time.Millisecond, 0.4))
	id, err := strconv.Atoi(r.PathValue("id"))
	if err != nil || id%20 == 0 { // one in twenty products is gone: a 404, not an error
		http.NotFound(w, r)
		return
	}
	writeJSON(w, map[string]any{"id": id, "name": "teapot"})
}

func (s *shop) cart(w http.ResponseWriter, r *http.Request) {
	sleep(r.Context(), logNormal(10*time.Millisecond, 0.7))
	if rand.Float64() < 0.01 {
		http.Error(w, "cart store timeout", http.StatusGatewayTimeout)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *shop) checkout(w http.ResponseWriter, r *http.Request) {
	sleep(r.Context(), logNormal(5*time.Millisecond, 0.3))
	if err := s.authorize(r.Context()); err != nil {
		if errors.Is(err, gobreaker.ErrOpenState) || errors.Is(err, gobreaker.ErrTooManyRequests) {
			// The breaker fails fast while the provider is down.
			http.Error(w, "payment provider unavailable, try again shortly", http.StatusServiceUnavailable)
			return
		}
		http.Error(w, "payment failed", http.StatusBadGateway)
		return
	}
	writeJSON(w, map[string]string{"status": "paid"})
}

// authorize calls the (simulated) payment provider through the
// "payments" circuit breaker; the payment.authorize operation times every
// call, including those the open breaker refuses at once.
func (s *shop) authorize(ctx context.Context) (err error) {
	defer s.payment.Start().End(&err)
	return s.payments.Call(ctx)
}

func (s *shop) search(w http.ResponseWriter, r *http.Request) {
	if rand.Float64() < 0.8 {
		sleep(r.Context(), logNormal(8*time.Millisecond, 0.3)) // index cache hit
	} else {
		sleep(r.Context(), logNormal(150*time.Millisecond, 0.25)) // cold: full scan
	}
	writeJSON(w, []string{"teapot"})
}
