package health

import (
	"strings"
	"testing"
	"time"

	"github.com/bizra/vitals/score"
)

const (
	P = score.Pass
	W = score.Warn
	F = score.Fail
)

// step is one raw result at a time offset and the status expected after it.
type step struct {
	at   time.Duration
	raw  score.Status
	want score.Status
}

func TestTrackerTransitions(t *testing.T) {
	t.Parallel()
	s := time.Second
	cases := []struct {
		name  string
		h     Hysteresis
		steps []step
	}{
		{"first result taken as it is: fail", Hysteresis{}, []step{{0, F, F}}},
		{"first result taken as it is: warn", Hysteresis{}, []step{{0, W, W}, {s, P, P}}},
		{"default: fail after 3, shown warn meanwhile", Hysteresis{}, []step{
			{0, P, P}, {s, F, W}, {2 * s, F, W}, {3 * s, F, F}}},
		{"default: recover after 2", Hysteresis{}, []step{
			{0, F, F}, {s, P, F}, {2 * s, P, P}}},
		{"recovery to warn keeps the warn", Hysteresis{}, []step{
			{0, F, F}, {s, W, F}, {2 * s, W, W}, {3 * s, P, P}}},
		{"a good result resets the failure streak", Hysteresis{}, []step{
			{0, P, P}, {s, F, W}, {2 * s, F, W}, {3 * s, P, P}, {4 * s, F, W}, {5 * s, F, W}, {6 * s, F, F}}},
		{"warn interrupts a failure streak", Hysteresis{}, []step{
			{0, P, P}, {s, F, W}, {2 * s, F, W}, {3 * s, W, W}, {4 * s, F, W}}},
		{"a failure resets the recovery streak", Hysteresis{}, []step{
			{0, F, F}, {s, P, F}, {2 * s, F, F}, {3 * s, P, F}, {4 * s, P, P}}},
		{"pass and warn follow at once", Hysteresis{}, []step{
			{0, P, P}, {s, W, W}, {2 * s, P, P}, {3 * s, W, W}}},
		{"count 1: no hysteresis", Hysteresis{FailAfter: 1, RecoverAfter: 1}, []step{
			{0, P, P}, {s, F, F}, {2 * s, P, P}, {3 * s, F, F}}},
		{"time rule alone: fail after failing 10s", Hysteresis{FailFor: 10 * s}, []step{
			{0, P, P}, {s, F, W}, {2 * s, F, W}, {5 * s, F, W}, {10 * s, F, W}, {11 * s, F, F}}},
		{"time rule alone: recover after 5s good", Hysteresis{FailAfter: 1, RecoverFor: 5 * s}, []step{
			{0, P, P}, {s, F, F}, {2 * s, P, F}, {4 * s, P, F}, {7 * s, P, P}}},
		{"count or time, whichever first: time", Hysteresis{FailAfter: 10, FailFor: 3 * s}, []step{
			{0, P, P}, {s, F, W}, {2 * s, F, W}, {4 * s, F, F}}},
		{"count or time, whichever first: count", Hysteresis{FailAfter: 2, FailFor: time.Hour}, []step{
			{0, P, P}, {s, F, W}, {2 * s, F, F}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			tr := tracker{h: c.h.withDefaults(Hysteresis{})}
			for i, st := range c.steps {
				got, note := tr.observe(st.raw, t0.Add(st.at))
				if got != st.want {
					t.Fatalf("step %d (%v at %v): got %v (%q), want %v", i, st.raw, st.at, got, note, st.want)
				}
			}
		})
	}
}

func TestTrackerNotes(t *testing.T) {
	t.Parallel()
	tr := tracker{h: Hysteresis{}.withDefaults(Hysteresis{})}
	tr.observe(P, t0)
	if _, n := tr.observe(F, t0.Add(time.Second)); n != "failing: 1 result in a row; fails at 3 results" {
		t.Fatalf("note %q", n)
	}
	tr = tracker{h: Hysteresis{RecoverAfter: 2, RecoverFor: time.Minute, FailFor: time.Second}.withDefaults(Hysteresis{})}
	tr.observe(F, t0)
	if _, n := tr.observe(P, t0.Add(time.Second)); n != "recovering: 1 result in a row; passes at 2 results or after 1m0s" {
		t.Fatalf("note %q", n)
	}
}

