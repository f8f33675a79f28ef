package breaker

import (
	"math"
	"sync"
	"testing"
	"time"

	"github.com/bizra/vitals"
	"github.com/bizra/vitals/score"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

type rig struct {
	m      *vitals.Monitor
	clk    *vitals.ManualClock
	b      *Breaker
	mu     sync.Mutex
	events []Event
}

func newRig(t *testing.T, o *Options) *rig {
	t.Helper()
	r := &rig{clk: vitals.NewManualClock(t0)}
	r.m = vitals.New(&vitals.Options{Clock: r.clk})
	var opts Options
	if o != nil {
		opts = *o
	}
	user := opts.OnEvent
	opts.OnEvent = func(e Event) {
		r.mu.Lock()
		r.events = append(r.events, e)
		r.mu.Unlock()
		if user != nil {
			user(e)
		}
	}
	r.b = New(r.m, "payments", &opts)
	return r
}

func (r *rig) take() []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.events
	r.events = nil
	return e
}

func (r *rig) value(t *testing.T, s *vitals.Snapshot, name string, labels ...string) float64 {
	t.Helper()
	p, ok := s.Lookup(name, labels...)
	if !ok {
		t.Fatalf("series %s%v missing", name, labels)
	}
	if p.Hist != nil {
		return float64(p.Hist.Count)
	}
	return p.Value
}

func TestSeriesExistFromTheStart(t *testing.T) {
	r := newRig(t, nil)
	s := r.m.Collect()
	for _, st := range stateNames {
		want := 0.0
		if st == "closed" {
			want = 1
		}
		if v := r.value(t, s, "vitals_breaker_state", "payments", st); v != want {
			t.Errorf("state{%s} = %v, want %v", st, v, want)
		}
		r.value(t, s, "vitals_breaker_state_seconds_total", "payments", st)
		for _, to := range stateNames {
			if to != st {
				if v := r.value(t, s, "vitals_breaker_transitions_total", "payments", st, to); v != 0 {
					t.Errorf("transitions %s->%s = %v", st, to, v)
				}
			}
		}
	}
	for _, o := range outcomeNames {
		r.value(t, s, "vitals_breaker_calls_total", "payments", o)
	}
	for _, k := range alertNames {
		r.value(t, s, "vitals_breaker_alerts_total", "payments", k)
		r.value(t, s, "vitals_breaker_alert_threshold", "payments", k)
	}
	if v := r.value(t, s, "vitals_breaker_failure_rate", "payments"); !math.IsNaN(v) {
		t.Errorf("failure rate without calls = %v, want NaN (no silent zero)", v)
	}
	if v := r.value(t, s, "vitals_breaker_score", "payments"); v != 100 {
		t.Errorf("score %v", v)
	}
	r.value(t, s, "vitals_breaker_call_duration_seconds", "payments")
	r.value(t, s, "vitals_breaker_slow_call_threshold_seconds", "payments")
}

