// Package score is the shared vocabulary of vitals' explainable 0-100
// health scores: a Score is a weighted combination of Factors, each of
// which says what was observed, against which target and limit, with what
// weight, and what to do about it. Monitors (database pool, cache,
// circuit breakers, operations, runtime) produce Scores; the health
// package combines them and serves them.
//
//	f := score.Factor{Name: "wait_p99", Unit: "seconds", Observed: 0.12, Target: 0.05, Limit: 0.25, Weight: 2}
//	s := score.New("db", []score.Factor{f})
//	fmt.Println(s.Value, s.Status) // 65 warn
package score

import (
	"cmp"
	"encoding/json"
	"math"
	"slices"
	"strconv"
)

// Status is the health of a component, ordered from best to worst.
type Status uint8

// The statuses, in the vocabulary of application/health+json.
const (
	Pass Status = iota
	Warn
	Fail
)

// String returns the status as health documents spell it: pass, warn or fail.
func (s Status) String() string {
	switch s {
	case Pass:
		return "pass"
	case Warn:
		return "warn"
	}
	return "fail"
}

// MarshalText encodes a Status as "pass", "warn" or "fail".
func (s Status) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Worst returns the worse of two statuses.
func Worst(a, b Status) Status { return max(a, b) }

// Default thresholds turning a 0-100 value into a Status.
const (
	WarnBelow = 80 // a score below this is warn
	FailBelow = 50 // a score below this is fail
)

// StatusOf maps a 0-100 score to a Status with the default thresholds.
func StatusOf(value float64) Status {
	switch {
	case math.IsNaN(value) || value < FailBelow:
		return Fail
	case value < WarnBelow:
		return Warn
	}
	return Pass
}

// Factor is one measured input of a score. A factor scores 100 when
// Observed is at or better than Target, 0 at or past Limit, and linearly in
// between. When Limit < Target, lower observed values are worse (a hit
// ratio, say).
type Factor struct {
	Name     string  `json:"name"`
	Observed float64 `json:"observed"`
	Unit     string  `json:"unit"`
	Target   float64 `json:"target"`
	Limit    float64 `json:"limit"`
	Weight   float64 `json:"weight"`
	Score    float64 `json:"score"`
	// Advice says, in plain words, what to do when the factor is below
	// 100. Empty when the factor is healthy.
	Advice string `json:"advice,omitempty"`
	// NoData marks a factor with nothing observed yet; it scores 100 and
	// weighs nothing.
	NoData bool `json:"no_data,omitempty"`
}

// Rate fills f.Score from Observed, Target and Limit and returns f.
func (f Factor) Rate() Factor {
	if f.NoData || math.IsNaN(f.Observed) || math.IsInf(f.Observed, 0) {
		// Zero the value so that the factor encodes as JSON; NoData says why.
		// Advice about nothing observed would mislead.
		f.NoData = true
		f.Observed = 0
		f.Score = 100
		f.Advice = ""
		return f
	}
	// Rounded here, once, so that every place a factor is shown (the
	// gauges, /health/performance, the monitors' JSON) reads the same.
	f.Score = Round(Linear(f.Observed, f.Target, f.Limit))
	return f
}

// Round rounds a 0-100 score to one decimal, the precision every score and
// factor is computed, exported and served at.
func Round(v float64) float64 { return math.Round(v*10) / 10 }

// NeedsAdvice reports whether the factor rates below 100 on real data: the
// factors a producer writes Advice for.
func (f Factor) NeedsAdvice() bool {
	r := f.Rate()
	return !r.NoData && r.Score < 100
}

// Linear is 100 at target, 0 at limit, linear in between and clamped
// outside. It works in either direction (limit above or below target).
func Linear(observed, target, limit float64) float64 {
	if math.IsNaN(observed) {
		return 0
	}
	if target == limit {
		if (limit >= target && observed < limit) || (limit < target && observed > limit) {
			return 100
		}
		return 0
	}
	x := (observed - target) / (limit - target)
	return 100 * (1 - math.Min(1, math.Max(0, x)))
}

// Score is a component's explained 0-100 health.
type Score struct {
	Component string   `json:"component"`
	Value     float64  `json:"score"`
	Status    Status   `json:"status"`
	Factors   []Factor `json:"factors"`
	// Recommendations collect the Advice of factors below 100, worst first.
	Recommendations []string `json:"recommendations,omitempty"`
}

// New rates each factor, combines them into a weighted mean, and derives
// the status and recommendations. A component with no rated factor scores
// 100 (nothing observed is nothing wrong; the factors say NoData).
func New(component string, factors []Factor) Score {
	s := Score{Component: component, Factors: make([]Factor, len(factors))}
	var sum, weights float64
	for i, f := range factors {
		f = f.Rate()
		s.Factors[i] = f
		if f.NoData || f.Weight <= 0 {
			continue
		}
		sum += f.Score * f.Weight
		weights += f.Weight
	}
	s.Value = 100
	if weights > 0 {
		s.Value = Round(sum / weights)
	}
	// Any factor at 0 caps the component at warn's floor: one exhausted
	// resource is a real problem whatever the others say.
	for _, f := range s.Factors {
		if !f.NoData && f.Weight > 0 && f.Score == 0 && s.Value >= FailBelow {
			s.Value = math.Min(s.Value, FailBelow-0.1)
		}
	}
	s.Status = StatusOf(s.Value)
	s.Recommendations = recommendations(s.Factors)
	return s
}

