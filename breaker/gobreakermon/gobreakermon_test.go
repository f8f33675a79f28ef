package gobreakermon

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/sony/gobreaker/v2"
	"go.uber.org/goleak"

	"github.com/bizra/vitals"
	"github.com/bizra/vitals/breaker"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var errDown = errors.New("downstream down")

func value(t *testing.T, s *vitals.Snapshot, name string, labels ...string) float64 {
	t.Helper()
	p, ok := s.Lookup(name, labels...)
	if !ok {
		t.Fatalf("series %s%v missing", name, labels)
	}
	return p.Value
}

// TestCycle trips a real gobreaker with a short timeout, lets it
// half-open with no traffic (the per-tick touch) and closes it. gobreaker
// reads time.Now itself, so the test waits out its 40 ms timeout, bounded
// by a two-second deadline; the monitor's own time runs on a manual clock.
func TestCycle(t *testing.T) {
	clk := vitals.NewManualClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	m := vitals.New(&vitals.Options{Clock: clk})
	var mu sync.Mutex
	var events []breaker.Event
	var userCalls int
	var b *Breaker[int]
	b = New[int](m, gobreaker.Settings{
		Name:        "flaky",
		Timeout:     40 * time.Millisecond,
		MaxRequests: 1,
		ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= 3 },
		IsExcluded:  func(err error) bool { return errors.Is(err, context.Canceled) },
		OnStateChange: func(string, gobreaker.State, gobreaker.State) {
			userCalls++ // runs under gobreaker's lock: must not call b
		},
	}, &breaker.Options{OnEvent: func(e breaker.Event) {
		_ = b.State() // delivered outside gobreaker's lock: calling back is fine
		mu.Lock()
		events = append(events, e)
		mu.Unlock()
	}})
	mon := b.Monitor()
	call := func(err error) error {
		_, e := b.Execute(func() (int, error) { return 1, err })
		return e
	}
	call(nil)
	call(context.Canceled) // excluded
	clk.Advance(10 * time.Second)
	for range 3 {
		call(errDown)
	}
	if mon.State() != breaker.Open || b.State() != breaker.Open {
		t.Fatalf("after 3 failures: monitor %v, gobreaker %v", mon.State(), b.State())
	}
	if err := call(nil); !errors.Is(err, gobreaker.ErrOpenState) {
		t.Fatalf("open breaker let a call through: %v", err)
	}
	clk.Advance(2 * time.Second)
	s := m.Collect()
	if v := value(t, s, "vitals_breaker_state", "flaky", "open"); v != 1 {
		t.Fatalf("open gauge %v", v)
	}
	if v := value(t, s, "vitals_breaker_calls_total", "flaky", "rejected"); v != 1 {
		t.Fatalf("rejected %v", v)
	}

	// No traffic: the tick's touch moves the breaker to half-open once
	// gobreaker's timeout has passed.
	deadline := time.Now().Add(2 * time.Second)
	for mon.State() != breaker.HalfOpen {
		if time.Now().After(deadline) {
			t.Fatal("breaker never half-opened")
		}
		time.Sleep(5 * time.Millisecond)
		m.Collect()
	}
	clk.Advance(time.Second)
	if err := call(nil); err != nil { // the trial call closes it
		t.Fatal(err)
	}
	clk.Advance(time.Second)
	s = m.Collect()
	for _, tr := range [][2]string{{"closed", "open"}, {"open", "half_open"}, {"half_open", "closed"}} {
		if v := value(t, s, "vitals_breaker_transitions_total", "flaky", tr[0], tr[1]); v != 1 {
			t.Errorf("transitions %s->%s = %v, want 1", tr[0], tr[1], v)
		}
	}
	for o, want := range map[string]float64{"success": 2, "failure": 3, "excluded": 1, "rejected": 1} {
		if v := value(t, s, "vitals_breaker_calls_total", "flaky", o); v != want {
			t.Errorf("calls{%s} = %v, want %v", o, v, want)
		}
	}
	if v := value(t, s, "vitals_breaker_state_seconds_total", "flaky", "open"); v != 2 {
		t.Errorf("open seconds %v, want 2 (by the monitor's clock)", v)
	}
	if v := value(t, s, "vitals_breaker_state_seconds_total", "flaky", "half_open"); v != 1 {
		t.Errorf("half-open seconds %v, want 1", v)
	}
	mu.Lock()
	n := len(events)
	mu.Unlock()
	if n != 3 || userCalls != 3 {
		t.Fatalf("events %d, user OnStateChange calls %d, want 3 and 3", n, userCalls)
	}
}

func TestPanicCountsAsFailure(t *testing.T) {
	m := vitals.New(nil)
	b := New[string](m, gobreaker.Settings{Name: "p"}, nil)
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("panic swallowed")
			}
		}()
		b.Execute(func() (string, error) { panic("boom") })
	}()
	s := m.Collect()
	if v := value(t, s, "vitals_breaker_calls_total", "p", "failure"); v != 1 {
		t.Fatalf("failures %v", v)
	}
	if b.CircuitBreaker().Name() != "p" {
		t.Fatal("name")
	}
	if StateOf(gobreaker.State(42)) != breaker.Closed {
		t.Fatal("unknown gobreaker state")
	}
	defer func() {
		if recover() == nil {
			t.Fatal("no panic for an empty name")
		}
	}()
	New[int](m, gobreaker.Settings{}, nil)
}
