package vitals

import (
	"math"
	"slices"
	"time"

	"github.com/bizra/vitals/metric"
	"github.com/bizra/vitals/window"
)

// Snapshot is the state of every series at one collector tick, with each
// series' change since the previous tick. It is immutable once published:
// consumers share one Snapshot and must not modify it or anything it
// points to. Points expose their series only through read-only methods.
type Snapshot struct {
	// Seq numbers snapshots from 1, one per tick.
	Seq uint64
	// Time is the Monitor clock's time of the tick.
	Time time.Time
	// Elapsed is the time since the previous tick; 0 for the first, and
	// when the clock went backwards.
	Elapsed time.Duration
	// Points holds one entry per series, grouped by family in
	// registration order.
	Points []Point

	index *pointIndex // shared by consecutive snapshots with the same series
}

// Point is one series' value at a tick, and its change since the previous
// tick. The collector computes the change once per tick for every
// consumer: operations, monitors, windows, history, alerts and streams all
// read the same numbers.
//
// Changes are relative to the previous snapshot (Seq-1). A Consumer sees
// every snapshot; a Subscription may skip some (it keeps the latest), so a
// subscriber that needs exact increases should sum cumulative values
// instead.
type Point struct {
	fam *metric.Family
	ser *metric.Series

	// Value is a counter's or gauge's value, cumulative for counters. NaN
	// for histograms, and for a callback that failed.
	Value float64
	// Hist is a histogram's cumulative state; nil for other kinds.
	// Read-only.
	Hist *metric.HistogramValue

	// New reports that this is the first snapshot holding the series.
	New bool
	// Increase is a counter's increase since the previous tick. A counter
	// that went down was reset, and its new value is the increase. A new
	// instrument series counts its whole value (it started at 0 after the
	// previous tick); a new callback series counts 0, its earlier history
	// being unknown. NaN when unknown (a failed callback) and for other
	// kinds.
	Increase float64
	// Delta is a histogram's observations since the previous tick (all of
	// them for a new series); nil for other kinds. Read-only.
	Delta *metric.HistogramValue
}

// Name returns the metric name.
func (p *Point) Name() string { return p.fam.Name }

// Kind returns the family's kind.
func (p *Point) Kind() metric.Kind { return p.fam.Kind }

// Help returns the family's help text.
func (p *Point) Help() string { return p.fam.Help }

// Unit returns the family's unit ("" when none).
func (p *Point) Unit() string { return p.fam.Unit }

// LabelNames returns the family's label names. The slice is shared: do
// not modify it.
func (p *Point) LabelNames() []string { return p.fam.Labels }

// LabelValues returns the series' label values, in the order of
// LabelNames. The slice is shared: do not modify it.
func (p *Point) LabelValues() []string { return p.ser.Values }

// LabelValue returns the value of the named label, or "" when the family
// has no such label.
func (p *Point) LabelValue(name string) string {
	if i := slices.Index(p.fam.Labels, name); i >= 0 {
		return p.ser.Values[i]
	}
	return ""
}

// LabelsText returns the label set as the text formats print it, without
// braces: `op="get",tier="l1"`; "" for a family without labels.
func (p *Point) LabelsText() string { return p.ser.Text }

// SeriesID returns the series' registry-wide ID, never reused.
func (p *Point) SeriesID() uint64 { return p.ser.ID }

// IsFunc reports whether the series' value comes from a callback.
func (p *Point) IsFunc() bool { return p.ser.IsFunc() }

// Overflow reports whether this is a family's overflow series, which
// collects the label sets past its cap.
func (p *Point) Overflow() bool { return p.ser.Overflow }

// Is reports whether the point belongs to the given series.
func (p *Point) Is(s *metric.Series) bool { return p.ser == s }

// Of reports whether the point belongs to the given family.
func (p *Point) Of(f *metric.Family) bool { return p.fam == f }

// Key returns the series' identity as Prometheus would print it:
// name{label="value",...}.
func (p *Point) Key() string {
	if p.ser.Text == "" {
		return p.fam.Name
	}
	return p.fam.Name + "{" + p.ser.Text + "}"
}

// pointIndex maps series and families to their positions in Points. It
// is built when the registry's series change and shared, read-only, by
// every snapshot until they change again.
type pointIndex struct {
	series   map[*metric.Series]int
	families map[*metric.Family][2]int // [start, end) in Points
}

func newPointIndex(points []Point) *pointIndex {
	ix := &pointIndex{series: make(map[*metric.Series]int, len(points)), families: make(map[*metric.Family][2]int)}
	for i := range points {
		p := &points[i]
		ix.series[p.ser] = i
		r, ok := ix.families[p.fam]
		if !ok {
			r[0] = i
		}
		r[1] = i + 1
		ix.families[p.fam] = r
	}
	return ix
}

// Find returns the point of the series, or nil when the snapshot does not
// hold it (created after the tick read the registry, or deleted). It is a
// map lookup by pointer: consumers look their series up once
// (metric.Family.Find) and find them in each snapshot with it.
func (s *Snapshot) Find(ser *metric.Series) *Point {
	if s.index == nil || ser == nil {
		return nil
	}
	if i, ok := s.index.series[ser]; ok {
		return &s.Points[i]
	}
	return nil
}

// Family returns the points of one family, in series creation order (nil
// when the snapshot holds none). The slice is part of the snapshot: do not
// modify it.
func (s *Snapshot) Family(f *metric.Family) []Point {
	if s.index == nil {
		return nil
	}
	if r, ok := s.index.families[f]; ok {
		return s.Points[r[0]:r[1]:r[1]]
	}
	return nil
}

// Lookup returns the point of the series with the given name and label
// values. It scans the snapshot: consumers that look up series every tick
// should use Find.
func (s *Snapshot) Lookup(name string, labelValues ...string) (*Point, bool) {
	for i := range s.Points {
		p := &s.Points[i]
		if p.fam.Name == name && slices.Equal(p.ser.Values, labelValues) {
			return p, true
		}
	}
	return nil, false
}

// RingFeed adds one series' per-tick change to a rolling window: what a
// monitor does each tick for every series it keeps a window of. It reads
// the change the collector computed, so the monitor neither re-reads its
// instruments nor keeps a previous value.
type RingFeed struct {
	Ring *window.Ring
	// Series is the series fed (metric.Family.Find). A series the
	// snapshot does not hold feeds an empty tick: time passes, nothing is
	// added. nil feeds nothing (an instrument outside the registry).
	Series *metric.Series
}

var emptyHistogram metric.HistogramValue

// Feed adds the series' change in s: a counter's increase, a histogram's
// observations, a gauge's value.
func (f *RingFeed) Feed(s *Snapshot) {
	if f.Series == nil {
		return
	}
	p := s.Find(f.Series)
	switch {
	case p == nil:
		if f.Series.Histogram != nil {
			f.Ring.AddHistogram(s.Time, s.Elapsed, &emptyHistogram)
		} else if f.Series.Gauge == nil && f.Series.FloatGauge == nil {
			f.Ring.AddCounter(s.Time, s.Elapsed, 0)
		} else {
			f.Ring.AddGauge(s.Time, s.Elapsed, math.NaN())
		}
	case p.Delta != nil:
		f.Ring.AddHistogram(s.Time, s.Elapsed, p.Delta)
	case p.fam.Kind == metric.KindCounter:
		inc := p.Increase
		if math.IsNaN(inc) {
			inc = 0
		}
		f.Ring.AddCounter(s.Time, s.Elapsed, inc)
	default:
		f.Ring.AddGauge(s.Time, s.Elapsed, p.Value)
	}
}
