package health

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/bizra/vitals/score"
)

// Source says what an Event is about.
type Source uint8

// The sources of events.
const (
	// SourceCheck: one check's status changed.
	SourceCheck Source = iota
	// SourceProbe: the overall liveness or readiness changed.
	SourceProbe
	// SourceComponent: a component score's status changed (Name
	// "overall" for the combined score).
	SourceComponent
)

// String returns the source's name as events and logs show it.
func (s Source) String() string {
	switch s {
	case SourceProbe:
		return "probe"
	case SourceComponent:
		return "component"
	}
	return "check"
}

// MarshalText encodes a Source as its String.
func (s Source) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Event is one health status change.
type Event struct {
	Time   time.Time    `json:"time"`
	Source Source       `json:"source"`
	Name   string       `json:"name"` // check name, "live"/"ready", or component
	From   score.Status `json:"from"`
	To     score.Status `json:"to"`
	// Output is the check's output (credentials masked), or for a probe
	// the names of its failing checks.
	Output string `json:"output,omitempty"`
}

// DefaultEventBuffer is the queue length of Subscribe(0).
const DefaultEventBuffer = 64

// Subscription receives health events. The engine never waits for it: when
// its queue is full the oldest queued event is dropped to make room,
// counted in Dropped and in vitals_health_events_dropped_total. A reader
// that sees drops should re-read the current state (Engine.Status).
type Subscription struct {
	e       *Engine
	c       chan Event
	dropped atomic.Uint64
	closed  bool // guarded by e.subMu
}

// Subscribe returns a subscription to every later event, with a queue of
// buffer events (0: DefaultEventBuffer). Close it when done; Engine.Stop
// closes all.
func (e *Engine) Subscribe(buffer int) *Subscription {
	if buffer <= 0 {
		buffer = DefaultEventBuffer
	}
	s := &Subscription{e: e, c: make(chan Event, buffer)}
	e.subMu.Lock()
	defer e.subMu.Unlock()
	if e.subsClosed {
		s.closed = true
		close(s.c)
		return s
	}
	e.subs[s] = struct{}{}
	e.met.subscribers.Inc()
	return s
}

// C returns the channel events arrive on, in order. It is closed by Close
// or Engine.Stop.
func (s *Subscription) C() <-chan Event { return s.c }

// Dropped returns how many events this subscription missed.
func (s *Subscription) Dropped() uint64 { return s.dropped.Load() }

// Close ends the subscription and closes C. It is idempotent.
func (s *Subscription) Close() {
	s.e.subMu.Lock()
	defer s.e.subMu.Unlock()
	s.closeLocked()
}

func (s *Subscription) closeLocked() {
	if s.closed {
		return
	}
	s.closed = true
	delete(s.e.subs, s)
	s.e.met.subscribers.Dec()
	close(s.c)
}

// publish hands events to every subscriber without blocking. Callers hold
// no engine lock but pubMu, which keeps events of concurrent publishers
// in the order they were recorded.
func (e *Engine) publish(evs []Event) {
	if len(evs) == 0 {
		return
	}
	e.subMu.Lock()
	defer e.subMu.Unlock()
	for s := range e.subs {
		for _, ev := range evs {
			s.offer(ev, e)
		}
	}
}

func (s *Subscription) offer(ev Event, e *Engine) {
	for {
		select {
		case s.c <- ev:
			return
		default:
		}
		select { // full: drop the oldest and retry
		case <-s.c:
			s.dropped.Add(1)
			e.met.eventDrops.Inc()
		default:
		}
	}
}

// subsState is the engine's part of the subscriptions.
type subsState struct {
	subMu      sync.Mutex
	subs       map[*Subscription]struct{}
	subsClosed bool
}
