package health

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bizra/vitals/score"
)

// Kind says which probe a check belongs to.
type Kind uint8

const (
	// Readiness checks decide whether the instance should receive
	// traffic (/health/ready, /readyz). The zero Kind: most checks a
	// service adds are readiness checks.
	Readiness Kind = iota
	// Liveness checks decide whether the process should be restarted
	// (/health/live, /livez). They must never depend on anything outside
	// the process: a database outage restarting every pod makes it worse.
	Liveness
	numKinds
)

// String returns "ready" or "live", the value of the probe label.
func (k Kind) String() string {
	if k == Liveness {
		return "live"
	}
	return "ready"
}

// Result is what one run of a check found.
type Result struct {
	// Status is pass, warn (degraded: still serving) or fail.
	Status score.Status
	// Output says what is wrong, in plain words; it is shown on the
	// endpoints and in events. Leave it empty on pass. Credentials found
	// in it (URL passwords, password=..., bearer tokens) are masked.
	Output string
	// ObservedValue and ObservedUnit are the measurement behind the
	// status (0.97, "ratio"). The value is shown only when the unit is
	// set and the value is finite.
	ObservedValue float64
	ObservedUnit  string
}

// Pass, Warnf and Failf build Results.
func Pass() Result { return Result{Status: score.Pass} }

// Warnf returns a warn Result with a formatted output.
func Warnf(format string, args ...any) Result {
	return Result{Status: score.Warn, Output: fmt.Sprintf(format, args...)}
}

// Failf returns a fail Result with a formatted output.
func Failf(format string, args ...any) Result {
	return Result{Status: score.Fail, Output: fmt.Sprintf(format, args...)}
}

// CheckFunc runs one check. It must return when ctx is done (the engine
// gives it Check.Timeout); the engine runs it on its own goroutine, so a
// slow check delays only its own result, never a probe.
type CheckFunc func(ctx context.Context) Result

// ErrorCheck adapts a func that returns an error: nil passes, an error
// fails with the error's text as output (credentials masked).
func ErrorCheck(fn func(ctx context.Context) error) CheckFunc {
	return func(ctx context.Context) Result {
		if err := fn(ctx); err != nil {
			return Result{Status: score.Fail, Output: err.Error()}
		}
		return Pass()
	}
}

// Check describes one health check for Engine.AddCheck. Exactly one of
// Func and Gate is set.
type Check struct {
	// Name identifies the check in JSON, in its own path (/readyz/<name>),
	// in ?exclude= and in the check label of the metrics: 1 to 63 ASCII
	// letters, digits, '_', '-', '.' or ':', starting with a letter or
	// digit. Names are unique across both kinds.
	Name string
	// Kind is Readiness (the zero value) or Liveness.
	Kind Kind
	// ComponentType and ComponentID fill the health+json fields of the
	// same name ("datastore", "component", "system"; an instance id).
	// Optional.
	ComponentType string
	ComponentID   string

	// Func is run every Interval on the engine's goroutines; probes read
	// its last result.
	Func CheckFunc
	// Gate is a switch the application flips (startup finished, say).
	// It is read at probe time and takes effect at once: no schedule, no
	// timeout, no hysteresis.
	Gate *Gate

	// Interval between runs. 0: Options.Interval (5 s).
	Interval time.Duration
	// Timeout of one run; a run past it is a failed result. 0:
	// Options.Timeout (2 s).
	Timeout time.Duration
	// MaxAge is how old the last result may be before probes treat the
	// check as failed (its runs are stuck, or the engine is stopped).
	// 0: 2*Interval + Timeout.
	MaxAge time.Duration
	// Hysteresis keeps the check from flapping. The zero value takes
	// Options.Hysteresis.
	Hysteresis Hysteresis
	// WarnOnly turns the check's failures into warn for the probe: the
	// probe stays 200 and reports the dependency as degraded. Use it for
	// dependencies the service can serve without, so that their outage
	// does not pull every instance out of the load balancer at once.
	WarnOnly bool
}

// ErrInvalidCheck is wrapped by the errors AddCheck returns for a check
// that cannot be added.
var ErrInvalidCheck = errors.New("health: invalid check")

// validName reports whether s can name a check (see Check.Name).
func validName(s string) bool {
	if len(s) == 0 || len(s) > 63 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		alnum := (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
		if !alnum && (i == 0 || (c != '_' && c != '-' && c != '.' && c != ':')) {
			return false
		}
	}
	return true
}

// Gate is a readiness (or liveness) switch the application flips: closed
// until startup has finished, say. Probes read it directly, so a flip
// shows at the next probe, and engines that registered it record the
// transition (metrics, events) at once.
//
// The zero value is a closed gate. Safe for concurrent use.
type Gate struct {
	state  atomic.Pointer[gateState]
	mu     sync.Mutex
	notify []func()
}

type gateState struct {
	open   bool
	reason string
}

// Open opens the gate: its check passes.
func (g *Gate) Open() { g.set(&gateState{open: true}) }

// Close closes the gate: its check fails with reason as output.
func (g *Gate) Close(reason string) { g.set(&gateState{reason: reason}) }

// IsOpen reports whether the gate is open.
func (g *Gate) IsOpen() bool {
	s := g.state.Load()
	return s != nil && s.open
}

func (g *Gate) result() Result {
	s := g.state.Load()
	switch {
	case s == nil:
		return Result{Status: score.Fail, Output: "not opened yet"}
	case s.open:
		return Pass()
	case s.reason == "":
		return Result{Status: score.Fail, Output: "closed"}
	}
	return Result{Status: score.Fail, Output: s.reason}
}

func (g *Gate) set(s *gateState) {
	g.state.Store(s)
	g.mu.Lock()
	fns := append([]func(){}, g.notify...)
	g.mu.Unlock()
	for _, fn := range fns { // outside the lock: fn takes the engine's
		fn()
	}
}

func (g *Gate) onChange(fn func()) {
	g.mu.Lock()
	g.notify = append(g.notify, fn)
	g.mu.Unlock()
}
