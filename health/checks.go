package health

import (
	"context"
	"math"
	"strconv"
	"time"

	"github.com/bizra/vitals"
	"github.com/bizra/vitals/score"
)

// CollectorCheck is the liveness check New registers as "collector": the
// Monitor's collector loop must have ticked within tolerance intervals
// (warn one interval earlier). It reads only in-process state, never a
// dependency. A Monitor that has not ticked yet is measured from the
// check's creation, so a Monitor that is never started fails.
func CollectorCheck(m *vitals.Monitor, clock vitals.Clock, tolerance int) CheckFunc {
	if clock == nil {
		clock = m.Clock()
	}
	tolerance = max(tolerance, 2)
	created := clock.Now()
	iv := m.Interval()
	return func(context.Context) Result {
		now := clock.Now()
		last := m.LastTick()
		if last.IsZero() {
			last = created
		}
		age := max(now.Sub(last), 0)
		r := Result{Status: score.Pass, ObservedValue: age.Seconds(), ObservedUnit: "seconds"}
		what := "collector last ticked " + age.Round(time.Millisecond).String() + " ago, interval " + iv.String()
		switch {
		case age > time.Duration(tolerance)*iv:
			r.Status = score.Fail
			r.Output = what + ", more than " + strconv.Itoa(tolerance) +
				" intervals: the collector loop is stopped or stuck (a snapshot consumer that blocks?)"
		case age > time.Duration(tolerance-1)*iv:
			r.Status = score.Warn
			r.Output = what + ": ticks are late"
		}
		return r
	}
}

// Pool is what PoolCheck needs of a connection pool; *dbpool.Pool (and so
// sqlmon's and pgxpoolmon's Monitor()) implements it.
type Pool interface {
	// Usage returns the share of connections in use (0..1; NaN when the
	// pool's maximum is unknown or unlimited) and the callers waiting
	// for one.
	Usage() (utilization float64, waiters int)
	// Ping obtains a connection and checks that the server answers.
	Ping(ctx context.Context) error
}

// PoolCheckOptions are PoolCheck's thresholds. The zero value (or nil)
// gives the defaults written on each field.
type PoolCheckOptions struct {
	// Name of the pool in outputs. "": "pool".
	Name string
	// WarnAt is the utilization from which the check warns, and it warns
	// whenever a caller waits. 0: 0.8.
	WarnAt float64
	// FailAt is the utilization from which the pool counts as saturated
	// when at least FailWaiters callers wait. 0: 0.95.
	FailAt float64
	// FailWaiters is the number of waiting callers that, with
	// utilization at FailAt or above, fails the check. 0: 1.
	FailWaiters int
}

// PoolCheck is a readiness check of a connection pool, for one line of
// wiring: Func: health.PoolCheck(pool.Monitor(), nil). It fails while the
// pool cannot hand out a working connection (the database is down, the
// port closed, the credentials refused: Ping fails), and while the pool
// is saturated: utilization at or above FailAt with callers queueing for
// a connection. A busy pool with nobody waiting is sized right and passes
// (or warns); hysteresis keeps a momentary queue from taking the instance
// out. A pool whose maximum is unknown is judged by Ping and its waiters.
func PoolCheck(p Pool, opts *PoolCheckOptions) CheckFunc {
	var o PoolCheckOptions
	if opts != nil {
		o = *opts
	}
	if o.Name == "" {
		o.Name = "pool"
	}
	if o.WarnAt <= 0 {
		o.WarnAt = 0.8
	}
	if o.FailAt <= 0 {
		o.FailAt = 0.95
	}
	if o.FailWaiters <= 0 {
		o.FailWaiters = 1
	}
	return func(ctx context.Context) Result {
		if err := p.Ping(ctx); err != nil {
			return Result{Status: score.Fail, Output: o.Name + " cannot hand out a working connection: " + err.Error()}
		}
		u, w := p.Usage()
		r := Result{Status: score.Pass, ObservedValue: u, ObservedUnit: "ratio"}
		waiting := strconv.Itoa(w) + " caller"
		if w != 1 {
			waiting += "s"
		}
		waiting += " waiting"
		if math.IsNaN(u) {
			if w > 0 {
				r.Status, r.Output = score.Warn, o.Name+" has "+waiting+" (its maximum size is unknown)"
			}
			return r
		}
		what := o.Name + " " + percent(u) + " in use with " + waiting
		switch {
		case u >= o.FailAt && w >= o.FailWaiters:
			r.Status = score.Fail
			r.Output = what + " (saturated from " + percent(o.FailAt) + " with " + strconv.Itoa(o.FailWaiters) +
				" waiting): raise the pool's maximum size, shorten transactions, or shed load"
		case u >= o.WarnAt || w > 0:
			r.Status = score.Warn
			r.Output = what + " (warn from " + percent(o.WarnAt) + " or any wait)"
		}
		return r
	}
}

func percent(x float64) string {
	return strconv.FormatFloat(math.Round(x*1000)/10, 'f', -1, 64) + "%"
}

// BreakerCheck is a readiness check that fails while a critical
// dependency's circuit breaker is open: every call to it is refused, so
// the instance cannot serve. isOpen fits breaker.Breaker.IsOpen:
// health.BreakerCheck("payments", b.IsOpen). Register it with WarnOnly for a dependency
// the service can do without, and give each dependency its own check
// ("breaker:payments") so that probes say which one.
func BreakerCheck(dependency string, isOpen func() bool) CheckFunc {
	return func(context.Context) Result {
		if isOpen() {
			return Result{Status: score.Fail, ObservedValue: 1, ObservedUnit: "open",
				Output: "circuit to " + dependency + " is open: calls to it are refused until it recovers"}
		}
		return Result{Status: score.Pass, ObservedValue: 0, ObservedUnit: "open"}
	}
}
