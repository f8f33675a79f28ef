package perfscore

import (
	"math"
	"runtime/metrics"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/bizra/vitals"
	"github.com/bizra/vitals/score"
)

// Threshold is a factor's target (scores 100 at or better) and limit
// (scores 0 at or past), in the factor's unit. Setting only one of them
// derives the other with the default's ratio.
type Threshold struct {
	Target, Limit float64
}

func (t Threshold) or(def Threshold) Threshold {
	// Half a threshold keeps the default's ratio: a Target alone must
	// not leave Limit at 0, which would turn the factor upside down.
	switch {
	case t.Target == 0 && t.Limit == 0:
		return def
	case t.Limit == 0:
		t.Limit = t.Target * def.Limit / def.Target
	case t.Target == 0:
		t.Target = t.Limit * def.Target / def.Limit
	}
	return t
}

// RuntimeOptions configure the "runtime" component score. Zero
// thresholds take the defaults written on each field.
type RuntimeOptions struct {
	// Goroutines alive. Default target 10,000, limit 100,000.
	Goroutines Threshold
	// SchedLatencyP99 is the 99th percentile of the time runnable
	// goroutines waited for a CPU, in seconds. Default 5 ms, 50 ms.
	SchedLatencyP99 Threshold
	// GCPauseP99 is the 99th percentile of stop-the-world GC pauses, in
	// seconds. Default 2 ms, 20 ms.
	GCPauseP99 Threshold
	// GCCPU is the share of the process's available CPU time spent in
	// the garbage collector. Default 0.05, 0.25.
	GCCPU Threshold
	// MemoryLimitUse is the memory the runtime holds over GOMEMLIMIT; it
	// only counts when a limit is set. Default 0.8, 0.98.
	MemoryLimitUse Threshold
	// HeapGrowth is the live heap now over its minimum within
	// HeapGrowthWindow: a heap that keeps growing is a leak. Default
	// 1.5, 4.
	HeapGrowth Threshold
	// HeapGrowthWindow: 0: 10 minutes. The factor has no data until
	// half of it has been observed.
	HeapGrowthWindow time.Duration
}

// The runtime/metrics the runtime scorer reads.
const (
	rmGoroutines   = "/sched/goroutines:goroutines"
	rmSchedLat     = "/sched/latencies:seconds"
	rmGCPauses     = "/sched/pauses/total/gc:seconds"
	rmGCCPU        = "/cpu/classes/gc/total:cpu-seconds"
	rmTotalCPU     = "/cpu/classes/total:cpu-seconds"
	rmHeapLive     = "/gc/heap/live:bytes"
	rmMemLimit     = "/gc/gomemlimit:bytes"
	rmMemTotal     = "/memory/classes/total:bytes"
	rmHeapReleased = "/memory/classes/heap/released:bytes"
)

// RuntimeScorer scores the Go runtime from runtime/metrics: goroutines,
// scheduler latency, GC pauses and CPU, memory against GOMEMLIMIT and
// live-heap growth. Latencies and CPU shares cover the time since the
// previous Score (ScoreInterval when the engine calls it); the first
// Score has no data for them.
type RuntimeScorer struct {
	clock vitals.Clock
	o     RuntimeOptions
	read  func() reading // readRuntime; replaced in tests

	mu         sync.Mutex
	samples    []metrics.Sample
	prevNum    map[string]float64  // counters and gauges of the previous call
	prevCounts map[string][]uint64 // histogram counts of the previous call (Read reuses its own)
	hasPrev    bool
	heap       []heapSample
}

type heapSample struct {
	t    time.Time
	live float64
}

// NewRuntimeScorer returns a runtime scorer; clock (nil: the system
// clock) dates the heap samples.
func NewRuntimeScorer(clock vitals.Clock, opts *RuntimeOptions) *RuntimeScorer {
	var o RuntimeOptions
	if opts != nil {
		o = *opts
	}
	o.Goroutines = o.Goroutines.or(Threshold{1e4, 1e5})
	o.SchedLatencyP99 = o.SchedLatencyP99.or(Threshold{0.005, 0.05})
	o.GCPauseP99 = o.GCPauseP99.or(Threshold{0.002, 0.02})
	o.GCCPU = o.GCCPU.or(Threshold{0.05, 0.25})
	o.MemoryLimitUse = o.MemoryLimitUse.or(Threshold{0.8, 0.98})
	o.HeapGrowth = o.HeapGrowth.or(Threshold{1.5, 4})
	if o.HeapGrowthWindow <= 0 {
		o.HeapGrowthWindow = 10 * time.Minute
	}
	if clock == nil {
		clock = wallClock{}
	}
	names := []string{rmGoroutines, rmSchedLat, rmGCPauses, rmGCCPU, rmTotalCPU, rmHeapLive, rmMemLimit, rmMemTotal, rmHeapReleased}
	s := &RuntimeScorer{clock: clock, o: o, prevNum: make(map[string]float64), prevCounts: make(map[string][]uint64)}
	for _, n := range names {
		s.samples = append(s.samples, metrics.Sample{Name: n})
	}
	s.read = s.readRuntime
	return s
}