func TestHysteresisDefaults(t *testing.T) {
	t.Parallel()
	h := Hysteresis{}.withDefaults(Hysteresis{})
	if h.FailAfter != DefaultFailAfter || h.RecoverAfter != DefaultRecoverAfter || h.FailFor != 0 {
		t.Fatalf("defaults %+v", h)
	}
	// A check's zero Hysteresis takes the engine's; a duration alone
	// keeps the count off.
	h = Hysteresis{}.withDefaults(Hysteresis{FailFor: time.Minute})
	if h.FailAfter != 0 || h.FailFor != time.Minute || h.RecoverAfter != DefaultRecoverAfter {
		t.Fatalf("inherited %+v", h)
	}
}

// TestReadinessHysteresisUnderClock drives a readiness check down and
// back up through the engine on a ManualClock: the probe, the per-check
// status, the transition counters and the events all agree.
func TestReadinessHysteresisUnderClock(t *testing.T) {
	t.Parallel()
	f := newFixture(t, &Options{Interval: time.Second, Hysteresis: Hysteresis{FailAfter: 3, RecoverFor: 3 * time.Second}})
	sw := &switchable{}
	sw.set(P, "")
	if err := f.e.AddCheck(Check{Name: "pool", Func: sw.check, MaxAge: time.Minute}); err != nil {
		t.Fatal(err)
	}
	sub := f.e.Subscribe(16)
	defer sub.Close()

	f.step(0)
	if got := ready(t, f.e); got != P {
		t.Fatalf("ready %v after a pass", got)
	}
	sw.set(F, "saturated")
	want := []score.Status{W, W, F, F}
	for i, w := range want {
		f.step(time.Second)
		if got := ready(t, f.e); got != w {
			t.Fatalf("failure %d: ready %v, want %v", i+1, got, w)
		}
	}
	cs, _ := f.e.Check("pool")
	if cs.Output != "saturated" {
		t.Fatalf("output once failed: %q", cs.Output)
	}
	sw.set(P, "")
	// Recovery needs 3 s of good results: at +1 s and +2 s still failed.
	for i, w := range []score.Status{F, F, F, P} {
		f.step(time.Second)
		if got := ready(t, f.e); got != w {
			t.Fatalf("recovery step %d: ready %v, want %v", i+1, got, w)
		}
		if i == 0 {
			cs, _ := f.e.Check("pool")
			if !strings.HasPrefix(cs.Output, "recovering: 1 result in a row; passes after 3s") {
				t.Fatalf("recovering output %q", cs.Output)
			}
		}
	}
	var got []string
	for len(sub.C()) > 0 {
		ev := <-sub.C()
		got = append(got, ev.Source.String()+":"+ev.Name+":"+ev.From.String()+">"+ev.To.String())
	}
	wantEv := []string{
		"check:pool:fail>pass", "probe:ready:fail>pass", // first result: not run yet -> pass
		"check:pool:pass>warn", "probe:ready:pass>warn",
		"check:pool:warn>fail", "probe:ready:warn>fail",
		"check:pool:fail>pass", "probe:ready:fail>pass",
	}
	if strings.Join(got, " ") != strings.Join(wantEv, " ") {
		t.Fatalf("events\n got %v\nwant %v", got, wantEv)
	}
	s := f.m.Collect()
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"vitals_health_check_transitions_total", []string{"pool", "pass", "warn"}, 1},
		{"vitals_health_check_transitions_total", []string{"pool", "warn", "fail"}, 1},
		{"vitals_health_check_transitions_total", []string{"pool", "fail", "pass"}, 2}, // first result, recovery
		{"vitals_health_check_transitions_total", []string{"pool", "pass", "fail"}, 0},
		{"vitals_health_check_status", []string{"pool", "pass"}, 1},
		{"vitals_health_check_status", []string{"pool", "fail"}, 0},
		{"vitals_health_probe_transitions_total", []string{"ready", "warn", "fail"}, 1},
		{"vitals_health_probe_status", []string{"ready", "pass"}, 1},
		{"vitals_health_check_results_total", []string{"pool", "fail"}, 4},
		{"vitals_health_check_results_total", []string{"pool", "pass"}, 5},
		{"vitals_health_check_results_total", []string{"pool", "timeout"}, 0},
	} {
		p, ok := s.Lookup(c.name, c.labels...)
		if !ok || p.Value != c.want {
			t.Errorf("%s%v found %v, want %v", c.name, c.labels, ok, c.want)
			if ok {
				t.Errorf("  value %v", p.Value)
			}
		}
	}
}
