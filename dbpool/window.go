package dbpool

import (
	"math"
	"strconv"
	"time"

	"github.com/bizra/vitals"
	"github.com/bizra/vitals/score"
	"github.com/bizra/vitals/window"
)

const windowSlots = 60

// counterWin feeds a Ring with a counter's increase per tick.
type counterWin = vitals.RingFeed

// histWin feeds a Ring with a histogram's observations per tick.
type histWin = vitals.RingFeed

type opWindow struct {
	lat  histWin
	errs counterWin
}

type windows struct {
	length   time.Duration
	wait     histWin
	acquires [numResults]counterWin
	connErrs [numKinds]counterWin
	util     *window.Ring // in_use / max per tick
	waiters  *window.Ring // waiters per tick, for the peak
}

func newWindows(length time.Duration) *windows {
	w := &windows{length: length, util: window.New(length, windowSlots), waiters: window.New(length, windowSlots)}
	w.wait.Ring = window.New(length, windowSlots)
	for i := range w.acquires {
		w.acquires[i].Ring = window.New(length, windowSlots)
	}
	for i := range w.connErrs {
		w.connErrs[i].Ring = window.New(length, windowSlots)
	}
	return w
}

// LatencyStats summarise durations over the window, in seconds; NaN when
// there were none.
type LatencyStats struct {
	Count                    float64
	P50, P95, P99, Max, Mean float64
}

func latencyOf(st window.Stats) LatencyStats {
	return LatencyStats{Count: st.Count, P50: st.P50, P95: st.P95, P99: st.P99, Max: st.Max, Mean: st.Avg}
}

// OpStats are one operation's figures over the window.
type OpStats struct {
	Name      string
	Errors    float64
	Rate      float64 // queries per second
	ErrorRate float64 // errors over queries; NaN without queries
	Latency   LatencyStats
}

// Stats are a pool's figures as of the last collector tick. Figures with
// nothing to divide by, and source figures the library does not report,
// are NaN or -1.
type Stats struct {
	Name, Driver string
	Config       Config
	Sample       Sample // the library's own figures, -1 where not reported
	Waiters      int64  // callers waiting now
	// Saturation is (in use + waiting) / max open; NaN when unlimited.
	Saturation float64
	// Window is how much of the rolling window holds data; the figures
	// below are over it.
	Window time.Duration
	// Acquires by result: ok, timeout, canceled, error.
	AcquiresOK, AcquireTimeouts, AcquiresCanceled, AcquireErrors float64
	AcquireRate                                                  float64
	// Wait is the acquire wait distribution; MaxWait is Wait.Max.
	Wait LatencyStats
	// AvgQueued is the average number of callers waiting, by Little's
	// law: total wait time over the window's length.
	AvgQueued   float64
	PeakWaiters float64 // most callers seen waiting at a tick
	// Utilization is connections in use over the maximum, averaged over
	// the ticks of the window; NaN when the maximum is unknown.
	Utilization float64
	// ConnectionErrors by kind over the window (index Dial, Auth, Broken).
	ConnectionErrors [numKinds]float64
	// Lifetime connection errors by kind.
	ConnectionErrorsTotal [numKinds]uint64
	Queries, QueryErrors  float64
	QueryRate             float64
	// ErrorRate is (failed acquires + failed queries) over (acquires +
	// queries); NaN when there were none.
	ErrorRate  float64
	Operations []OpStats
	Score      score.Score
}

// Stats returns the pool's figures as of the last tick, with the live
// waiters and saturation read now.
func (p *Pool) Stats() Stats {
	sat, waiters := p.Saturation(), p.Waiters()
	p.mu.Lock()
	defer p.mu.Unlock()
	st := p.st
	st.Saturation, st.Waiters = sat, waiters
	st.Operations = append([]OpStats(nil), st.Operations...)
	st.Score.Factors = append([]score.Factor(nil), st.Score.Factors...)
	st.Score.Recommendations = append([]string(nil), st.Score.Recommendations...)
	return st
}

