package health

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bizra/vitals"
	"github.com/bizra/vitals/score"
)

func TestPendingChecks(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	sw := &switchable{}
	must(f.e.AddCheck(Check{Name: "db", Func: sw.check}))
	must(f.e.AddCheck(Check{Name: "loop", Kind: Liveness, Func: sw.check}))
	// Not run yet: not ready until proven, alive until proven dead.
	if cs, _ := f.e.Check("db"); cs.Status != F || cs.Output != "not run yet" {
		t.Fatalf("pending readiness check %+v", cs)
	}
	if cs, _ := f.e.Check("loop"); cs.Status != P {
		t.Fatalf("pending liveness check %+v", cs)
	}
	if ready(t, f.e) != F || f.e.Status(Liveness).Status != P {
		t.Fatal("probes before the first run")
	}
	f.step(0)
	if ready(t, f.e) != P {
		t.Fatal("not ready after a passing run")
	}
}

func TestAddCheckErrors(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	fn := func(context.Context) Result { return Pass() }
	for _, c := range []Check{
		{Name: "", Func: fn},
		{Name: "-x", Func: fn},
		{Name: "a b", Func: fn},
		{Name: strings.Repeat("x", 64), Func: fn},
		{Name: "both", Func: fn, Gate: new(Gate)},
		{Name: "neither"},
		{Name: "kind", Func: fn, Kind: 7},
		{Name: "collector", Func: fn}, // built-in
	} {
		if err := f.e.AddCheck(c); !errors.Is(err, ErrInvalidCheck) {
			t.Errorf("AddCheck(%q): %v", c.Name, err)
		}
	}
	for i := 0; ; i++ {
		err := f.e.AddCheck(Check{Name: "c" + string(rune('a'+i/26)) + string(rune('a'+i%26)), Func: fn})
		if err != nil {
			if !errors.Is(err, ErrInvalidCheck) || len(f.e.Checks(Readiness))+len(f.e.Checks(Liveness)) != maxChecks {
				t.Fatalf("cap: %v", err)
			}
			break
		}
	}
	if err := f.e.AddScorer("overall", ScorerFunc(func() score.Score { return score.Score{} })); !errors.Is(err, ErrInvalidCheck) {
		t.Fatalf("reserved component name: %v", err)
	}
}

func TestTimeouts(t *testing.T) {
	t.Parallel()
	f := newFixture(t, &Options{Timeout: 20 * time.Millisecond, Hysteresis: Hysteresis{FailAfter: 1}})
	// Honours its context: returns its own error at the deadline.
	must(f.e.AddCheck(Check{Name: "polite", Func: ErrorCheck(func(ctx context.Context) error {
		<-ctx.Done()
		return ctx.Err()
	})}))
	// Ignores its context: held until the test releases it.
	release := make(chan struct{})
	must(f.e.AddCheck(Check{Name: "rude", Func: func(context.Context) Result {
		<-release
		return Pass()
	}}))
	defer close(release) // before Stop (cleanup), which waits for it

	start := time.Now()
	f.e.RunChecks(context.Background())
	if el := time.Since(start); el > 2*time.Second {
		t.Fatalf("RunChecks waited %v for a check that ignores its context", el)
	}
	polite, _ := f.e.Check("polite")
	rude, _ := f.e.Check("rude")
	if polite.Status != F || rude.Status != F || rude.Output != "timed out after 20ms" {
		t.Fatalf("polite %+v\nrude %+v", polite, rude)
	}
	// The rude check is still running past its timeout: the next run is
	// not started twice, it fails again and says why.
	f.e.RunChecks(context.Background())
	rude, _ = f.e.Check("rude")
	if rude.Status != F || !strings.Contains(rude.Output, "previous run still going") {
		t.Fatalf("second run of a stuck check: %+v", rude)
	}
	s := f.m.Collect()
	for name, want := range map[string]float64{"polite": 2, "rude": 2} {
		if p, _ := s.Lookup("vitals_health_check_results_total", name, "timeout"); p == nil || p.Value != want {
			t.Errorf("%s timeouts: %v", name, p)
		}
	}
}

func TestSlowCheckNeverBlocksProbe(t *testing.T) {
	t.Parallel()
	f := newFixture(t, &Options{Timeout: time.Minute})
	entered, release := make(chan struct{}), make(chan struct{})
	must(f.e.AddCheck(Check{Name: "slow", Func: func(ctx context.Context) Result {
		close(entered)
		select {
		case <-release:
		case <-ctx.Done():
		}
		return Pass()
	}}))
	done := make(chan struct{})
	go func() { defer close(done); f.e.RunChecks(context.Background()) }()
	<-entered
	// The check is running and will not finish: probes answer anyway.
	if ready(t, f.e) != F { // not run yet
		t.Fatal("readiness while the first run is going")
	}
	close(release)
	<-done
	if ready(t, f.e) != P {
		t.Fatal("readiness after the run")
	}
}

