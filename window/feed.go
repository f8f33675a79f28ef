package window

import (
	"time"

	"github.com/bizra/vitals/metric"
)

// CounterFeed adds a cumulative counter's increase since the previous
// call to a Ring: what a monitor does once per collector tick for each
// counter it keeps windows of. A value lower than the previous one (a
// reset) adds nothing and restarts from it.
type CounterFeed struct {
	Ring *Ring
	prev uint64
}

// Add feeds the counter's current value.
func (f *CounterFeed) Add(now time.Time, elapsed time.Duration, cumulative uint64) {
	var d uint64
	if cumulative > f.prev {
		d = cumulative - f.prev
	}
	f.prev = cumulative
	f.Ring.AddCounter(now, elapsed, float64(d))
}

// HistogramFeed reads a histogram and adds the observations made since the
// previous call to a Ring. It keeps its read buffers between calls, so a
// tick allocates nothing once the buffers have grown.
type HistogramFeed struct {
	Ring             *Ring
	cur, prev, delta metric.HistogramValue
}

// Add reads h and feeds the delta.
func (f *HistogramFeed) Add(now time.Time, elapsed time.Duration, h *metric.Histogram) {
	h.Read(&f.cur)
	f.delta.Sub(&f.cur, &f.prev)
	f.Ring.AddHistogram(now, elapsed, &f.delta)
	f.cur, f.prev = f.prev, f.cur // keep both slices for reuse
}