// bind points the windows at the pool's series in the registry, whose
// per-tick changes the snapshots carry.
func (w *windows) bind(f *families, name string) {
	w.wait.Series = f.wait.Family().Resolve(name)
	for r := range w.acquires {
		w.acquires[r].Series = f.acquires.Family().Resolve(name, resultNames[r])
	}
	for k := Dial; k < numKinds; k++ {
		w.connErrs[k].Series = f.connErrs.Family().Resolve(name, k.String())
	}
}

// Consume feeds the rolling windows with the tick's changes of the pool's
// series and the library's sample, and recomputes the score.
func (p *Pool) Consume(s *vitals.Snapshot) {
	smp, cfg := p.sample(), p.config() // the source is called with no lock held
	p.opsMu.Lock()
	ops := append([]*Op(nil), p.opsOrder...)
	p.opsMu.Unlock()

	p.mu.Lock()
	defer p.mu.Unlock()
	w := p.win
	now, el := s.Time, s.Elapsed
	w.wait.Feed(s)
	for i := range w.acquires {
		w.acquires[i].Feed(s)
	}
	for i := range w.connErrs {
		w.connErrs[i].Feed(s)
	}
	maxOpen := smp.MaxOpen
	if maxOpen < 0 {
		maxOpen = cfg.MaxOpen
	}
	if maxOpen > 0 && smp.InUse >= 0 {
		w.util.AddGauge(now, el, float64(smp.InUse)/float64(maxOpen))
	} else {
		w.util.AddGauge(now, el, math.NaN())
	}
	w.waiters.AddGauge(now, el, float64(max(p.waiters.Value(), 0)))
	for _, op := range ops {
		if op.win == nil {
			op.win = &opWindow{
				lat:  histWin{Ring: window.New(w.length, windowSlots), Series: p.fam.queryDur.Family().Resolve(p.name, op.name)},
				errs: counterWin{Ring: window.New(w.length, windowSlots), Series: p.fam.queryErrs.Family().Resolve(p.name, op.name)},
			}
		}
		op.win.lat.Feed(s)
		op.win.errs.Feed(s)
	}
	p.st = p.computeLocked(now, smp, cfg, ops)
	p.publishLocked()
}

func ratio(a, b float64) float64 {
	if b <= 0 {
		return math.NaN()
	}
	return a / b
}

func (p *Pool) computeLocked(now time.Time, smp Sample, cfg Config, ops []*Op) Stats {
	w := p.win
	st := Stats{Name: p.name, Driver: p.opts.Driver, Config: cfg, Sample: smp}
	ws := w.wait.Ring.Stats(now)
	st.Window = ws.Covered
	st.Wait = latencyOf(ws)
	var acq [numResults]float64
	for i := range acq {
		acq[i] = w.acquires[i].Ring.Stats(now).Count
	}
	st.AcquiresOK, st.AcquireTimeouts, st.AcquiresCanceled, st.AcquireErrors = acq[0], acq[1], acq[2], acq[3]
	allAcq := acq[0] + acq[1] + acq[2] + acq[3]
	st.AcquireRate = ratio(allAcq, ws.Covered.Seconds())
	st.AvgQueued = ratio(ws.Sum, ws.Covered.Seconds())
	if math.IsNaN(ws.Sum) {
		st.AvgQueued = math.NaN()
	}
	st.PeakWaiters = w.waiters.Stats(now).Max
	st.Utilization = w.util.Stats(now).Avg
	for k := range numKinds {
		st.ConnectionErrors[k] = w.connErrs[k].Ring.Stats(now).Count
		st.ConnectionErrorsTotal[k] = p.connErrs[k].Value()
	}
	for _, op := range ops {
		os := OpStats{Name: op.name, Latency: LatencyStats{Count: 0, P50: math.NaN(), P95: math.NaN(), P99: math.NaN(), Max: math.NaN(), Mean: math.NaN()}, ErrorRate: math.NaN()}
		if op.win != nil {
			ls := op.win.lat.Ring.Stats(now)
			os.Latency = latencyOf(ls)
			os.Errors = op.win.errs.Ring.Stats(now).Count
			os.Rate = ratio(ls.Count, ls.Covered.Seconds())
			os.ErrorRate = ratio(os.Errors, ls.Count)
		}
		st.Queries += os.Latency.Count
		st.QueryErrors += os.Errors
		st.Operations = append(st.Operations, os)
	}
	st.QueryRate = ratio(st.Queries, ws.Covered.Seconds())
	st.ErrorRate = ratio(st.AcquireTimeouts+st.AcquireErrors+st.QueryErrors, allAcq+st.Queries)
	st.Saturation = math.NaN()
	st.Score = p.scoreOf(&st)
	return st
}