func TestPanickingCheck(t *testing.T) {
	t.Parallel()
	var logs logBuffer
	f := newFixture(t, &Options{Logger: slog.New(slog.NewTextHandler(&logs, nil)), Hysteresis: Hysteresis{FailAfter: 1}})
	must(f.e.AddCheck(Check{Name: "boom", Func: func(context.Context) Result {
		panic(errors.New("dial postgres://app:s3cret@db:5432/x failed, password=hunter2"))
	}}))
	f.step(0)
	f.step(time.Second)
	cs, _ := f.e.Check("boom")
	if cs.Status != F || !strings.HasPrefix(cs.Output, "check panicked: dial postgres://app:xxxxx@db") {
		t.Fatalf("panicking check %+v", cs)
	}
	out := logs.String()
	if strings.Contains(out, "s3cret") || strings.Contains(out, "hunter2") || strings.Contains(cs.Output, "hunter2") {
		t.Fatalf("a credential leaked:\n%s\n%s", out, cs.Output)
	}
	if n := strings.Count(out, "check panicked"); n != 1 {
		t.Fatalf("logged %d times, want once per streak:\n%s", n, out)
	}
	if p, _ := f.m.Collect().Lookup("vitals_health_check_results_total", "boom", "panic"); p == nil || p.Value != 2 {
		t.Fatalf("panics counted: %v", p)
	}
}

func TestStaleResultFails(t *testing.T) {
	t.Parallel()
	f := newFixture(t, &Options{Interval: time.Second, Timeout: time.Second})
	sw := &switchable{}
	must(f.e.AddCheck(Check{Name: "db", Func: sw.check})) // MaxAge 2*1s+1s
	f.step(0)
	f.clk.Advance(3 * time.Second)
	if ready(t, f.e) != P {
		t.Fatal("a result exactly MaxAge old is fresh")
	}
	f.clk.Advance(time.Millisecond)
	cs, _ := f.e.Check("db")
	if cs.Status != F || !strings.HasPrefix(cs.Output, "no result for 3.001s (max age 3s)") {
		t.Fatalf("stale %+v", cs)
	}
	f.step(0)
	if ready(t, f.e) != P {
		t.Fatal("a fresh result ends staleness at once")
	}
}

func TestGateTakesEffectAtOnce(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	startup := new(Gate)
	must(f.e.AddCheck(Check{Name: "startup", Gate: startup}))
	sub := f.e.Subscribe(8)
	defer sub.Close()
	if cs, _ := f.e.Check("startup"); cs.Status != F || cs.Output != "not opened yet" || startup.IsOpen() {
		t.Fatalf("zero gate %+v", cs)
	}
	startup.Open()
	if ev := <-sub.C(); ev.Name != "startup" || ev.To != P {
		t.Fatalf("event %+v", ev)
	}
	if ev := <-sub.C(); ev.Source != SourceProbe || ev.Name != "ready" || ev.To != P {
		t.Fatalf("event %+v", ev)
	}
	startup.Close("reloading configuration")
	if cs, _ := f.e.Check("startup"); cs.Status != F || cs.Output != "reloading configuration" {
		t.Fatalf("closed gate %+v", cs)
	}
}

func TestWarnOnlyCheck(t *testing.T) {
	t.Parallel()
	f := newFixture(t, &Options{Hysteresis: Hysteresis{FailAfter: 1}})
	sw := &switchable{}
	sw.set(F, "cache unreachable")
	must(f.e.AddCheck(Check{Name: "cache", Func: sw.check, WarnOnly: true}))
	f.step(0)
	ps := f.e.Status(Readiness)
	if ps.Status != W || ps.Checks[1].Name != "cache" || ps.Checks[1].Status != W {
		t.Fatalf("warn-only failure %+v", ps)
	}
}

func TestDrainFailsReadinessOnly(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	f.step(0)
	if ready(t, f.e) != P || f.e.Draining() {
		t.Fatal("ready before draining")
	}
	f.e.Drain()
	f.e.Drain() // idempotent
	if !f.e.Draining() || ready(t, f.e) != F || f.e.Status(Liveness).Status != P {
		t.Fatal("drain must fail readiness and leave liveness alone")
	}
	cs, _ := f.e.Check("shutdown")
	if cs.Output != "draining: the instance is shutting down" {
		t.Fatalf("shutdown check %+v", cs)
	}
	if p, _ := f.m.Collect().Lookup("vitals_health_draining"); p == nil || p.Value != 1 {
		t.Fatal("draining gauge")
	}
}

