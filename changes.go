package vitals

import (
	"math"

	"github.com/bizra/vitals/metric"
)

// changeTracker fills in every point's change since the previous snapshot:
// the one place per-tick changes are computed. Series are matched by their
// *metric.Series, with a fast path for the usual case that a series keeps
// its position; no string is built or hashed per tick. Histogram deltas
// are taken against the previous snapshot's values (snapshots are
// immutable), so nothing is copied to remember them.
type changeTracker struct {
	prev     *Snapshot
	prevPos  []*seriesEntry // prevPos[i] is the entry of prev.Points[i]
	nextPos  []*seriesEntry
	bySeries map[*metric.Series]*seriesEntry
	seq      uint64
	scratch  metric.HistogramValue
	empty    metric.HistogramValue
	arena    [2]int // delta bucket and classic counts of the last tick, to size the next arenas
}

type seriesEntry struct {
	series *metric.Series
	seen   uint64  // changeTracker.seq of the last tick that held the series
	idx    int     // its index in that snapshot
	last   float64 // a counter's last non-NaN value; NaN before one
}

// apply computes the changes of s's points against the previous snapshot
// and sets s.index, reusing the previous one when the series are the same.
// It allocates three slices per tick for histogram deltas (values, bucket
// and classic arenas), whatever the number of series.
func (t *changeTracker) apply(s *Snapshot, nHist int) {
	if t.bySeries == nil {
		t.bySeries = make(map[*metric.Series]*seriesEntry)
	}
	t.seq++
	if cap(t.nextPos) < len(s.Points) {
		t.nextPos = make([]*seriesEntry, len(s.Points))
	}
	next := t.nextPos[:len(s.Points)]
	deltas := make([]metric.HistogramValue, 0, nHist)
	buckets := make([]metric.Bucket, 0, t.arena[0])
	classic := make([]uint64, 0, t.arena[1])
	sameLayout := t.prev != nil && len(t.prev.Points) == len(s.Points)
	for i := range s.Points {
		p := &s.Points[i]
		var e *seriesEntry
		if i < len(t.prevPos) && t.prevPos[i] != nil && t.prevPos[i].series == p.ser {
			e = t.prevPos[i]
		} else {
			sameLayout = false
			if e = t.bySeries[p.ser]; e == nil {
				e = &seriesEntry{series: p.ser, last: math.NaN()}
				t.bySeries[p.ser] = e
			}
		}
		p.New = e.seen == 0 || e.seen != t.seq-1
		p.Increase = math.NaN()
		switch {
		case p.Hist != nil:
			earlier := &t.empty
			if !p.New {
				earlier = t.prev.Points[e.idx].Hist
			}
			t.scratch.Sub(p.Hist, earlier)
			var d *metric.HistogramValue
			if len(deltas) < cap(deltas) {
				deltas = append(deltas, t.scratch)
				d = &deltas[len(deltas)-1]
			} else { // a histogram series was added since counting
				d = new(metric.HistogramValue)
				*d = t.scratch
			}
			b0, c0 := len(buckets), len(classic)
			buckets = append(buckets, t.scratch.Buckets...)
			classic = append(classic, t.scratch.ClassicCounts...)
			// Full slice expressions: a later append to an arena never
			// writes into this delta.
			d.Buckets = buckets[b0:len(buckets):len(buckets)]
			d.ClassicCounts = classic[c0:len(classic):len(classic)]
			p.Delta = d
		case p.fam.Kind == metric.KindCounter:
			switch {
			case math.IsNaN(p.Value):
			case math.IsNaN(e.last):
				if p.ser.IsFunc() {
					p.Increase = 0
				} else {
					p.Increase = p.Value
				}
			case p.Value < e.last:
				p.Increase = p.Value
			default:
				p.Increase = p.Value - e.last
			}
			if !math.IsNaN(p.Value) {
				e.last = p.Value
			}
		}
		e.seen, e.idx = t.seq, i
		next[i] = e
	}
	if len(t.bySeries) != len(s.Points) {
		for ser, e := range t.bySeries {
			if e.seen != t.seq {
				delete(t.bySeries, ser)
			}
		}
	}
	t.arena = [2]int{len(buckets), len(classic)}
	if sameLayout {
		s.index = t.prev.index
	} else {
		s.index = newPointIndex(s.Points)
	}
	t.prevPos, t.nextPos = next, t.prevPos[:0]
	t.prev = s
}
