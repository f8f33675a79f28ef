package breaker

import (
	"math"
	"sync"
	"time"

	"github.com/bizra/vitals"
	"github.com/bizra/vitals/metric"
)

// State is a circuit breaker's state.
type State uint8

// The states. Their label values are closed, half_open and open.
const (
	Closed State = iota
	HalfOpen
	Open
	numStates
)

var stateNames = [numStates]string{"closed", "half_open", "open"}

// String returns the state's label value.
func (s State) String() string {
	if s < numStates {
		return stateNames[s]
	}
	return "unknown"
}

// MarshalText encodes the state as its label value.
func (s State) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Outcome is how a call through the breaker ended.
type Outcome uint8

// The outcomes, the values of the outcome label.
const (
	Success  Outcome = iota
	Failure          // the call ran and failed
	Rejected         // the breaker did not let the call run
	Excluded         // the call ran; its error counts neither way (a caller's cancellation, say)
	numOutcomes
)

var outcomeNames = [numOutcomes]string{"success", "failure", "rejected", "excluded"}

// String returns the outcome's label value.
func (o Outcome) String() string {
	if o < numOutcomes {
		return outcomeNames[o]
	}
	return "unknown"
}

// Options configures a Breaker monitor. nil means every default. The
// thresholds only raise events and shape the score; they never change
// what the breaker itself does.
type Options struct {
	// Window is the length of the rolling window of rates. Default 0 means
	// one minute.
	Window time.Duration
	// SlowCall is the duration at or above which a call counts as slow.
	// Default 0 means one second.
	SlowCall time.Duration
	// FailureRateThreshold raises EventFailureRateHigh when the window's
	// failure rate (failures over successes plus failures) reaches it.
	// Default 0 means 0.5.
	FailureRateThreshold float64
	// SlowCallRateThreshold raises EventSlowCallRateHigh when the window's
	// share of slow calls reaches it. Default 0 means 0.5.
	SlowCallRateThreshold float64
	// OpenDurationThreshold raises EventOpenTooLong once per open period
	// that lasts this long. Default 0 means one minute.
	OpenDurationThreshold time.Duration
	// MinCalls is the number of calls the window must hold before rates
	// are compared with thresholds, so that two failures out of three
	// calls raise nothing. Default 0 means 10.
	MinCalls int
	// Initial is the breaker's state when the monitor is created. Default
	// Closed.
	Initial State
	// OnEvent, when set, receives every event on the Monitor's collector
	// goroutine, after the tick's figures are computed and with no lock
	// held: it may call anything, the breaker included. It must return
	// quickly. A panic in it is recovered and counted.
	OnEvent func(Event)
}

func (o *Options) withDefaults() Options {
	var d Options
	if o != nil {
		d = *o
	}
	if d.Window <= 0 {
		d.Window = time.Minute
	}
	if d.SlowCall <= 0 {
		d.SlowCall = time.Second
	}
	if !(d.FailureRateThreshold > 0) {
		d.FailureRateThreshold = 0.5
	}
	if !(d.SlowCallRateThreshold > 0) {
		d.SlowCallRateThreshold = 0.5
	}
	if d.OpenDurationThreshold <= 0 {
		d.OpenDurationThreshold = time.Minute
	}
	if d.MinCalls <= 0 {
		d.MinCalls = 10
	}
	if d.Initial >= numStates {
		d.Initial = Closed
	}
	return d
}

