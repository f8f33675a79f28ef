package window

import (
	"time"

	"github.com/bizra/vitals/metric"
)

// Ring is a rolling time window over one series, fed with per-tick deltas.
// It keeps Slots sub-windows of Length/Slots each: the current one, which
// ticks add to, and Slots-1 closed ones. The window is the current slot
// plus the closed ones, so it covers between (Slots-1)/Slots and all of
// Length and moves in steps of Length/Slots.
//
// The cost of a tick is proportional to the delta's size (its populated
// buckets), never to the window length: a tick touches only the current
// slot. A histogram's closed slots are kept encoded (1–2 bytes a bucket)
// and summed in a running total; a slot that expires is subtracted from
// it, so quantiles read one merged bucket list and never average per-slot
// percentiles. They keep the histogram's error bound (0.54% at schema 6).
//
// A clock that goes back by less than the window leaves it as it is
// (later ticks count into the current slot until the clock catches up);
// one that goes back by more, or jumps forward by more than the window,
// empties it.
//
// Several windows over one series are cheaper as a Stack. The zero value
// is not usable; construct with New. A Ring is not safe for concurrent
// use: its owner (one consumer of the Monitor's snapshots) serialises
// access.
type Ring struct {
	s Stack
}

// New returns a Ring of the given length split into slots sub-windows.
// slots is clamped to [1, 3600]; a length of 0 or less means one minute.
func New(length time.Duration, slots int) *Ring {
	return &Ring{s: *NewStack([]time.Duration{length}, slots)}
}

// Length returns the window's length.
func (r *Ring) Length() time.Duration { return r.s.levels[0].length }

// Slots returns the number of sub-windows.
func (r *Ring) Slots() int { return len(r.s.levels[0].slots) }

// The Add methods take the time of the tick and the time it covers
// (elapsed since the previous tick), which rates are computed from.

// AddCounter adds a counter's increase during one tick. Min and Max of the
// window are the lowest and highest per-second rate of one tick, so they
// skip ticks that cover no time. A NaN increase is skipped.
func (r *Ring) AddCounter(now time.Time, elapsed time.Duration, increase float64) {
	r.s.AddCounter(now, elapsed, increase)
}

// AddGauge adds one gauge sample. A NaN sample (a failed callback) is
// remembered as the last value and otherwise skipped.
func (r *Ring) AddGauge(now time.Time, elapsed time.Duration, v float64) {
	r.s.AddGauge(now, elapsed, v)
}

// AddHistogram adds the observations of one tick (a delta from
// HistogramValue.Sub). d is not retained. Its Min and Max are taken as the
// lifetime extremes that Sub leaves there; the window's extremes are the
// bounds of the delta's outer buckets clamped to them.
func (r *Ring) AddHistogram(now time.Time, elapsed time.Duration, d *metric.HistogramValue) {
	r.s.AddHistogram(now, elapsed, d)
}

// Stats are a window's statistics at one moment. Fields that do not apply
// to the series' kind, or that have no data, are NaN; Count and Sum of an
// empty window are 0.
//
//	         counter              gauge               histogram
//	Count    increase             samples             observations
//	Sum      increase             samples' sum        observed values' sum
//	Rate     increase per second  NaN                 observations per second
//	Min/Max  per-tick rate        exact               within one bucket (1.09%)
//	Avg      Rate                 mean sample         mean observed value
//	Last     NaN (see aggregate)  latest sample       NaN
//	P50…P999 NaN                  NaN                 within 0.54%
type Stats struct {
	Window  time.Duration // the window's length
	Covered time.Duration // how much of it holds data (less just after start)
	Samples uint64        // ticks (gauges: samples) in the window
	Count   float64
	Sum     float64
	Rate    float64
	Min     float64
	Max     float64
	Avg     float64
	Last    float64
	P50     float64
	P90     float64
	P95     float64
	P99     float64
	P999    float64
}

var statQuantiles = []float64{0.5, 0.9, 0.95, 0.99, 0.999}

// Stats returns the window's statistics as of now. It does not allocate.
func (r *Ring) Stats(now time.Time) Stats { return r.s.Stats(now, 0) }

// Histogram returns the window's merged histogram as of now: a copy.
// Its Min and Max are the window's bucket-bound extremes.
func (r *Ring) Histogram(now time.Time) metric.HistogramValue { return r.s.Histogram(now, 0) }

// MemBytes estimates the ring's heap footprint in bytes.
func (r *Ring) MemBytes() int { return r.s.MemBytes() }
