package perfscore

import (
	"strconv"
	"time"

	"github.com/bizra/vitals"
	"github.com/bizra/vitals/score"
)

// Objective is what one operation should achieve over
// vitals.OperationWindow (one minute).
type Objective struct {
	// P99 is the latency the 99th percentile should stay under.
	P99 time.Duration
	// ErrorBudget is the share of executions allowed to fail (0.01: 1%).
	ErrorBudget float64
}

// SLOOptions configure the "slo" component score. The zero value (or
// nil) gives the defaults written on each field.
type SLOOptions struct {
	// Default is the objective of operations not listed in Operations.
	// Zero fields: P99 500 ms, ErrorBudget 0.01.
	Default Objective
	// Operations holds per-operation objectives; their zero fields take
	// Default's.
	Operations map[string]Objective
	// LatencyLimit is the multiple of the P99 objective at which the
	// latency factor scores 0. 0: 4.
	LatencyLimit float64
	// ErrorLimit is the multiple of the error budget at which the error
	// factor scores 0. 0: 5.
	ErrorLimit float64
	// MinCount is the number of executions in the window below which an
	// operation's factors say "no data" rather than judge a handful of
	// calls. 0: 20.
	MinCount uint64
}

// SLOScorer scores every operation of a Monitor against its objective:
// two factors per operation, p99 latency and error ratio over the last
// minute, each 100 at the objective and 0 at LatencyLimit (ErrorLimit)
// times it.
type SLOScorer struct {
	m *vitals.Monitor
	o SLOOptions
}

// NewSLOScorer returns the SLO scorer of m.
func NewSLOScorer(m *vitals.Monitor, opts *SLOOptions) *SLOScorer {
	var o SLOOptions
	if opts != nil {
		o = *opts
	}
	if o.Default.P99 <= 0 {
		o.Default.P99 = 500 * time.Millisecond
	}
	if o.Default.ErrorBudget <= 0 {
		o.Default.ErrorBudget = 0.01
	}
	if o.LatencyLimit <= 1 {
		o.LatencyLimit = 4
	}
	if o.ErrorLimit <= 1 {
		o.ErrorLimit = 5
	}
	if o.MinCount == 0 {
		o.MinCount = 20
	}
	return &SLOScorer{m: m, o: o}
}

func (s *SLOScorer) objective(op string) Objective {
	ob, ok := s.o.Operations[op]
	if !ok {
		return s.o.Default
	}
	if ob.P99 <= 0 {
		ob.P99 = s.o.Default.P99
	}
	if ob.ErrorBudget <= 0 {
		ob.ErrorBudget = s.o.Default.ErrorBudget
	}
	return ob
}

// Score implements Scorer.
func (s *SLOScorer) Score() score.Score {
	ops := s.m.Operations()
	fs := make([]score.Factor, 0, 2*len(ops))
	for _, st := range ops {
		ob := s.objective(st.Name)
		noData := st.Count < s.o.MinCount
		target := ob.P99.Seconds()
		lat := score.Factor{Name: st.Name + " p99", Unit: "seconds", Observed: st.P99.Seconds(),
			Target: target, Limit: target * s.o.LatencyLimit, Weight: 1, NoData: noData}
		if !noData && lat.Observed > lat.Target {
			lat.Advice = st.Name + " p99 is " + score.FormatSeconds(lat.Observed) + " against a " +
				score.FormatSeconds(target) + " target: find its slowest step (pool wait, cache misses, a slow dependency), or raise the objective if this is expected"
		}
		errs := score.Factor{Name: st.Name + " errors", Unit: "ratio", Observed: st.ErrorRatio,
			Target: ob.ErrorBudget, Limit: ob.ErrorBudget * s.o.ErrorLimit, Weight: 1, NoData: noData}
		if !noData && errs.Observed > errs.Target {
			errs.Advice = st.Name + " failed " + percent(st.ErrorRatio) + " of " + strconv.FormatUint(st.Count, 10) +
				" calls in the last minute against a " + percent(ob.ErrorBudget) + " budget: check its errors in the logs and its dependencies' health"
		}
		fs = append(fs, lat, errs)
	}
	return score.New("slo", fs)
}
