package vitals

import (
	"slices"
	"time"

	"github.com/bizra/vitals/metric"
)

// Snapshot is the state of every series at one collector tick. It is
// immutable once published: consumers share one Snapshot and must not
// modify it or anything it points to.
type Snapshot struct {
	// Seq numbers snapshots from 1, one per tick.
	Seq uint64
	// Time is the Monitor clock's time of the tick.
	Time time.Time
	// Elapsed is the time since the previous tick; 0 for the first.
	Elapsed time.Duration
	// Points holds one entry per series, grouped by family in
	// registration order.
	Points []Point
}

// Point is one series' value at a tick. Values are cumulative (counters
// and histograms since the series was created); consumers that want rates
// or windows subtract the previous snapshot's point with the same
// Series.ID.
type Point struct {
	Family *metric.Family
	Series *metric.Series
	// Value is a counter's or gauge's value. NaN for histograms.
	Value float64
	// Hist is a histogram's state; nil for other kinds.
	Hist *metric.HistogramValue
}

// Name returns the metric name.
func (p *Point) Name() string { return p.Family.Name }

// Key returns the series' identity as Prometheus would print it:
// name{label="value",...}.
func (p *Point) Key() string {
	if p.Series.Text == "" {
		return p.Family.Name
	}
	return p.Family.Name + "{" + p.Series.Text + "}"
}

// Lookup returns the point of the series with the given name and label
// values. It scans the snapshot: consumers that look up many series per
// tick should index Points by Series.ID once instead.
func (s *Snapshot) Lookup(name string, labelValues ...string) (*Point, bool) {
	for i := range s.Points {
		p := &s.Points[i]
		if p.Family.Name == name && slices.Equal(p.Series.Values, labelValues) {
			return p, true
		}
	}
	return nil, false
}
