package health

import (
	"context"
	"errors"
	"math"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bizra/vitals/score"
)

func TestPoolCheck(t *testing.T) {
	t.Parallel()
	cases := []struct {
		util    float64
		waiters int
		want    score.Status
		out     string
	}{
		{0.5, 0, P, ""},
		{0.8, 0, W, "pool 80% in use with 0 callers waiting (warn from 80% or any wait)"},
		{0.5, 2, W, "pool 50% in use with 2 callers waiting (warn from 80% or any wait)"},
		{1, 0, W, ""}, // fully used, nobody waiting: sized right
		{0.95, 1, F, "pool 95% in use with 1 caller waiting (saturated from 95% with 1 waiting): raise the pool's maximum size, shorten transactions, or shed load"},
		{math.NaN(), 0, P, ""}, // maximum unknown: judged by Ping and waiters
		{math.NaN(), 3, W, "pool has 3 callers waiting (its maximum size is unknown)"},
	}
	for _, c := range cases {
		fn := PoolCheck(fakePool{util: c.util, waiters: c.waiters}, nil)
		r := fn(context.Background())
		if r.Status != c.want || (c.out != "" && r.Output != c.out) || r.ObservedUnit != "ratio" {
			t.Errorf("%v/%d: %+v", c.util, c.waiters, r)
		}
	}
	fn := PoolCheck(fakePool{util: 0.9, waiters: 5}, &PoolCheckOptions{Name: "pg", FailAt: 0.9, FailWaiters: 5})
	if r := fn(context.Background()); r.Status != F || !strings.HasPrefix(r.Output, "pg 90% in use with 5 callers") {
		t.Fatalf("custom thresholds: %+v", r)
	}
	// A pool that cannot hand out a connection fails, whatever its usage.
	fn = PoolCheck(fakePool{util: 0, err: errors.New("dial tcp 127.0.0.1:1: connect: connection refused")}, &PoolCheckOptions{Name: "pg"})
	if r := fn(context.Background()); r.Status != F || r.Output != "pg cannot hand out a working connection: dial tcp 127.0.0.1:1: connect: connection refused" {
		t.Fatalf("unreachable: %+v", r)
	}
}

// fakePool is a health.Pool with fixed answers.
type fakePool struct {
	util    float64
	waiters int
	err     error
}

func (p fakePool) Usage() (float64, int)      { return p.util, p.waiters }
func (p fakePool) Ping(context.Context) error { return p.err }

// funcPool is a health.Pool whose usage a test changes.
type funcPool func() (float64, int)

func (f funcPool) Usage() (float64, int)      { return f() }
func (f funcPool) Ping(context.Context) error { return nil }

func TestBreakerCheck(t *testing.T) {
	t.Parallel()
	var open atomic.Bool
	fn := BreakerCheck("payments", open.Load)
	if r := fn(context.Background()); r.Status != P {
		t.Fatalf("closed: %+v", r)
	}
	open.Store(true)
	if r := fn(context.Background()); r.Status != F || r.Output != "circuit to payments is open: calls to it are refused until it recovers" {
		t.Fatalf("open: %+v", r)
	}
}

// TestPoolSaturationEpisode is the demo scenario under a ManualClock:
// the pool saturates, readiness turns not-ready after the hysteresis,
// and comes back after the episode.
func TestPoolSaturationEpisode(t *testing.T) {
	t.Parallel()
	f := newFixture(t, &Options{Interval: time.Second})
	var util atomic.Uint64 // percent
	var waiters atomic.Int64
	must(f.e.AddCheck(Check{Name: "pool", ComponentType: "datastore",
		Func: PoolCheck(funcPool(func() (float64, int) { return float64(util.Load()) / 100, int(waiters.Load()) }), nil)}))
	util.Store(40)
	f.step(0)
	var seen []score.Status
	for i := range 12 {
		if i == 2 { // the episode starts
			util.Store(100)
			waiters.Store(8)
		}
		if i == 7 { // and ends
			util.Store(30)
			waiters.Store(0)
		}
		f.step(time.Second)
		seen = append(seen, ready(t, f.e))
	}
	want := []score.Status{P, P, W, W, F, F, F, F, P, P, P, P}
	for i := range want {
		if seen[i] != want[i] {
			t.Fatalf("readiness over the episode %v, want %v", seen, want)
		}
	}
}
