package health

import (
	"strconv"
	"time"

	"github.com/bizra/vitals/score"
)

// Hysteresis keeps a check from flapping: a passing check turns fail only
// after FailAfter consecutive failed results or after failing for
// FailFor, whichever comes first, and a failed one turns back only after
// RecoverAfter consecutive good results or after being good for
// RecoverFor. While a failure streak has not tripped yet the check shows
// warn (degraded), so the probe stays 200 and the streak is visible.
//
// Pass and warn follow the results at once: hysteresis guards only the
// edge that changes the HTTP status. The first result of a check is
// taken as it is.
//
// In each direction, the zero count and zero duration mean the default
// count; a duration alone (count 0) means the time rule alone.
type Hysteresis struct {
	// FailAfter is the number of consecutive failed results that turns
	// the check fail. Default 3.
	FailAfter int
	// FailFor turns the check fail once it has been failing this long
	// (from the first failed result of the streak). 0: no time rule.
	FailFor time.Duration
	// RecoverAfter is the number of consecutive pass or warn results
	// that turns a failed check back. Default 2.
	RecoverAfter int
	// RecoverFor turns a failed check back once it has been good this
	// long. 0: no time rule.
	RecoverFor time.Duration
}

// Default hysteresis counts.
const (
	DefaultFailAfter    = 3
	DefaultRecoverAfter = 2
)

// withDefaults fills the zero fields of h from def, then from the package
// defaults.
func (h Hysteresis) withDefaults(def Hysteresis) Hysteresis {
	if h == (Hysteresis{}) {
		h = def
	}
	if h.FailAfter <= 0 && h.FailFor <= 0 {
		h.FailAfter = DefaultFailAfter
	}
	if h.RecoverAfter <= 0 && h.RecoverFor <= 0 {
		h.RecoverAfter = DefaultRecoverAfter
	}
	return h
}

func tripped(n int, elapsed time.Duration, after int, within time.Duration) bool {
	return (after > 0 && n >= after) || (within > 0 && elapsed >= within)
}

// tracker applies a Hysteresis to a stream of raw results. It is not safe
// for concurrent use; the engine holds its lock.
type tracker struct {
	h        Hysteresis
	has      bool
	reported score.Status // Fail, or the last non-fail raw status
	streak   int          // consecutive results against reported's side
	since    time.Time    // first result of the streak
}

// observe feeds one raw status and returns the status to show and a note
// on the streak ("" when there is none).
func (t *tracker) observe(raw score.Status, now time.Time) (score.Status, string) {
	bad := raw == score.Fail
	switch {
	case !t.has:
		t.has, t.reported, t.streak = true, raw, 0
	case t.reported != score.Fail && !bad:
		t.reported, t.streak = raw, 0
	case t.reported != score.Fail && bad:
		t.advance(now)
		if tripped(t.streak, now.Sub(t.since), t.h.FailAfter, t.h.FailFor) {
			t.reported, t.streak = score.Fail, 0
		}
	case t.reported == score.Fail && bad:
		t.streak = 0
	default: // failed, and a good result
		t.advance(now)
		if tripped(t.streak, now.Sub(t.since), t.h.RecoverAfter, t.h.RecoverFor) {
			t.reported, t.streak = raw, 0
		}
	}
	return t.shown()
}

func (t *tracker) advance(now time.Time) {
	if t.streak == 0 {
		t.since = now
	}
	t.streak++
}

// shown is the status and streak note for the current state.
func (t *tracker) shown() (score.Status, string) {
	if t.streak == 0 {
		return t.reported, ""
	}
	if t.reported == score.Fail {
		return score.Fail, "recovering: " + progress(t.streak, "passes", t.h.RecoverAfter, t.h.RecoverFor)
	}
	return score.Warn, "failing: " + progress(t.streak, "fails", t.h.FailAfter, t.h.FailFor)
}

// progress renders a streak: "1 result in a row; passes at 2 results".
func progress(n int, verb string, after int, within time.Duration) string {
	s := strconv.Itoa(n) + " result"
	if n != 1 {
		s += "s"
	}
	s += " in a row; " + verb
	if after > 0 {
		s += " at " + strconv.Itoa(after) + " results"
		if within > 0 {
			s += " or"
		}
	}
	if within > 0 {
		s += " after " + within.String()
	}
	return s
}