// Breaker monitors one named circuit breaker of any library. The library
// reports state changes with Transition and calls with Record; the
// gobreakermon package does both for sony/gobreaker.
//
// Its metrics (label values: state closed|half_open|open, outcome
// success|failure|rejected|excluded, kind failure_rate|slow_call_rate|
// open_duration):
//
//	vitals_breaker_state{breaker,state}                    gauge, 1 for the current state
//	vitals_breaker_transitions_total{breaker,from,to}      counter
//	vitals_breaker_state_seconds_total{breaker,state}      counter, time spent in each state
//	vitals_breaker_calls_total{breaker,outcome}            counter
//	vitals_breaker_slow_calls_total{breaker}               counter
//	vitals_breaker_call_duration_seconds{breaker}          histogram (calls that ran)
//	vitals_breaker_failure_rate{breaker}                   gauge over the window, NaN without calls
//	vitals_breaker_slow_call_rate{breaker}                 gauge over the window, NaN without calls
//	vitals_breaker_alert_threshold{breaker,kind}           gauge (open_duration in seconds)
//	vitals_breaker_slow_call_threshold_seconds{breaker}    gauge
//	vitals_breaker_alerts_total{breaker,kind}              counter, threshold crossings upward
//	vitals_breaker_score{breaker}                          gauge
//	vitals_breaker_score_factor{breaker,factor}            gauge
//
// A state gauge alone misses an open period shorter than the scrape
// interval; the transitions and state_seconds counters never do.
type Breaker struct {
	name  string
	opts  Options
	clock vitals.Clock

	calls    [numOutcomes]*metric.Counter
	slow     *metric.Counter
	dur      *metric.Histogram
	slowSec  float64
	stateG   [numStates]*metric.Gauge
	trans    [numStates][numStates]*metric.Counter
	alerts   [numAlertKinds]*metric.Counter
	failG    *metric.FloatGauge
	slowG    *metric.FloatGauge
	scoreG   *metric.FloatGauge
	factorG  [numFactors]*metric.FloatGauge
	panics   *metric.Counter
	dropped  *metric.Counter
	onEvent  func(Event)
	windowed *windows // owned by the collector goroutine (Consume)

	mu       sync.Mutex // guards everything below; never held while calling out
	state    State
	since    time.Time                // when state was entered
	spent    [numStates]time.Duration // time in each state before the current period
	reported [numStates]time.Duration // high-water of state_seconds, so a clock step back never lowers it
	pending  []Event                  // recorded by Transition, delivered by Consume
	recent   []Event                  // the last maxRecent events, oldest first
	st       Stats

	failHigh, slowHigh, openAlerted bool // alert states, for crossings
}

// maxPending bounds the transitions kept between two ticks: a breaker
// flapping faster than that loses events (counted), never memory.
const (
	maxPending = 256
	maxRecent  = 32
)

// New registers the series of the breaker called name in m's registry and
// adds the breaker as a consumer of m's snapshots. name is a label value:
// keep it to a fixed set. New panics on an empty name.
func New(m *vitals.Monitor, name string, opts *Options) *Breaker {
	if name == "" {
		panic("vitals/breaker: New needs a non-empty breaker name")
	}
	o := opts.withDefaults()
	r := m.Registry()
	f := newFamilies(r)
	b := &Breaker{name: name, opts: o, clock: m.Clock(), onEvent: o.OnEvent, slowSec: o.SlowCall.Seconds(),
		state: o.Initial, since: m.Clock().Now()}
	for oc := range numOutcomes {
		b.calls[oc] = f.calls.With(name, oc.String())
	}
	b.slow = f.slow.With(name)
	b.dur = f.dur.With(name)
	for s := range numStates {
		b.stateG[s] = f.state.With(name, s.String())
		for to := range numStates {
			if to != s {
				b.trans[s][to] = f.trans.With(name, s.String(), to.String())
			}
		}
		f.seconds.Bind(func() float64 { return b.stateSeconds(s) }, name, s.String())
	}
	b.stateG[o.Initial].Set(1)
	for k := range numAlertKinds {
		b.alerts[k] = f.alerts.With(name, alertNames[k])
	}
	f.threshold.With(name, alertNames[alertFailureRate]).Set(o.FailureRateThreshold)
	f.threshold.With(name, alertNames[alertSlowCallRate]).Set(o.SlowCallRateThreshold)
	f.threshold.With(name, alertNames[alertOpenDuration]).Set(o.OpenDurationThreshold.Seconds())
	f.slowThreshold.With(name).Set(o.SlowCall.Seconds())
	b.failG = f.failRate.With(name)
	b.slowG = f.slowRate.With(name)
	b.failG.Set(math.NaN())
	b.slowG.Set(math.NaN())
	b.scoreG = f.score.With(name)
	for i := range numFactors {
		b.factorG[i] = f.factor.With(name, factorNames[i])
	}
	b.panics = f.panics.With(name)
	b.dropped = f.dropped.With(name)
	b.windowed = newWindows(o.Window)
	b.windowed.bind(&f, name)
	b.st = b.computeLocked(b.since, b.windowed.stats(b.since, &b.opts))
	b.publishLocked()
	m.AddConsumer(b)
	return b
}

