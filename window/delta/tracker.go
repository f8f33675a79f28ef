package delta

import (
	"math"
	"time"

	"github.com/bizra/vitals"
	"github.com/bizra/vitals/metric"
)

// Change is what happened to one series between two snapshots, handed to
// the callback of Tracker.Update.
type Change struct {
	// Point is the series' point in the new snapshot.
	Point *vitals.Point
	// Kind is the family's kind.
	Kind metric.Kind
	// Elapsed is the time since the previous snapshot given to the Tracker
	// (0 for the first, or when the clock went backwards).
	Elapsed time.Duration
	// First reports that the series was not in the previous snapshot: it
	// is new to the Tracker.
	First bool
	// Increase is a counter's increase since the previous snapshot. A
	// counter that went down was reset, and its new value is the increase.
	// On first sight it is the whole value for instrument counters (which
	// start at 0 when created, after the previous snapshot) and 0 for
	// callback counters, whose earlier history is unknown. NaN when the
	// value is NaN (a failed callback).
	Increase float64
	// Value is a counter's or gauge's value, as in the point.
	Value float64
	// Hist is a histogram's observations since the previous snapshot (on
	// first sight: all of them). It is valid only during the callback.
	Hist *metric.HistogramValue
}

// Tracker turns the cumulative points of consecutive snapshots into
// per-tick changes, and keeps one value of type T per series for the
// consumer. Series are matched by their *metric.Series, with a fast path
// for the usual case that a series keeps its position in the snapshot; no
// string is built or hashed per tick. Histogram deltas are computed
// against the previous snapshot, which the Tracker keeps (snapshots are
// immutable and shared), so it copies no bucket lists.
//
// Feed it every snapshot you consume, in order; skipping some is fine
// (changes then span the gap). The zero value is ready to use. A Tracker
// is not safe for concurrent use.
type Tracker[T any] struct {
	prev     *vitals.Snapshot
	prevPos  []*trackEntry[T] // prevPos[i] is the entry of prev.Points[i]
	nextPos  []*trackEntry[T]
	bySeries map[*metric.Series]*trackEntry[T]
	seq      uint64
	delta    metric.HistogramValue
	empty    metric.HistogramValue
	ch       Change // handed to fn; a field, so passing it does not allocate
}

type trackEntry[T any] struct {
	series *metric.Series
	seen   uint64  // Tracker.seq of the last update that held the series
	idx    int     // its index in that snapshot
	last   float64 // a counter's last non-NaN value; NaN before one
	state  T
}

// Update computes the change of every point in s and calls fn with it and
// the series' state (zero on first sight). Series of the previous snapshot
// that s no longer holds (deleted from the registry) are forgotten; gone,
// if not nil, is called with each one's state first.
func (t *Tracker[T]) Update(s *vitals.Snapshot, fn func(c *Change, state *T), gone func(state *T)) {
	if t.bySeries == nil {
		t.bySeries = make(map[*metric.Series]*trackEntry[T])
	}
	t.seq++
	elapsed := s.Elapsed
	if t.prev != nil {
		elapsed = max(s.Time.Sub(t.prev.Time), 0)
	}
	if cap(t.nextPos) < len(s.Points) {
		t.nextPos = make([]*trackEntry[T], len(s.Points))
	}
	next := t.nextPos[:len(s.Points)]
	c := &t.ch
	for i := range s.Points {
		p := &s.Points[i]
		var e *trackEntry[T]
		if i < len(t.prevPos) && t.prevPos[i] != nil && t.prevPos[i].series == p.Series {
			e = t.prevPos[i]
		} else if e = t.bySeries[p.Series]; e == nil {
			e = &trackEntry[T]{series: p.Series, last: math.NaN()}
			t.bySeries[p.Series] = e
		}
		*c = Change{Point: p, Kind: p.Family.Kind, Elapsed: elapsed, Value: p.Value, Increase: math.NaN()}
		c.First = e.seen == 0 || e.seen != t.seq-1
		switch {
		case p.Hist != nil:
			c.Kind = metric.KindHistogram
			earlier := &t.empty
			if !c.First {
				earlier = t.prev.Points[e.idx].Hist
			}
			t.delta.Sub(p.Hist, earlier)
			c.Hist = &t.delta
		case c.Kind == metric.KindCounter:
			switch {
			case math.IsNaN(p.Value):
			case math.IsNaN(e.last):
				if p.Series.IsFunc() {
					c.Increase = 0
				} else {
					c.Increase = p.Value
				}
			case p.Value < e.last:
				c.Increase = p.Value
			default:
				c.Increase = p.Value - e.last
			}
			if !math.IsNaN(p.Value) {
				e.last = p.Value
			}
		}
		e.seen, e.idx = t.seq, i
		next[i] = e
		fn(c, &e.state)
	}
	if len(t.bySeries) != len(s.Points) {
		for ser, e := range t.bySeries {
			if e.seen != t.seq {
				if gone != nil {
					gone(&e.state)
				}
				delete(t.bySeries, ser)
			}
		}
	}
	// Keep s for the next deltas; recycle the older position table.
	t.prevPos, t.nextPos = next, t.prevPos[:0]
	t.prev = s
}

// Len returns the number of series tracked.
func (t *Tracker[T]) Len() int { return len(t.bySeries) }
