package history

import (
	"context"
	"math"
	"time"

	"github.com/bizra/vitals/metric"
)

// ReadRequest asks for the stored steps of some series, as they are
// stored: for readers that need more than one statistic per step, such as
// a PromQL engine (alerting/histstore), which needs a histogram's buckets.
type ReadRequest struct {
	Series []string  // series keys, name{label="value",...}; unknown ones are left out
	From   time.Time // the first step returned ends at or after From
	To     time.Time // the last step returned starts at or before To
}

// Step is one series' data over one stored step.
type Step struct {
	Kind       metric.Kind
	Start, End time.Time
	// Ticks are the collector ticks the step holds, Covered the time they
	// cover (less than End-Start when the Monitor was not running all of
	// it).
	Ticks   uint64
	Covered time.Duration
	// Increase is a counter's increase over the step.
	Increase float64
	// Samples, Sum, Last, Min and Max describe a gauge's samples: how
	// many, their sum (Sum/Samples is the mean), the latest, the lowest
	// and highest. NaN (Last, Min, Max) when the step holds none.
	Samples        uint64
	Sum            float64
	Last, Min, Max float64
	// Hist is a histogram's observations in the step: schema, zero bucket,
	// sparse buckets, count and sum (Min and Max are left zero).
	Hist metric.HistogramValue
}

// Read calls fn with each stored step of req.Series that ends at or after
// From and starts at or before To, each series' steps in time order;
// series is the index of the step's series in req.Series (unknown series
// have none). The Step, and its Hist.Buckets, are reused once fn returns:
// copy what you keep.
//
// It reads the finest tier whose retention reaches From (the coarsest
// tier when none does) up to its last complete step, then the finer tiers
// after it, down to the steps still waiting for the disk, as Query does:
// so the steps are of the finest resolution held for each span of time,
// and may change length along the way (5-minute steps then minutes, at
// the default tiers). Records of one step written twice (a restart within
// a minute) are merged. The step being collected is not included.
//
// All series are read in one pass over the frames, for readers that need
// more than one statistic per step, such as a PromQL engine
// (alerting/histstore), which needs a histogram's buckets. It fails with
// ctx, and with ErrQueryTooLarge when the records it would hold pass
// Options.MaxQueryRecords.
func (s *Store) Read(ctx context.Context, req ReadRequest, fn func(series int, st *Step)) error {
	select {
	case <-s.done:
		return ErrClosed
	default:
	}
	if err := checkRange(req.From, req.To); err != nil {
		return err
	}
	var ser []scanSeries
	var index []int // index in req.Series of each of ser
	s.mu.Lock()
	for i, key := range req.Series {
		if in := s.cat.byKey[key]; in != nil {
			ser = append(ser, scanSeries{disk: in.disk, local: in.local, kind: in.kind})
			index = append(index, i)
		}
	}
	newest := s.newest
	pend := append([]*pendingFrame(nil), s.pending...)
	s.mu.Unlock()
	if len(ser) == 0 {
		return nil
	}
	from, to := req.From.Unix(), req.To.Unix()
	tier := s.pickTier(from, newest, time.Duration(s.step0)*time.Second, to-from)
	// A step ending at From starts one step earlier.
	from -= s.steps[tier]
	type acc struct {
		t, step int64
		r       rollup
		has     bool
	}
	accs := make([]acc, len(ser))
	var st Step
	flush := func(i int) {
		a := &accs[i]
		if a.has {
			a.r.toStep(a.t, a.step, &st)
			fn(index[i], &st)
			a.has = false
		}
	}
	err := s.scan(ctx, ser, pend, tier, from, to, true, func(i int, t, step int64, r *rollup) {
		a := &accs[i]
		if a.has && t < a.t {
			return // a pending step older than the file's newest: a rewind not yet written
		}
		if a.has && (a.t != t || a.step != step) {
			flush(i)
		}
		if !a.has {
			a.t, a.step, a.has = t, step, true
			a.r.reset(r.kind)
		}
		a.r.merge(r)
	})
	if err != nil {
		return err
	}
	for i := range accs {
		flush(i)
	}
	return nil
}

// toStep sets st to a merged record of the step [t, t+step) (Unix
// seconds); st.Hist shares r's buckets.
func (r *rollup) toStep(t, step int64, st *Step) {
	*st = Step{
		Kind:  r.kind,
		Start: time.Unix(t, 0).UTC(), End: time.Unix(t+step, 0).UTC(),
		Ticks: r.ticks, Covered: time.Duration(r.ms) * time.Millisecond,
		Last: math.NaN(), Min: math.NaN(), Max: math.NaN(),
	}
	switch r.kind {
	case metric.KindCounter:
		st.Increase = r.a
	case metric.KindGauge:
		st.Samples, st.Sum, st.Last, st.Min, st.Max = r.n, r.a, r.last, r.lo, r.hi
	case metric.KindHistogram:
		st.Hist = r.h
		st.Hist.Min, st.Hist.Max = 0, 0
	}
}