// Name returns the breaker's name.
func (b *Breaker) Name() string { return b.name }

// Record records one call that ran for d and ended with outcome. For
// Rejected, d is ignored: a rejected call did not run. It never allocates.
func (b *Breaker) Record(outcome Outcome, d time.Duration) {
	if outcome >= numOutcomes {
		outcome = Failure
	}
	b.calls[outcome].Inc()
	if outcome == Rejected {
		return
	}
	sec := d.Seconds()
	b.dur.Observe(sec)
	if outcome != Excluded && sec >= b.slowSec {
		b.slow.Inc()
	}
}

// Reject records one call the breaker did not let run.
func (b *Breaker) Reject() { b.calls[Rejected].Inc() }

// Transition records a change of state. It takes only the monitor's own
// short lock and calls nothing outside this package, so it is safe to call
// from a callback the breaker library runs under its own lock (gobreaker's
// OnStateChange): the event it creates is delivered on the next collector
// tick, never from inside Transition. The state the caller reports leaving
// is not trusted: the monitor counts the transition from its own record of
// the state, so time in state and the transition counters stay consistent
// even when a callback was missed or arrives twice.
func (b *Breaker) Transition(reported, to State) {
	_ = reported
	if to >= numStates {
		return
	}
	now := b.clock.Now()
	b.mu.Lock()
	defer b.mu.Unlock()
	from := b.state
	if from == to {
		return
	}
	if el := now.Sub(b.since); el > 0 {
		b.spent[from] += el
	}
	b.state, b.since = to, now
	b.trans[from][to].Inc()
	b.stateG[from].Set(0)
	b.stateG[to].Set(1)
	if to != Open {
		b.openAlerted = false
	}
	b.queueLocked(Event{Breaker: b.name, Kind: EventTransition, Time: now, From: from, To: to})
}

func (b *Breaker) queueLocked(e Event) {
	if len(b.pending) >= maxPending {
		b.dropped.Inc()
		return
	}
	b.pending = append(b.pending, e)
}

// State returns the state last reported with Transition.
func (b *Breaker) State() State {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.state
}

// IsOpen reports whether the breaker is open (refusing every call), for
// one line of health wiring: health.BreakerCheck("payments", b.IsOpen).
func (b *Breaker) IsOpen() bool { return b.State() == Open }

// stateSeconds is the state_seconds counter: time spent in s, the current
// period included, so that a period shorter than the scrape interval still
// shows. It never decreases, even if the clock steps back.
func (b *Breaker) stateSeconds(s State) float64 {
	now := b.clock.Now()
	b.mu.Lock()
	defer b.mu.Unlock()
	d := b.spent[s]
	if s == b.state {
		if el := now.Sub(b.since); el > 0 {
			d += el
		}
	}
	d = max(d, b.reported[s])
	b.reported[s] = d
	return d.Seconds()
}

// TimeIn returns the time spent in state s so far, the current period
// included.
func (b *Breaker) TimeIn(s State) time.Duration {
	if s >= numStates {
		return 0
	}
	return time.Duration(b.stateSeconds(s) * 1e9)
}

