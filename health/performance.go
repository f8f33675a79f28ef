package health

import (
	"fmt"
	"math"
	"runtime/debug"
	"time"

	"github.com/bizra/vitals/metric"
	"github.com/bizra/vitals/score"
)

// Scorer is a component that explains its own health as a 0-100 score:
// the database pool, cache and circuit-breaker monitors implement it, and
// so do the built-in SLO and runtime scorers of package perfscore. Score must be safe for
// concurrent use and must not block: it reads state the component already
// keeps.
type Scorer interface {
	Score() score.Score
}

// ScorerFunc adapts a func to Scorer.
type ScorerFunc func() score.Score

// Score calls f.
func (f ScorerFunc) Score() score.Score { return f() }

type scorer struct {
	name  string
	s     Scorer
	gauge *metric.FloatGauge
}

// OverallComponent is the component name of the combined score.
const OverallComponent = "overall"

// AddScorer adds a component to /health/performance and to the overall
// score, under name (the component label of vitals_health_score; the
// Component field of its scores is set to it). It returns an error
// wrapping ErrInvalidCheck when the name is invalid, taken or "overall".
func (e *Engine) AddScorer(name string, s Scorer) error {
	if !validName(name) || name == OverallComponent {
		return fmt.Errorf("%w: component name %q: use 1 to 63 letters, digits, '_', '-', '.' or ':' (not %q)", ErrInvalidCheck, name, OverallComponent)
	}
	if s == nil {
		return fmt.Errorf("%w: component %s: nil Scorer", ErrInvalidCheck, name)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, x := range e.scorers {
		if x.name == name {
			return fmt.Errorf("%w: component %s exists", ErrInvalidCheck, name)
		}
	}
	if len(e.scorers) >= maxChecks-1 {
		return fmt.Errorf("%w: component %s: an engine holds at most %d components", ErrInvalidCheck, name, maxChecks-1)
	}
	g := e.met.score.With(name)
	g.Set(math.NaN()) // no data yet, said explicitly
	e.met.score.With(OverallComponent).Set(math.NaN())
	e.scorers = append(e.scorers, &scorer{name: name, s: s, gauge: g})
	return nil
}

// Report is the answer of /health/performance: every component's score,
// with its factors and recommendations, and the overall score.
type Report struct {
	Time       time.Time
	Overall    score.Score   // Component "overall"; its factors are the components
	Components []score.Score // in the order they were added
}

// Performance returns the last computed report. When there is none yet,
// or it is older than twice ScoreInterval (the engine is not started),
// it computes one now.
func (e *Engine) Performance() Report {
	now := e.clock.Now()
	e.mu.Lock()
	r := e.report
	e.mu.Unlock()
	if r != nil && now.Sub(r.Time) <= 2*e.opts.ScoreInterval && !now.Before(r.Time) {
		return *r
	}
	return e.RefreshScores()
}

// RefreshScores computes every component's score now, updates
// vitals_health_score, publishes status changes as events, and returns
// the report. The engine calls it every ScoreInterval once started.
func (e *Engine) RefreshScores() Report {
	e.mu.Lock()
	scs := append([]*scorer(nil), e.scorers...)
	e.mu.Unlock()

	// Scorers run without any engine lock held: they are user code.
	parts := make([]score.Score, len(scs))
	for i, sc := range scs {
		parts[i] = e.safeScore(sc)
		sc.gauge.Set(parts[i].Value)
	}
	overall := score.Combine(OverallComponent, parts, e.opts.Weights)
	e.met.score.With(OverallComponent).Set(overall.Value)
	r := &Report{Time: e.clock.Now(), Overall: overall, Components: parts}

	e.mu.Lock()
	prev := e.report
	if prev != nil && r.Time.Before(prev.Time) {
		// A concurrent computation finished later with a later time: keep it.
		r = prev
		e.mu.Unlock()
		return *r
	}
	e.report = r
	var evs []Event
	if prev != nil {
		was := make(map[string]score.Status, len(prev.Components)+1)
		for _, p := range prev.Components {
			was[p.Component] = p.Status
		}
		was[OverallComponent] = prev.Overall.Status
		for _, p := range append(parts, overall) {
			if from, ok := was[p.Component]; ok && from != p.Status {
				out := ""
				if len(p.Recommendations) > 0 {
					out = p.Recommendations[0]
				}
				evs = append(evs, Event{Time: r.Time, Source: SourceComponent, Name: p.Component, From: from, To: p.Status, Output: out})
			}
		}
	}
	e.publish(evs)
	e.mu.Unlock()
	e.logEvents(evs)
	return *r
}

// safeScore calls a scorer, turning a panic or a malformed score into a
// failed component that says so.
func (e *Engine) safeScore(sc *scorer) (s score.Score) {
	defer func() {
		if p := recover(); p != nil {
			msg := redact(fmt.Sprint(p))
			e.log.Error("health: component scorer panicked; it scores 0", "component", sc.name, "panic", msg,
				"stack", string(debug.Stack()))
			s = score.Score{Component: sc.name, Value: 0, Status: score.Fail,
				Recommendations: []string{"the " + sc.name + " scorer panicked (" + msg + "): see the log"}}
		}
	}()
	s = sc.s.Score()
	s.Component = sc.name
	if math.IsNaN(s.Value) || s.Value < 0 || s.Value > 100 {
		s.Value = math.Max(0, math.Min(100, s.Value))
		if math.IsNaN(s.Value) {
			s.Value = 0
		}
		s.Status = score.Fail
	}
	return s
}