func TestCollectorCheck(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil) // monitor interval 1 s, tolerance 3
	f.m.Collect()
	fn := CollectorCheck(f.m, f.clk, 3)
	for _, c := range []struct {
		adv  time.Duration
		want score.Status
	}{{0, P}, {2 * time.Second, P}, {time.Millisecond, W}, {time.Second, F}} {
		f.clk.Advance(c.adv)
		if r := fn(context.Background()); r.Status != c.want || r.ObservedUnit != "seconds" {
			t.Fatalf("after %v more: %+v, want %v", c.adv, r, c.want)
		}
	}
	// A Monitor that never ticks is measured from the check's creation.
	m := vitals.New(&vitals.Options{Clock: f.clk, Logger: quiet()})
	fn = CollectorCheck(m, nil, 0)
	f.clk.Advance(3 * time.Second)
	if r := fn(context.Background()); r.Status != F || !strings.Contains(r.Output, "stopped or stuck") {
		t.Fatalf("never started: %+v", r)
	}
}

func TestEventsDropOldest(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	g := new(Gate)
	must(f.e.AddCheck(Check{Name: "g", Gate: g, Kind: Liveness}))
	sub := f.e.Subscribe(1)
	g.Open()               // check fail>pass, probe live fail>pass
	g.Close("maintenance") // and back
	if n := sub.Dropped(); n != 3 {
		t.Fatalf("dropped %d, want 3", n)
	}
	ev := <-sub.C()
	if ev.Source != SourceProbe || ev.To != F || !strings.Contains(ev.Output, "g fail") {
		t.Fatalf("kept %+v, want the newest", ev)
	}
	if p, _ := f.m.Collect().Lookup("vitals_health_events_dropped_total"); p == nil || p.Value != 3 {
		t.Fatalf("drop counter %v", p)
	}
	sub.Close()
	sub.Close()
	if _, ok := <-sub.C(); ok {
		t.Fatal("channel open after Close")
	}
	other := f.e.Subscribe(0)
	f.e.Stop()
	if _, ok := <-other.C(); ok {
		t.Fatal("Stop must close subscriptions")
	}
	if _, ok := <-f.e.Subscribe(0).C(); ok {
		t.Fatal("Subscribe after Stop must return a closed subscription")
	}
}

// TestScheduleRuns starts the real loop with short intervals and waits
// for its results through events, never sleeping.
func TestScheduleRuns(t *testing.T) {
	t.Parallel()
	m := vitals.New(&vitals.Options{Logger: quiet(), Interval: 10 * time.Millisecond})
	e := New(m, &Options{Logger: quiet(), Interval: 5 * time.Millisecond, ScoreInterval: 5 * time.Millisecond,
		Hysteresis: Hysteresis{FailAfter: 2}})
	e.Stop() // before Start: safe
	e = New(vitals.New(&vitals.Options{Logger: quiet(), Interval: 10 * time.Millisecond}), &Options{
		Logger: quiet(), Interval: 5 * time.Millisecond, ScoreInterval: 5 * time.Millisecond, Hysteresis: Hysteresis{FailAfter: 2}})
	sub := e.Subscribe(256)
	var mu sync.Mutex
	runs := 0
	must(e.AddCheck(Check{Name: "flaky", Func: func(context.Context) Result {
		mu.Lock()
		defer mu.Unlock()
		runs++
		if runs >= 3 {
			return Failf("down")
		}
		return Pass()
	}}))
	e.Start()
	e.Start()
	for ev := range sub.C() {
		if ev.Source == SourceCheck && ev.Name == "flaky" && ev.To == F {
			break
		}
	}
	if r := e.Performance(); len(r.Components) != 2 || r.Components[0].Component != "slo" {
		t.Fatalf("performance %+v", r)
	}
	e.Stop()
	e.Stop()
	e.RunChecks(context.Background()) // after Stop: nothing runs, nothing leaks
}

func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	f := newFixture(t, &Options{Timeout: time.Second})
	g := new(Gate)
	must(f.e.AddCheck(Check{Name: "gate", Gate: g}))
	sw := &switchable{}
	must(f.e.AddCheck(Check{Name: "sw", Func: sw.check}))
	sub := f.e.Subscribe(4)
	h := f.e.Handler()
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			for j := range 50 {
				switch (i + j) % 6 {
				case 0:
					f.e.RunChecks(context.Background())
				case 1:
					f.e.Status(Readiness, "gate")
				case 2:
					if j%2 == 0 {
						g.Open()
					} else {
						g.Close("x")
					}
				case 3:
					sw.set(score.Status(j%3), "y")
				case 4:
					serve(h, "GET", "/readyz?verbose", nil)
				case 5:
					f.e.Performance()
				}
			}
		})
	}
	wg.Go(func() {
		for i := range 20 {
			_ = f.e.AddCheck(Check{Name: "late" + string(rune('a'+i)), Func: sw.check})
		}
	})
	wg.Wait()
	sub.Close()
}