const (
	factorUtilization = iota
	factorQueue
	factorWait
	factorErrors
	numFactors
)

var factorNames = [numFactors]string{"utilization", "queue_depth", "wait_p99", "error_rate"}

func pct(v float64) string { return strconv.FormatFloat(v*100, 'f', 1, 64) + "%" }

func fmtNum(v float64) string { return strconv.FormatFloat(v, 'g', 3, 64) }

// scoreOf rates the window's figures. Utilization weighs least (1): a busy
// pool is not yet a problem. Queueing, slow acquires and errors are what
// callers feel (2 each).
func (p *Pool) scoreOf(st *Stats) score.Score {
	o := &p.opts
	qLimit := o.QueueLimit
	if !(qLimit > o.QueueTarget) {
		qLimit = 10
		if m := st.Config.MaxOpen; st.Sample.MaxOpen > 0 {
			qLimit = float64(st.Sample.MaxOpen)
		} else if m > 0 {
			qLimit = float64(m)
		}
		qLimit = max(qLimit, o.QueueTarget*2)
	}
	f := [numFactors]score.Factor{
		{Name: factorNames[factorUtilization], Observed: st.Utilization, Unit: "ratio", Target: o.UtilizationTarget, Limit: o.UtilizationLimit, Weight: 1},
		{Name: factorNames[factorQueue], Observed: st.AvgQueued, Unit: "callers", Target: o.QueueTarget, Limit: qLimit, Weight: 2},
		{Name: factorNames[factorWait], Observed: st.Wait.P99, Unit: "seconds", Target: o.WaitTarget.Seconds(), Limit: o.WaitLimit.Seconds(), Weight: 2},
		{Name: factorNames[factorErrors], Observed: st.ErrorRate, Unit: "ratio", Target: o.ErrorRateTarget, Limit: o.ErrorRateLimit, Weight: 2},
	}
	for i := range f {
		if !f[i].NeedsAdvice() {
			continue
		}
		switch i {
		case factorUtilization:
			f[i].Advice = "Pool " + p.name + " has " + pct(st.Utilization) + " of its connections in use on average: raise the maximum if the database has room, or find the queries that hold connections long."
		case factorQueue:
			f[i].Advice = "On average " + fmtNum(st.AvgQueued) + " callers wait for a connection of pool " + p.name +
				": the pool is too small for the load, or queries hold connections too long."
		case factorWait:
			f[i].Advice = "99% of acquires on pool " + p.name + " wait up to " + score.FormatSeconds(st.Wait.P99) +
				" (target " + score.FormatSeconds(o.WaitTarget.Seconds()) + "): check the queue_depth factor and slow operations."
		case factorErrors:
			f[i].Advice = pct(st.ErrorRate) + " of acquires and queries on pool " + p.name +
				" fail: check connection errors by kind (dial, auth, broken) and acquire timeouts."
		}
	}
	return score.New("db:"+p.name, f[:])
}

// publishLocked sets the score gauges. Each factor is one series of
// vitals_db_pool_score_factor, as with the cache and breaker monitors; its
// observed value, target, limit and weight are in Stats and the JSON
// endpoint, and its inputs are the pool's own counters and histograms.
func (p *Pool) publishLocked() {
	p.scoreG.Set(p.st.Score.Value)
	for i, f := range p.st.Score.Factors {
		p.factorG[i].Set(f.Score)
	}
}
