package gobreakermon

import (
	"time"

	"github.com/sony/gobreaker/v2"

	"github.com/bizra/vitals"
	"github.com/bizra/vitals/breaker"
	"github.com/bizra/vitals/metric"
)

// Breaker is a sony/gobreaker v2 CircuitBreaker with a monitor: its state
// changes, every call's outcome and latency, and its rejections are
// recorded into a breaker.Breaker of the same name.
type Breaker[T any] struct {
	cb           *gobreaker.CircuitBreaker[T]
	mon          *breaker.Breaker
	isSuccessful func(error) bool
	isExcluded   func(error) bool
}

// New builds the gobreaker CircuitBreaker from st and its monitor from
// opts (nil: breaker's defaults), registering the monitor's series in m's
// registry. st.Name is the breaker label and must not be empty.
//
// st.OnStateChange is chained: gobreaker calls it while holding its own
// lock, so the monitor's part only records the transition under its own
// short lock and never calls back into the breaker; events are delivered
// on the next collector tick. The user's OnStateChange, if any, runs after
// it, under gobreaker's lock as before.
//
// gobreaker moves from open to half-open only when touched; the returned
// Breaker is also a consumer of m's snapshots and touches the breaker
// (State) once per tick, outside any vitals lock, so that a breaker with
// no traffic still shows half-open when its timeout has passed.
func New[T any](m *vitals.Monitor, st gobreaker.Settings, opts *breaker.Options) *Breaker[T] {
	if st.Name == "" {
		panic("vitals/gobreakermon: gobreaker.Settings.Name is the breaker label and must not be empty")
	}
	b := &Breaker[T]{mon: breaker.New(m, st.Name, opts), isSuccessful: st.IsSuccessful, isExcluded: st.IsExcluded}
	if b.isSuccessful == nil {
		b.isSuccessful = func(err error) bool { return err == nil } // gobreaker's default
	}
	mon := b.mon
	user := st.OnStateChange
	st.OnStateChange = func(name string, from, to gobreaker.State) {
		mon.Transition(StateOf(from), StateOf(to))
		if user != nil {
			user(name, from, to)
		}
	}
	b.cb = gobreaker.NewCircuitBreaker[T](st)
	m.AddConsumer(b)
	return b
}

// StateOf maps a gobreaker state to the monitor's.
func StateOf(s gobreaker.State) breaker.State {
	switch s {
	case gobreaker.StateOpen:
		return breaker.Open
	case gobreaker.StateHalfOpen:
		return breaker.HalfOpen
	}
	return breaker.Closed
}

// Execute runs req through the breaker, as gobreaker's Execute does, and
// records the outcome: rejected when the breaker did not let req run,
// otherwise success, failure or excluded by the Settings' IsSuccessful and
// IsExcluded, with req's duration. A panic in req counts as a failure and
// is re-raised.
func (b *Breaker[T]) Execute(req func() (T, error)) (T, error) {
	ran := false
	var start int64
	recorded := false
	defer func() {
		if ran && !recorded { // req panicked
			b.mon.Record(breaker.Failure, time.Duration(metric.Nanotime()-start))
		}
	}()
	res, err := b.cb.Execute(func() (T, error) {
		ran = true
		start = metric.Nanotime()
		return req()
	})
	recorded = true
	if !ran {
		b.mon.Reject()
		return res, err
	}
	b.mon.Record(b.outcome(err), time.Duration(metric.Nanotime()-start))
	return res, err
}

func (b *Breaker[T]) outcome(err error) breaker.Outcome {
	switch {
	case b.isExcluded != nil && b.isExcluded(err):
		return breaker.Excluded
	case b.isSuccessful(err):
		return breaker.Success
	}
	return breaker.Failure
}

// CircuitBreaker returns the gobreaker breaker. Calls made on it directly
// still show as transitions, but not as calls.
func (b *Breaker[T]) CircuitBreaker() *gobreaker.CircuitBreaker[T] { return b.cb }

// Monitor returns the breaker's monitor: Stats, Score, TimeIn.
func (b *Breaker[T]) Monitor() *breaker.Breaker { return b.mon }

// State returns gobreaker's current state (which advances open to
// half-open when the timeout has passed).
func (b *Breaker[T]) State() breaker.State { return StateOf(b.cb.State()) }

// Consume touches the breaker once per collector tick so that lazy
// transitions happen on time; see New.
func (b *Breaker[T]) Consume(*vitals.Snapshot) { b.cb.State() }
