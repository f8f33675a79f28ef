package history

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/bizra/vitals/metric"
)

// The benchmark workload: 1,000 series, 100 of them histograms.
//
//   - 100 latency histograms (one per route), 20 observations a second
//     each, lognormal with a median between 2 ms and 200 ms by route and
//     σ = 0.5 (p99 ≈ 3.2 × median);
//   - 600 counters, a third idle, the rest counting 1 to 100 events a
//     second;
//   - 300 integer gauges wandering between 0 and 1,000.
//
// wlSeries is the total; the Monitor's own self-metrics come on top.
const (
	wlHist     = 100
	wlCounters = 600
	wlGauges   = 300
	wlSeries   = wlHist + wlCounters + wlGauges
	wlObsPerS  = 20
)

type workload struct {
	rng      *rand.Rand
	hists    []*metric.Histogram
	counters []*metric.Counter
	gauges   []*metric.Gauge
	rates    []uint64  // per counter, events a second
	levels   []int64   // per gauge
	samples  []float64 // latencies to cycle through (per route: scaled)
	medians  []float64
	next     int
}

func newWorkload(r *metric.Registry, seed uint64) *workload {
	w := &workload{rng: rand.New(rand.NewPCG(seed, 99))}
	hv := r.HistogramVec(metric.Opts{Name: "bench_request_duration_seconds", Help: "Request latency.", Unit: "seconds",
		Labels: []string{"route"}, MaxSeries: wlHist})
	cv := r.CounterVec(metric.Opts{Name: "bench_events_total", Help: "Events.", Labels: []string{"kind"}, MaxSeries: wlCounters})
	gv := r.GaugeVec(metric.Opts{Name: "bench_level", Help: "A level.", Labels: []string{"i"}, MaxSeries: wlGauges})
	for i := range wlHist {
		w.hists = append(w.hists, hv.With(fmt.Sprintf("/route/%d", i)))
		w.medians = append(w.medians, 0.002*math.Pow(100, float64(i%10)/9))
	}
	for i := range wlCounters {
		w.counters = append(w.counters, cv.With(fmt.Sprintf("k%d", i)))
		rate := uint64(0)
		if i%3 != 0 {
			rate = 1 + uint64(w.rng.IntN(100))
		}
		w.rates = append(w.rates, rate)
	}
	for i := range wlGauges {
		w.gauges = append(w.gauges, gv.With(fmt.Sprint(i)))
		w.levels = append(w.levels, int64(w.rng.IntN(1000)))
	}
	w.samples = make([]float64, 1<<16)
	for i := range w.samples {
		w.samples[i] = math.Exp(0.5 * w.rng.NormFloat64())
	}
	return w
}

// second records one second of activity on the instruments.
func (w *workload) second() {
	for i, h := range w.hists {
		m := w.medians[i]
		for range wlObsPerS {
			h.Observe(m * w.samples[w.next&(len(w.samples)-1)])
			w.next++
		}
	}
	for i, c := range w.counters {
		if w.rates[i] != 0 {
			c.Add(w.rates[i] - 1 + uint64(w.next%3))
		}
	}
	for i, g := range w.gauges {
		w.levels[i] = min(1000, max(0, w.levels[i]+int64(w.rng.IntN(21)-10)))
		g.Set(w.levels[i])
	}
	w.next++
}

// synth produces the workload's records directly, a minute (or any step)
// at a time, for simulations too long to drive through instruments: the
// same records the Store builds from ticks, at a thousandth of the cost.
type synth struct {
	w      *workload
	deltas [][]metric.HistogramValue // per route shape: minute deltas to pick from
	last   []float64                 // counters' values
}

func newSynth(w *workload) *synth {
	s := &synth{w: w, last: make([]float64, wlCounters)}
	for shape := range 10 {
		var list []metric.HistogramValue
		for range 32 {
			h := metric.NewHistogram(nil)
			for range 60 * wlObsPerS {
				h.Observe(w.medians[shape] * math.Exp(0.5*w.rng.NormFloat64()))
			}
			var v metric.HistogramValue
			h.Read(&v)
			v.ClassicBounds, v.ClassicCounts = nil, nil
			list = append(list, v)
		}
		s.deltas = append(s.deltas, list)
	}
	return s
}

// fill sets acc to series i's record for one minute of 60 ticks.
func (s *synth) fill(i int, acc *rollup) {
	w := s.w
	acc.ticks, acc.ms = 60, 60000
	switch {
	case i < wlHist:
		d := &s.deltas[i%10][w.rng.IntN(32)]
		acc.addHist(d)
	case i < wlHist+wlCounters:
		c := i - wlHist
		r := float64(w.rates[c])
		inc := 0.0
		if r > 0 {
			inc = 60*r + float64(w.rng.IntN(61)-30)
			acc.lo, acc.hi = r-1, r+1
		} else {
			acc.lo, acc.hi = 0, 0
		}
		s.last[c] += inc
		acc.a, acc.last = inc, s.last[c]
	default:
		g := i - wlHist - wlCounters
		for range 60 {
			w.levels[g] = min(1000, max(0, w.levels[g]+int64(w.rng.IntN(21)-10)))
			acc.addGauge(float64(w.levels[g]))
		}
	}
}

// synthSeries registers the workload's series in st's catalog as a
// Consume would, and returns their open records.
func synthSeries(st *Store, reg *metric.Registry) []*openSeries {
	var out []*openSeries
	for _, f := range reg.Families() {
		if f.Name != "bench_request_duration_seconds" && f.Name != "bench_events_total" && f.Name != "bench_level" {
			continue
		}
		for _, ser := range f.Series() {
			key := f.Name
			if ser.Text != "" {
				key += "{" + ser.Text + "}"
			}
			info := st.lookupOrAddSeries(key, f.Name, f.Kind, f.Unit, f.Help)
			os := &openSeries{info: info}
			os.acc.reset(info.kind)
			out = append(out, os)
		}
	}
	return out
}

// synthMinute seals one synthetic minute starting at t into st.
func (s *synth) minute(st *Store, series []*openSeries, t time.Time) {
	st.cmu.Lock()
	defer st.cmu.Unlock()
	st.series = series
	for i, os := range series {
		os.acc.reset(os.info.kind)
		s.fill(i, &os.acc)
	}
	st.hasOpen, st.openStart = true, t.Unix()
	st.ticks, st.ms = 60, 60000
	st.sealLocked()
	st.hasOpen = false
}