// reading is one read of the runtime metrics: numbers by name (NaN when
// this Go does not have the metric), and cumulative histograms whose
// Counts runtime/metrics reuses on the next read.
type reading struct {
	num   map[string]float64
	hists map[string]*metrics.Float64Histogram
}

func (s *RuntimeScorer) readRuntime() reading {
	metrics.Read(s.samples)
	r := reading{num: make(map[string]float64, len(s.samples)), hists: make(map[string]*metrics.Float64Histogram, 2)}
	for _, x := range s.samples {
		switch x.Value.Kind() {
		case metrics.KindUint64:
			r.num[x.Name] = float64(x.Value.Uint64())
		case metrics.KindFloat64:
			r.num[x.Name] = x.Value.Float64()
		case metrics.KindFloat64Histogram:
			r.hists[x.Name] = x.Value.Float64Histogram()
		default: // not supported by this Go version
			r.num[x.Name] = math.NaN()
		}
	}
	return r
}

type wallClock struct{}

func (wallClock) Now() time.Time { return time.Now() }

// Score implements Scorer.
func (s *RuntimeScorer) Score() score.Score {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock.Now()
	rd := s.read()
	cur, hists := rd.num, rd.hists
	get := func(name string) float64 {
		if v, ok := cur[name]; ok {
			return v
		}
		return math.NaN()
	}
	var fs []score.Factor

	// Goroutines.
	g := factor("goroutines", "goroutines", get(rmGoroutines), s.o.Goroutines)
	if !g.NoData && g.Observed > g.Target {
		g.Advice = strconv.FormatFloat(g.Observed, 'f', 0, 64) + " goroutines against a target of " +
			strconv.FormatFloat(g.Target, 'f', 0, 64) + ": look for goroutines that never exit (the goroutine profile, /debug/pprof/goroutine) or bound fan-out with a worker pool"
	}
	fs = append(fs, g)

	// Scheduler latency and GC pauses, over the time since the last call.
	sl := factor("sched latency p99", "seconds", s.deltaQuantile(hists, rmSchedLat, 0.99, 50), s.o.SchedLatencyP99)
	if !sl.NoData && sl.Observed > sl.Target {
		sl.Advice = "runnable goroutines waited " + score.FormatSeconds(sl.Observed) + " (p99) for a CPU against a " +
			score.FormatSeconds(sl.Target) + " target: the process is CPU-starved; raise its CPU limit (and GOMAXPROCS with it) or shed load"
	}
	fs = append(fs, sl)
	gp := factor("gc pause p99", "seconds", s.deltaQuantile(hists, rmGCPauses, 0.99, 1), s.o.GCPauseP99)
	if !gp.NoData && gp.Observed > gp.Target {
		gp.Advice = "GC stop-the-world pauses reach " + score.FormatSeconds(gp.Observed) + " (p99) against a " +
			score.FormatSeconds(gp.Target) + " target: check that the process is not CPU-throttled, and reduce very large pointer-rich heaps"
	}
	fs = append(fs, gp)

	// GC share of CPU.
	gcCPU := math.NaN()
	if s.hasPrev {
		dg := get(rmGCCPU) - s.prevNum[rmGCCPU]
		dt := get(rmTotalCPU) - s.prevNum[rmTotalCPU]
		if _, ok := s.prevNum[rmGCCPU]; !ok {
			dt = math.NaN()
		}
		if dt > 0 && dg >= 0 {
			gcCPU = dg / dt
		}
	}
	gc := factor("gc cpu", "ratio", gcCPU, s.o.GCCPU)
	if !gc.NoData && gc.Observed > gc.Target {
		gc.Advice = "the GC used " + percent(gc.Observed) + " of the CPU against a " + percent(gc.Target) +
			" target: allocate less on hot paths (the alloc profile), or give the heap more room with GOGC or GOMEMLIMIT"
	}
	fs = append(fs, gc)

	// Memory against GOMEMLIMIT, when one is set.
	limit := get(rmMemLimit)
	use := math.NaN()
	if limit > 0 && limit < math.MaxInt64/2 {
		use = (get(rmMemTotal) - get(rmHeapReleased)) / limit
	}
	ml := factor("memory limit use", "ratio", use, s.o.MemoryLimitUse)
	if !ml.NoData && ml.Observed > ml.Target {
		ml.Advice = "the runtime holds " + percent(ml.Observed) + " of GOMEMLIMIT against a " + percent(ml.Target) +
			" target: near the limit the GC runs continuously; raise the limit or reduce the live heap"
	}
	fs = append(fs, ml)

	// Live heap growth over the window.
	fs = append(fs, s.heapGrowth(now, get(rmHeapLive)))

	s.prevNum, s.hasPrev = cur, true
	for name, h := range hists {
		s.prevCounts[name] = append(s.prevCounts[name][:0], h.Counts...)
	}
	return score.New("runtime", fs)
}