func recommendations(fs []Factor) []string {
	idx := make([]int, 0, len(fs))
	for i, f := range fs {
		if !f.NoData && f.Score < 100 && f.Advice != "" {
			idx = append(idx, i)
		}
	}
	// insertion sort by score, worst first (a handful of factors)
	for i := 1; i < len(idx); i++ {
		for j := i; j > 0 && fs[idx[j]].Score < fs[idx[j-1]].Score; j-- {
			idx[j], idx[j-1] = idx[j-1], idx[j]
		}
	}
	out := make([]string, 0, len(idx))
	for _, i := range idx {
		out = append(out, fs[i].Advice)
	}
	return out
}

// Combine merges component scores into an overall one: the weighted mean
// of the components, status the worst of theirs. Its recommendations are
// every component's, worst first: ordered by the score of the factor that
// gave each (lowest first), then by the component's score.
func Combine(name string, parts []Score, weights map[string]float64) Score {
	s := Score{Component: name, Value: 100}
	var recs []ranked
	var sum, w float64
	status := Pass
	for _, p := range parts {
		pw := 1.0
		if x, ok := weights[p.Component]; ok {
			pw = x
		}
		if pw <= 0 { // weighted out: shown, but decides nothing
			s.Factors = append(s.Factors, Factor{Name: p.Component, Observed: p.Value, Unit: "score", Target: 100, Limit: 0, Score: p.Value})
			continue
		}
		sum += p.Value * pw
		w += pw
		status = Worst(status, p.Status)
		s.Factors = append(s.Factors, Factor{Name: p.Component, Observed: p.Value, Unit: "score", Target: 100, Limit: 0, Weight: pw, Score: p.Value})
		recs = appendRanked(recs, p)
	}
	if w > 0 {
		s.Value = Round(sum / w)
	}
	s.Status = Worst(StatusOf(s.Value), status)
	// Worst first across components, as within one: the advice of the
	// lowest-scoring factor leads, whichever component it belongs to (an
	// open breaker's advice before a 2% error ratio's), ties going to the
	// worse component, then to the order the components were given.
	slices.SortStableFunc(recs, func(a, b ranked) int {
		if c := cmp.Compare(a.factor, b.factor); c != 0 {
			return c
		}
		return cmp.Compare(a.component, b.component)
	})
	for _, r := range recs {
		s.Recommendations = append(s.Recommendations, r.advice)
	}
	return s
}

// ranked is one recommendation of a component with the scores that order
// it: the score of the factor that gave it, and the component's.
type ranked struct {
	factor, component float64
	advice            string
}

// appendRanked appends p's recommendations with their factor's score. A
// recommendation that no factor of p carries (p combines other scores, or
// was built by hand) ranks with the component's own score.
func appendRanked(recs []ranked, p Score) []ranked {
	for _, adv := range p.Recommendations {
		r := ranked{factor: p.Value, component: p.Value, advice: adv}
		for _, f := range p.Factors {
			if f.Advice == adv && !f.NoData {
				r.factor = f.Score
				break
			}
		}
		if math.IsNaN(r.factor) {
			r.factor = 0
		}
		if math.IsNaN(r.component) {
			r.component = 0
		}
		recs = append(recs, r)
	}
	return recs
}

// FormatSeconds renders a duration in seconds for advice text: "120 ms".
func FormatSeconds(sec float64) string {
	switch {
	case math.IsNaN(sec):
		return "n/a"
	case sec >= 1:
		return strconv.FormatFloat(sec, 'g', 3, 64) + " s"
	case sec >= 1e-3:
		return strconv.FormatFloat(sec*1e3, 'g', 3, 64) + " ms"
	}
	return strconv.FormatFloat(sec*1e6, 'g', 3, 64) + " µs"
}

// finite is v for JSON, or nil (null) when v is NaN or infinite.
func finite(v float64) *float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return &v
}

// factorJSON is the one JSON shape of a factor, wherever it is served:
// numbers that are not finite, and the observed value of a factor with no
// data, are null (encoding/json cannot write NaN).
type factorJSON struct {
	Name     string   `json:"name"`
	Observed *float64 `json:"observed"`
	Unit     string   `json:"unit"`
	Target   *float64 `json:"target"`
	Limit    *float64 `json:"limit"`
	Weight   *float64 `json:"weight"`
	Score    *float64 `json:"score"`
	Advice   string   `json:"advice,omitempty"`
	NoData   bool     `json:"no_data,omitempty"`
}

// MarshalJSON encodes the factor with null for numbers that are not finite
// and for the observed value when NoData is set.
func (f Factor) MarshalJSON() ([]byte, error) {
	j := factorJSON{Name: f.Name, Observed: finite(f.Observed), Unit: f.Unit, Target: finite(f.Target),
		Limit: finite(f.Limit), Weight: finite(f.Weight), Score: finite(f.Score), Advice: f.Advice, NoData: f.NoData}
	if f.NoData {
		j.Observed = nil
	}
	return json.Marshal(j)
}

// scoreJSON is the one JSON shape of a score.
type scoreJSON struct {
	Component       string   `json:"component"`
	Value           *float64 `json:"score"`
	Status          Status   `json:"status"`
	Factors         []Factor `json:"factors"`
	Recommendations []string `json:"recommendations"`
}

// MarshalJSON encodes the score with its factors (never null) and its
// recommendations (an empty list rather than null when there are none).
func (s Score) MarshalJSON() ([]byte, error) {
	j := scoreJSON{Component: s.Component, Value: finite(s.Value), Status: s.Status, Factors: s.Factors,
		Recommendations: s.Recommendations}
	if j.Factors == nil {
		j.Factors = []Factor{}
	}
	if j.Recommendations == nil {
		j.Recommendations = []string{}
	}
	return json.Marshal(j)
}
