package bench

import (
	"bytes"
	"fmt"
	"runtime"
	"sync"
	"testing"

	"github.com/bizra/vitals"
	"github.com/bizra/vitals/exposition"
	"github.com/bizra/vitals/metric"
	"github.com/prometheus/client_golang/prometheus"
)

// Memory and read cost against the number of Ps (issue 9, section 1).
//
// Every benchmark here runs at GOMAXPROCS 1, 2, 8 and 64 whatever -cpu
// says, and fills its instruments from every P: GOMAXPROCS goroutines wait
// at a barrier and then observe together, so the scheduler spreads them
// over all Ps (64 Ps on this 2-core machine are 64 Ms taking turns, and
// each P writes each instrument). The values are the same at every
// GOMAXPROCS, split among the goroutines, so what changes with the P count
// is only how the instruments lay out per-core state: what is measured
// depends on that layout, not on real parallelism, and a 2-core machine
// shows what a 64-core one would hold.

var procCounts = []int{1, 2, 8, 64}

const fillRounds = 4

// fillFromEveryP calls observe(i) for i in [0, n) fillRounds times, each
// round split round-robin among GOMAXPROCS goroutines released together.
func fillFromEveryP(n int, observe func(i int)) {
	procs := runtime.GOMAXPROCS(0)
	for range fillRounds {
		var ready, done sync.WaitGroup
		start := make(chan struct{})
		ready.Add(procs)
		done.Add(procs)
		for g := range procs {
			go func() {
				defer done.Done()
				ready.Done()
				<-start
				for i := g; i < n; i += procs {
					observe(i)
				}
			}()
		}
		ready.Wait()
		close(start)
		done.Wait()
	}
}

// liveBytes returns the heap held by what build returns, per instrument:
// the heap after a full GC with the instruments alive, minus the heap
// before they were made.
func liveBytes(n int, build func() any) float64 {
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	keep := build()
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(keep)
	return float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / float64(n)
}

func withProcs(b *testing.B, procs int, f func(b *testing.B)) {
	b.Run(fmt.Sprintf("gomaxprocs=%d", procs), func(b *testing.B) {
		prev := runtime.GOMAXPROCS(procs)
		defer runtime.GOMAXPROCS(prev)
		f(b)
	})
}

// BenchmarkInstrumentMemory reports the bytes one histogram and one
// counter hold after every P has observed into them (the whole latency
// stream, four times), for vitals and
// client_golang (native histogram at schema 6, vitals' resolution, which
// is what a vitals histogram exports; and client_golang's counter). The
// figure is B/instrument over 100 instruments; the loop does nothing.
func BenchmarkInstrumentMemory(b *testing.B) {
	const n = 100
	for _, procs := range procCounts {
		withProcs(b, procs, func(b *testing.B) {
			b.Run("histogram/vitals", func(b *testing.B) {
				per := liveBytes(n, func() any {
					hs := make([]*metric.Histogram, n)
					for i := range hs {
						hs[i] = metric.NewHistogram(nil)
					}
					fillFromEveryP(ringSize, func(i int) {
						v := latencies[i]
						for _, h := range hs {
							h.Observe(v)
						}
					})
					return hs
				})
				for b.Loop() {
				}
				b.ReportMetric(per, "B/instrument")
			})
			b.Run("histogram/prom_native_s6", func(b *testing.B) {
				per := liveBytes(n, func() any {
					hs := make([]prometheus.Histogram, n)
					for i := range hs {
						hs[i] = newPromNative(promNativeFactorSchema6)
					}
					fillFromEveryP(ringSize, func(i int) {
						v := latencies[i]
						for _, h := range hs {
							h.Observe(v)
						}
					})
					return hs
				})
				for b.Loop() {
				}
				b.ReportMetric(per, "B/instrument")
			})
			b.Run("counter/vitals", func(b *testing.B) {
				per := liveBytes(n, func() any {
					cs := make([]*metric.Counter, n)
					for i := range cs {
						cs[i] = new(metric.Counter)
					}
					fillFromEveryP(ringSize, func(int) {
						for _, c := range cs {
							c.Inc()
						}
					})
					return cs
				})
				for b.Loop() {
				}
				b.ReportMetric(per, "B/instrument")
			})
			b.Run("counter/prom", func(b *testing.B) {
				per := liveBytes(n, func() any {
					cs := make([]prometheus.Counter, n)
					for i := range cs {
						cs[i] = prometheus.NewCounter(prometheus.CounterOpts{Name: "bench_total", Help: "Benchmark counter."})
					}
					fillFromEveryP(ringSize, func(int) {
						for _, c := range cs {
							c.Inc()
						}
					})
					return cs
				})
				for b.Loop() {
				}
				b.ReportMetric(per, "B/instrument")
			})
		})
	}
}

// readFixture is a registry of 1,000 histograms and 9,000 counters (10
// and 90 families of 100 series), every series written from every P.
func readFixture() *metric.Registry {
	reg := metric.NewRegistry()
	var hs []*metric.Histogram
	var cs []*metric.Counter
	for f := range histogramFamilies {
		vec := reg.HistogramVec(metric.Opts{Name: histogramFamilyName(f), Unit: "seconds", Help: "Benchmark request duration.", Labels: []string{"route"}})
		for i := range seriesPerFamily {
			hs = append(hs, vec.With(route(i)))
		}
	}
	for f := range counterFamilies {
		vec := reg.CounterVec(metric.Opts{Name: counterFamilyName(f), Help: "Benchmark requests.", Labels: []string{"route", "code"}})
		for i := range seriesPerFamily {
			r, c := counterLabels(i)
			cs = append(cs, vec.With(r, c))
		}
	}
	// The scrape fixture's values (obsPerHistogram per series), each one
	// observed once per round, by whichever goroutine the split gives it.
	fillFromEveryP(obsPerHistogram, func(k int) {
		for j, h := range hs {
			h.Observe(latencies[(j*131+k)&ringMask])
		}
		for _, c := range cs {
			c.Inc()
		}
	})
	return reg
}

// BenchmarkReadScaling times what reads every instrument: a scrape of the
// registry in the text format and a collector tick of a Monitor over it,
// at each GOMAXPROCS. Issue 9's target: at 64 Ps at most twice the cost at
// 2 Ps. The fixture is built and read once before the timing.
func BenchmarkReadScaling(b *testing.B) {
	for _, procs := range procCounts {
		withProcs(b, procs, func(b *testing.B) {
			reg := readFixture()
			b.Run("scrape", func(b *testing.B) {
				var buf bytes.Buffer
				_ = exposition.WriteText(&buf, reg, nil)
				b.ReportAllocs()
				for b.Loop() {
					buf.Reset()
					if err := exposition.WriteText(&buf, reg, nil); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("tick", func(b *testing.B) {
				m := vitals.New(&vitals.Options{Registry: reg})
				m.Collect()
				b.ReportAllocs()
				for b.Loop() {
					m.Collect()
				}
			})
		})
	}
}