func factor(name, unit string, observed float64, t Threshold) score.Factor {
	return score.Factor{Name: name, Unit: unit, Observed: observed, Target: t.Target, Limit: t.Limit,
		Weight: 1, NoData: math.IsNaN(observed)}
}

func (s *RuntimeScorer) heapGrowth(now time.Time, live float64) score.Factor {
	w := s.o.HeapGrowthWindow
	if !math.IsNaN(live) && live > 0 {
		s.heap = append(s.heap, heapSample{now, live})
	}
	// Drop samples older than the window, and any from the future (a
	// clock that went back).
	s.heap = slices.DeleteFunc(s.heap, func(h heapSample) bool { return now.Sub(h.t) > w || h.t.After(now) })
	growth := math.NaN()
	if n := len(s.heap); n > 1 && now.Sub(s.heap[0].t) >= w/2 {
		lo := s.heap[0].live
		for _, h := range s.heap {
			lo = math.Min(lo, h.live)
		}
		growth = s.heap[n-1].live / lo
		f := factor("heap growth", "ratio", growth, s.o.HeapGrowth)
		if f.Observed > f.Target {
			f.Advice = "the live heap grew " + strconv.FormatFloat(growth, 'f', 1, 64) + "x within " + w.String() +
				" (from " + mib(lo) + " to " + mib(s.heap[n-1].live) + "): if it keeps growing, look for a leak in the heap profile (/debug/pprof/heap)"
		}
		return f
	}
	return factor("heap growth", "ratio", growth, s.o.HeapGrowth)
}

func mib(b float64) string { return strconv.FormatFloat(b/(1<<20), 'f', 1, 64) + " MiB" }

// deltaQuantile is the q-quantile of a cumulative runtime histogram's
// increase since the previous call; NaN with fewer than minCount new
// observations or no previous call.
func (s *RuntimeScorer) deltaQuantile(hists map[string]*metrics.Float64Histogram, name string, q float64, minCount uint64) float64 {
	h, prev := hists[name], s.prevCounts[name]
	if !s.hasPrev || h == nil || len(prev) != len(h.Counts) {
		return math.NaN()
	}
	delta := make([]uint64, len(h.Counts))
	var total uint64
	for i := range delta {
		if h.Counts[i] > prev[i] {
			delta[i] = h.Counts[i] - prev[i]
		}
		total += delta[i]
	}
	return histQuantile(delta, h.Buckets, total, q, minCount)
}

// histQuantile returns the middle of the bucket holding the q-quantile
// (its finite bound when the other is infinite).
func histQuantile(counts []uint64, bounds []float64, total uint64, q float64, minCount uint64) float64 {
	if total == 0 || total < minCount || len(bounds) != len(counts)+1 {
		return math.NaN()
	}
	rank := uint64(math.Ceil(q * float64(total)))
	var cum uint64
	for i, n := range counts {
		cum += n
		if cum >= rank && n > 0 {
			lo, hi := bounds[i], bounds[i+1]
			switch {
			case math.IsInf(hi, 1):
				return lo
			case math.IsInf(lo, -1):
				return hi
			}
			return lo + (hi-lo)/2
		}
	}
	return math.NaN()
}

// percent renders a ratio for advice text: 0.0523 is "5.2%".
func percent(x float64) string {
	return strconv.FormatFloat(math.Round(x*1000)/10, 'f', -1, 64) + "%"
}
