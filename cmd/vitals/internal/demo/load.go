package demo

import (
	"context"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// loadGen drives the shop over real HTTP on loopback, so the demo's
// numbers come from the same middleware a service would use.
type loadGen struct {
	base    string
	client  *http.Client
	workers int
	rate    float64 // requests per second, all workers together
}

type request struct {
	weight float64
	method string
	path   func() string
}

var mix = []request{
	{30, "GET", func() string { return "/shop/products" }},
	{30, "GET", func() string { return "/shop/products/" + strconv.Itoa(rand.IntN(500)) }},
	{15, "POST", func() string { return "/shop/cart" }},
	{10, "GET", func() string { return "/shop/search?q=tea" }},
	{5, "POST", func() string { return "/shop/checkout" }},
}

func pick() request {
	total := 0.0
	for _, r := range mix {
		total += r.weight
	}
	x := rand.Float64() * total
	for _, r := range mix {
		if x < r.weight {
			return r
		}
		x -= r.weight
	}
	return mix[0]
}

// run sends requests until ctx is done. Each worker paces itself so the
// total rate stays near g.rate whatever the latencies. It returns nil.
func (g *loadGen) run(ctx context.Context) error {
	var wg sync.WaitGroup
	interval := time.Duration(float64(time.Second) * float64(g.workers) / g.rate)
	for i := 0; i < g.workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t := time.NewTicker(interval)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
				}
				r := pick()
				req, err := http.NewRequestWithContext(ctx, r.method, g.base+r.path(), strings.NewReader(""))
				if err != nil {
					continue
				}
				resp, err := g.client.Do(req)
				if err != nil {
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}()
	}
	wg.Wait()
	return nil
}
