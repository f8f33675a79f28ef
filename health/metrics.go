package health

import (
	"github.com/bizra/vitals/metric"
	"github.com/bizra/vitals/score"
)

// maxChecks bounds the checks of one engine, and so the cardinality of
// the check label.
const maxChecks = 100

var statuses = [...]score.Status{score.Pass, score.Warn, score.Fail}

// result label values of vitals_health_check_results_total.
const (
	resultPass = iota
	resultWarn
	resultFail
	resultTimeout
	resultPanic
	numResults
)

var resultNames = [numResults]string{"pass", "warn", "fail", "timeout", "panic"}

// healthMetrics are the engine's families, registered in the Monitor's registry.
type healthMetrics struct {
	checkStatus      *metric.Vec[*metric.Gauge]
	checkTransitions *metric.Vec[*metric.Counter]
	checkResults     *metric.Vec[*metric.Counter]
	checkDuration    *metric.Vec[*metric.Histogram]
	probeStatus      *metric.Vec[*metric.Gauge]
	probeTransitions *metric.Vec[*metric.Counter]
	score            *metric.Vec[*metric.FloatGauge]
	eventDrops       *metric.Counter
	subscribers      *metric.Gauge
	draining         *metric.Gauge
}

func newMetrics(r *metric.Registry) *healthMetrics {
	return &healthMetrics{
		checkStatus: r.GaugeVec(metric.Opts{Name: "vitals_health_check_status",
			Help:   "Health check status as a state set: 1 for the check's current status (pass, warn or fail), 0 for the others.",
			Labels: []string{"check", "status"}, MaxSeries: 3 * maxChecks}),
		checkTransitions: r.CounterVec(metric.Opts{Name: "vitals_health_check_transitions_total",
			Help:   "Health check status changes, by check and the statuses changed from and to.",
			Labels: []string{"check", "from", "to"}, MaxSeries: 6 * maxChecks}),
		checkResults: r.CounterVec(metric.Opts{Name: "vitals_health_check_results_total",
			Help:   "Health check runs by raw result (pass, warn, fail, timeout, panic), before hysteresis.",
			Labels: []string{"check", "result"}, MaxSeries: numResults * maxChecks}),
		checkDuration: r.HistogramVec(metric.Opts{Name: "vitals_health_check_duration_seconds", Unit: "seconds",
			Help:   "Time one health check run took, timeouts included.",
			Labels: []string{"check"}, MaxSeries: maxChecks}),
		probeStatus: r.GaugeVec(metric.Opts{Name: "vitals_health_probe_status",
			Help:   "Overall liveness and readiness as a state set: 1 for the probe's current status, 0 for the others.",
			Labels: []string{"probe", "status"}, MaxSeries: 3 * int(numKinds)}),
		probeTransitions: r.CounterVec(metric.Opts{Name: "vitals_health_probe_transitions_total",
			Help:   "Overall liveness and readiness status changes, by probe and the statuses changed from and to.",
			Labels: []string{"probe", "from", "to"}, MaxSeries: 6 * int(numKinds)}),
		score: r.FloatGaugeVec(metric.Opts{Name: "vitals_health_score", Unit: "score",
			Help:   "Health score of each component and of the whole (component=\"overall\"), 0 to 100; NaN before the first computation.",
			Labels: []string{"component"}, MaxSeries: maxChecks}),
		eventDrops: r.Counter(metric.Opts{Name: "vitals_health_events_dropped_total",
			Help: "Health events a slow subscriber missed because its queue was full (the oldest queued event is dropped)."}),
		subscribers: r.Gauge(metric.Opts{Name: "vitals_health_event_subscribers",
			Help: "Health event subscriptions currently open."}),
		draining: r.Gauge(metric.Opts{Name: "vitals_health_draining",
			Help: "1 while the instance is draining for shutdown (readiness fails on purpose), else 0."}),
	}
}

// stateSet holds the handles of one check's or probe's status and
// transition series, created once so that updates are lookups-free.
type stateSet struct {
	status      [3]*metric.Gauge
	transitions [3][3]*metric.Counter // [from][to]; the diagonal is nil
}

func newStateSet(status *metric.Vec[*metric.Gauge], transitions *metric.Vec[*metric.Counter], name string) stateSet {
	var s stateSet
	for _, st := range statuses {
		s.status[st] = status.With(name, st.String())
		for _, to := range statuses {
			if to != st {
				s.transitions[st][to] = transitions.With(name, st.String(), to.String())
			}
		}
	}
	return s
}

// set records the current status.
func (s *stateSet) set(st score.Status) {
	for _, x := range statuses {
		v := int64(0)
		if x == st {
			v = 1
		}
		s.status[x].Set(v)
	}
}

// transition counts a change and records the new status.
func (s *stateSet) transition(from, to score.Status) {
	if from != to {
		s.transitions[from][to].Inc()
	}
	s.set(to)
}