// TestTripHalfOpenClose drives a breaker through a whole cycle under a
// manual clock: the open period lasts 300 ms, less than any scrape
// interval, and still shows in the transitions and state_seconds counters.
func TestTripHalfOpenClose(t *testing.T) {
	r := newRig(t, &Options{MinCalls: 5, FailureRateThreshold: 0.5, SlowCall: 100 * time.Millisecond})
	b := r.b
	r.m.Collect()

	r.clk.Advance(10 * time.Second)
	for range 4 {
		b.Record(Success, 10*time.Millisecond)
	}
	for range 6 {
		b.Record(Failure, 200*time.Millisecond) // slow as well
	}
	b.Transition(Closed, Open)
	r.clk.Advance(300 * time.Millisecond)
	b.Record(Rejected, time.Hour) // duration ignored
	b.Reject()
	b.Transition(Open, HalfOpen)
	r.clk.Advance(200 * time.Millisecond)
	b.Record(Success, 20*time.Millisecond)
	b.Record(Excluded, 2*time.Second) // neither way, not slow
	b.Transition(HalfOpen, Closed)
	r.clk.Advance(500 * time.Millisecond)
	s := r.m.Collect()

	for _, c := range []struct {
		from, to string
		want     float64
	}{{"closed", "open", 1}, {"open", "half_open", 1}, {"half_open", "closed", 1}, {"half_open", "open", 0}, {"open", "closed", 0}} {
		if v := r.value(t, s, "vitals_breaker_transitions_total", "payments", c.from, c.to); v != c.want {
			t.Errorf("transitions %s->%s = %v, want %v", c.from, c.to, v, c.want)
		}
	}
	secs := map[string]float64{"closed": 10.5, "open": 0.3, "half_open": 0.2}
	for st, want := range secs {
		if v := r.value(t, s, "vitals_breaker_state_seconds_total", "payments", st); math.Abs(v-want) > 1e-9 {
			t.Errorf("state_seconds{%s} = %v, want %v", st, v, want)
		}
	}
	if v := r.value(t, s, "vitals_breaker_state", "payments", "closed"); v != 1 {
		t.Errorf("closed gauge %v", v)
	}
	if v := r.value(t, s, "vitals_breaker_state", "payments", "open"); v != 0 {
		t.Errorf("open gauge %v", v)
	}
	for o, want := range map[string]float64{"success": 5, "failure": 6, "rejected": 2, "excluded": 1} {
		if v := r.value(t, s, "vitals_breaker_calls_total", "payments", o); v != want {
			t.Errorf("calls{%s} = %v, want %v", o, v, want)
		}
	}
	if v := r.value(t, s, "vitals_breaker_slow_calls_total", "payments"); v != 6 {
		t.Errorf("slow calls %v, want 6", v)
	}
	if v := r.value(t, s, "vitals_breaker_call_duration_seconds", "payments"); v != 12 {
		t.Errorf("timed calls %v, want 12 (rejected calls did not run)", v)
	}

	st := b.Stats()
	if st.State != Closed || math.Abs(st.FailureRate-6.0/11) > 1e-9 || math.Abs(st.SlowCallRate-6.0/11) > 1e-9 {
		t.Fatalf("stats: state %v failure rate %v slow rate %v", st.State, st.FailureRate, st.SlowCallRate)
	}
	if st.Transitions[Closed][Open] != 1 || st.TimeIn[Open] != 300*time.Millisecond {
		t.Fatalf("stats transitions %v time in open %v", st.Transitions, st.TimeIn[Open])
	}

	ev := r.take()
	kinds := []EventKind{}
	for _, e := range ev {
		kinds = append(kinds, e.Kind)
	}
	want := []EventKind{EventTransition, EventTransition, EventTransition, EventFailureRateHigh, EventSlowCallRateHigh}
	if len(kinds) != len(want) {
		t.Fatalf("events %v, want %v", kinds, want)
	}
	for i := range want {
		if kinds[i] != want[i] {
			t.Fatalf("events %v, want %v", kinds, want)
		}
	}
	if ev[0].From != Closed || ev[0].To != Open || !ev[0].Time.Equal(t0.Add(10*time.Second)) {
		t.Fatalf("first transition event %+v", ev[0])
	}
	if v := r.value(t, r.m.Collect(), "vitals_breaker_alerts_total", "payments", "failure_rate"); v != 1 {
		t.Fatalf("failure_rate alerts %v", v)
	}
	if len(b.Stats().Recent) != 5 {
		t.Fatalf("recent events %d, want 5", len(b.Stats().Recent))
	}

	// A minute later the window is empty: the rates are back to normal.
	r.clk.Advance(2 * time.Minute)
	r.m.Collect()
	ev = r.take()
	if len(ev) != 2 || ev[0].Kind != EventFailureRateNormal || ev[1].Kind != EventSlowCallRateNormal {
		t.Fatalf("events after the window emptied: %+v", ev)
	}
	if sc := b.Score(); sc.Value != 100 || sc.Status != score.Pass {
		t.Fatalf("score %+v", sc)
	}
}

func TestOpenTooLongAndScore(t *testing.T) {
	r := newRig(t, &Options{OpenDurationThreshold: 30 * time.Second})
	b := r.b
	b.Transition(Closed, Open)
	r.clk.Advance(29 * time.Second)
	r.m.Collect()
	if ev := r.take(); len(ev) != 1 || ev[0].Kind != EventTransition {
		t.Fatalf("events %+v", ev)
	}
	sc := b.Score()
	if sc.Status != score.Fail || sc.Factors[factorState].Score != 0 || len(sc.Recommendations) != 1 {
		t.Fatalf("open breaker score %+v", sc)
	}
	r.clk.Advance(time.Second)
	r.m.Collect()
	r.clk.Advance(time.Second)
	r.m.Collect() // only once per open period
	ev := r.take()
	if len(ev) != 1 || ev[0].Kind != EventOpenTooLong || ev[0].Observed != 30 || ev[0].Threshold != 30 {
		t.Fatalf("events %+v", ev)
	}
	if !b.Stats().OpenTooLong {
		t.Fatal("OpenTooLong not set")
	}
	b.Transition(Open, HalfOpen)
	r.m.Collect()
	if sc := b.Score(); sc.Factors[factorState].Score != 50 {
		t.Fatalf("half-open state factor %v", sc.Factors[factorState])
	}
	b.Transition(HalfOpen, Open) // a new open period may alert again
	r.clk.Advance(31 * time.Second)
	r.m.Collect()
	if ev := r.take(); len(ev) != 3 || ev[2].Kind != EventOpenTooLong {
		t.Fatalf("events of the second open period %+v", ev)
	}
}