type families struct {
	calls, slow, trans, alerts, panics, dropped *metric.Vec[*metric.Counter]
	dur                                         *metric.Vec[*metric.Histogram]
	state                                       *metric.Vec[*metric.Gauge]
	seconds                                     *metric.FuncVec
	failRate, slowRate, threshold               *metric.Vec[*metric.FloatGauge]
	slowThreshold, score, factor                *metric.Vec[*metric.FloatGauge]
}

func newFamilies(r *metric.Registry) families {
	br := []string{"breaker"}
	return families{
		calls: r.CounterVec(metric.Opts{Name: "vitals_breaker_calls_total", Labels: []string{"breaker", "outcome"},
			Help: "Calls through the circuit breaker by outcome: success, failure, rejected (not let through), excluded (counted neither way)."}),
		slow: r.CounterVec(metric.Opts{Name: "vitals_breaker_slow_calls_total", Labels: br,
			Help: "Calls that succeeded or failed at or above the slow-call duration (vitals_breaker_slow_call_threshold_seconds)."}),
		trans: r.CounterVec(metric.Opts{Name: "vitals_breaker_transitions_total", Labels: []string{"breaker", "from", "to"},
			Help: "State changes of the circuit breaker."}),
		alerts: r.CounterVec(metric.Opts{Name: "vitals_breaker_alerts_total", Labels: []string{"breaker", "kind"},
			Help: "Times a breaker figure crossed its alert threshold upward: failure_rate, slow_call_rate, open_duration."}),
		panics: r.CounterVec(metric.Opts{Name: "vitals_breaker_event_handler_panics_total", Labels: br,
			Help: "Panics recovered in a breaker's OnEvent handler."}),
		dropped: r.CounterVec(metric.Opts{Name: "vitals_breaker_events_dropped_total", Labels: br,
			Help: "Breaker events dropped because more than 256 arrived between two collector ticks."}),
		dur: r.HistogramVec(metric.Opts{Name: "vitals_breaker_call_duration_seconds", Unit: "seconds", Labels: br,
			Help: "Duration of calls the circuit breaker let through."}),
		state: r.GaugeVec(metric.Opts{Name: "vitals_breaker_state", Labels: []string{"breaker", "state"},
			Help: "1 for the circuit breaker's current state, 0 for the others."}),
		seconds: r.CounterFuncVec(metric.Opts{Name: "vitals_breaker_state_seconds_total", Unit: "seconds", Labels: []string{"breaker", "state"},
			Help: "Time the circuit breaker has spent in each state, the current period included."}),
		failRate: r.FloatGaugeVec(metric.Opts{Name: "vitals_breaker_failure_rate", Labels: br,
			Help: "Failures over successes plus failures in the rolling window; NaN without calls."}),
		slowRate: r.FloatGaugeVec(metric.Opts{Name: "vitals_breaker_slow_call_rate", Labels: br,
			Help: "Slow calls over successes plus failures in the rolling window; NaN without calls."}),
		threshold: r.FloatGaugeVec(metric.Opts{Name: "vitals_breaker_alert_threshold", Labels: []string{"breaker", "kind"},
			Help: "Alert thresholds of the breaker monitor: failure_rate and slow_call_rate as ratios, open_duration in seconds."}),
		slowThreshold: r.FloatGaugeVec(metric.Opts{Name: "vitals_breaker_slow_call_threshold_seconds", Unit: "seconds", Labels: br,
			Help: "Duration at or above which a call counts as slow."}),
		score: r.FloatGaugeVec(metric.Opts{Name: "vitals_breaker_score", Labels: br,
			Help: "Health score of the circuit breaker's downstream, 0-100 (see vitals_breaker_score_factor)."}),
		factor: r.FloatGaugeVec(metric.Opts{Name: "vitals_breaker_score_factor", Labels: []string{"breaker", "factor"},
			Help: "Score, 0-100, of each factor of the breaker's health score: state, failure_rate, slow_call_rate."}),
	}
}
