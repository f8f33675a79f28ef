package metric

import (
	"math"
	"sync/atomic"
)

// Gauge is an integer that goes up and down: queue depth, open
// connections, bytes in use. It is one atomic word: Set has
// last-writer-wins semantics that a striped value could not give. For a
// value that many goroutines move at a high rate, count the ups and downs
// with two Counters and take the difference when reading instead.
//
// The zero value is ready to use.
type Gauge struct {
	v atomic.Int64
}

// Set sets the gauge to v.
func (g *Gauge) Set(v int64) { g.v.Store(v) }

// Add adds d, which may be negative.
func (g *Gauge) Add(d int64) { g.v.Add(d) }

// Inc adds one.
func (g *Gauge) Inc() { g.v.Add(1) }

// Dec subtracts one.
func (g *Gauge) Dec() { g.v.Add(-1) }

// Value returns the current value.
func (g *Gauge) Value() int64 { return g.v.Load() }

// FloatGauge is a float64 that goes up and down: a temperature, a ratio
// computed elsewhere, a configured limit. NaN and infinities are stored as
// given (Prometheus allows them on gauges).
//
// The zero value is ready to use and reads 0.
type FloatGauge struct {
	bits atomic.Uint64
}

// Set sets the gauge to v.
func (g *FloatGauge) Set(v float64) { g.bits.Store(math.Float64bits(v)) }

// Add adds d, which may be negative.
func (g *FloatGauge) Add(d float64) {
	for {
		old := g.bits.Load()
		nv := math.Float64bits(math.Float64frombits(old) + d)
		if g.bits.CompareAndSwap(old, nv) {
			return
		}
	}
}

// Value returns the current value.
func (g *FloatGauge) Value() float64 { return math.Float64frombits(g.bits.Load()) }