// TestOnEventMayCallBack shows events are delivered with no lock held: the
// handler reads the breaker and even records a transition.
func TestOnEventMayCallBack(t *testing.T) {
	var b *Breaker
	seen := 0
	r := newRig(t, &Options{OnEvent: func(e Event) {
		_ = b.State()
		_ = b.Stats()
		if e.Kind == EventTransition && e.To == Open {
			b.Transition(Open, HalfOpen) // delivered on the next tick
		}
		seen++
	}})
	b = r.b
	b.Transition(Closed, Open)
	r.m.Collect()
	r.m.Collect()
	if seen != 2 || b.State() != HalfOpen {
		t.Fatalf("seen %d state %v", seen, b.State())
	}
}

func TestPanickingHandlerIsCounted(t *testing.T) {
	r := newRig(t, &Options{OnEvent: func(Event) { panic("boom") }})
	r.b.Transition(Closed, Open)
	r.b.Transition(Open, HalfOpen)
	r.m.Collect()
	s := r.m.Collect()
	if v := r.value(t, s, "vitals_breaker_event_handler_panics_total", "payments"); v != 2 {
		t.Fatalf("panics %v, want 2 (each event delivered despite the other's panic)", v)
	}
}

func TestClockStepBackNeverLowersStateSeconds(t *testing.T) {
	r := newRig(t, nil)
	r.clk.Advance(10 * time.Second)
	if d := r.b.TimeIn(Closed); d != 10*time.Second {
		t.Fatalf("time in closed %v", d)
	}
	r.clk.Advance(-5 * time.Second)
	if d := r.b.TimeIn(Closed); d != 10*time.Second {
		t.Fatalf("time in closed after a step back %v, want 10s", d)
	}
	r.b.Transition(Closed, Open) // from the past: no negative period
	if d := r.b.TimeIn(Open); d != 0 {
		t.Fatalf("time in open %v", d)
	}
	if r.b.TimeIn(State(7)) != 0 {
		t.Fatal("unknown state has time")
	}
}

func TestFlappingFasterThanTicksIsBounded(t *testing.T) {
	r := newRig(t, nil)
	for i := range 600 {
		if i%2 == 0 {
			r.b.Transition(Closed, Open)
		} else {
			r.b.Transition(Open, Closed)
		}
	}
	s := r.m.Collect()
	if v := r.value(t, s, "vitals_breaker_transitions_total", "payments", "closed", "open"); v != 300 {
		t.Fatalf("transitions %v, want all 300 counted", v)
	}
	if v := r.value(t, r.m.Collect(), "vitals_breaker_events_dropped_total", "payments"); v != 600-maxPending {
		t.Fatalf("dropped %v", v)
	}
	if n := len(r.take()); n != maxPending {
		t.Fatalf("delivered %d", n)
	}
	r.b.Transition(Open, State(9)) // unknown: ignored
	r.b.Transition(Closed, Closed) // no change: nothing
	if r.b.State() != Closed {
		t.Fatal(r.b.State())
	}
}

func TestRecordNeverAllocates(t *testing.T) {
	r := newRig(t, nil)
	for range 100 {
		r.b.Record(Success, time.Millisecond)
	}
	if a := testing.AllocsPerRun(1000, func() {
		r.b.Record(Success, time.Millisecond)
		r.b.Record(Failure, 2*time.Second)
		r.b.Record(Outcome(42), time.Millisecond)
		r.b.Reject()
	}); a != 0 {
		t.Fatalf("Record allocates %v", a)
	}
}

func TestStrings(t *testing.T) {
	if HalfOpen.String() != "half_open" || State(9).String() != "unknown" || Excluded.String() != "excluded" ||
		Outcome(9).String() != "unknown" || EventOpenTooLong.String() != "open_too_long" || EventKind(99).String() != "unknown" {
		t.Fatal("strings")
	}
	if b, _ := Open.MarshalText(); string(b) != "open" {
		t.Fatal(string(b))
	}
	if b, _ := EventTransition.MarshalText(); string(b) != "transition" {
		t.Fatal(string(b))
	}
	defer func() {
		if recover() == nil {
			t.Fatal("no panic on empty name")
		}
	}()
	New(vitals.New(nil), "", nil)
}
