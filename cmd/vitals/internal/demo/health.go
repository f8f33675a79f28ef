package demo

import (
	"log/slog"
	"time"

	"github.com/bizra/vitals"
	"github.com/bizra/vitals/cmd/vitals/internal/demoload"
	"github.com/bizra/vitals/health"
)

// newHealth wires the probes: readiness waits for startup, fails while the
// database cannot be reached or the pool is saturated (with hysteresis),
// and warns while the payment breaker is open; the performance score
// combines the SLOs, the runtime, the pool, the cache and the breaker.
func newHealth(m *vitals.Monitor, db *demoload.DBLoad, cache *demoload.CacheLoad, payments *demoload.BreakerLoad, log *slog.Logger) (*health.Engine, *health.Gate) {
	h := health.New(m, &health.Options{ServiceID: "vitals-demo", Description: "vitals demo shop", Logger: log})
	startup := new(health.Gate)
	pool := db.Monitor()
	checks := []health.Check{
		{Name: "startup", Gate: startup},
		{Name: "db-pool", ComponentType: "datastore", Interval: time.Second, Timeout: 500 * time.Millisecond,
			Func: health.PoolCheck(pool, &health.PoolCheckOptions{Name: "shop pool", FailWaiters: 2})},
		{Name: "breaker:payments", WarnOnly: true, Interval: time.Second,
			Func: health.BreakerCheck("payments", payments.Monitor().IsOpen)},
	}
	for _, c := range checks {
		if err := h.AddCheck(c); err != nil {
			panic(err) // static configuration: a programming error
		}
	}
	for name, s := range map[string]health.Scorer{"db": pool, "cache": cache.Monitor(), "breaker:payments": payments.Monitor()} {
		if err := h.AddScorer(name, s); err != nil {
			panic(err)
		}
	}
	return h, startup
}
