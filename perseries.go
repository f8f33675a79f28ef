package vitals

import "github.com/bizra/vitals/metric"

// PerSeries keeps one value of type T per series for a consumer that
// needs state beyond what a Point carries (a rolling window, an open
// rollup). Series are matched by identity, with a fast path for the usual
// case that a series keeps its position in the snapshot: no string is
// built or hashed per tick.
//
// Feed it every snapshot you consume, in order. The zero value is ready to
// use. A PerSeries is not safe for concurrent use.
type PerSeries[T any] struct {
	prevPos  []*stateEntry[T] // prevPos[i] is the entry of the previous snapshot's Points[i]
	nextPos  []*stateEntry[T]
	bySeries map[*metric.Series]*stateEntry[T]
	seq      uint64
}

type stateEntry[T any] struct {
	series *metric.Series
	seen   uint64 // PerSeries.seq of the last update that held the series
	state  T
}

// Update calls fn with every point of s and the series' state (the zero
// T on first sight). Series of the previous snapshot that s no longer holds
// (deleted from the registry) are forgotten; gone, if not nil, is called
// with each one's state first.
func (t *PerSeries[T]) Update(s *Snapshot, fn func(p *Point, state *T), gone func(state *T)) {
	if t.bySeries == nil {
		t.bySeries = make(map[*metric.Series]*stateEntry[T])
	}
	t.seq++
	if cap(t.nextPos) < len(s.Points) {
		t.nextPos = make([]*stateEntry[T], len(s.Points))
	}
	next := t.nextPos[:len(s.Points)]
	for i := range s.Points {
		p := &s.Points[i]
		var e *stateEntry[T]
		if i < len(t.prevPos) && t.prevPos[i] != nil && t.prevPos[i].series == p.ser {
			e = t.prevPos[i]
		} else if e = t.bySeries[p.ser]; e == nil {
			e = &stateEntry[T]{series: p.ser}
			t.bySeries[p.ser] = e
		}
		e.seen = t.seq
		next[i] = e
		fn(p, &e.state)
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
	t.prevPos, t.nextPos = next, t.prevPos[:0]
}

// Len returns the number of series tracked.
func (t *PerSeries[T]) Len() int { return len(t.bySeries) }
