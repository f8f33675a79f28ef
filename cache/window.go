package cache

import (
	"math"
	"strconv"
	"time"

	"github.com/bizra/vitals"
	"github.com/bizra/vitals/score"
	"github.com/bizra/vitals/window"
)

// windowSlots splits every rolling window into this many sub-windows.
const windowSlots = 60

// counterWin feeds a Ring with a counter's increase per tick.
type counterWin = vitals.RingFeed

// histWin feeds a Ring with a histogram's observations per tick.
type histWin = vitals.RingFeed

type windows struct {
	hits, misses, errors, churn [2]counterWin
	sets                        [2]counterWin // the denominator of the error ratio, with lookups
	lat                         [3]histWin
	load                        histWin
	loadFail                    counterWin
}

func newWindows(length time.Duration) *windows {
	w := &windows{}
	cw := func() counterWin { return counterWin{Ring: window.New(length, windowSlots)} }
	for i := range 2 {
		w.hits[i], w.misses[i], w.errors[i], w.churn[i], w.sets[i] = cw(), cw(), cw(), cw(), cw()
	}
	for i := range w.lat {
		w.lat[i].Ring = window.New(length, windowSlots)
	}
	w.load.Ring = window.New(length, windowSlots)
	w.loadFail = cw()
	return w
}

// bind points the windows at the cache's series in the registry, whose
// per-tick changes the snapshots carry.
func (w *windows) bind(in *families, name string, tiers int) {
	for i := range tiers {
		tl := Tier(i).String()
		w.hits[i].Series = in.hits.Family().Resolve(name, tl)
		w.misses[i].Series = in.misses.Family().Resolve(name, tl)
		w.errors[i].Series = in.errors.Family().Resolve(name, tl)
		w.churn[i].Series = in.evict.Family().Resolve(name, tl, CauseSize.String())
		w.sets[i].Series = in.sets.Family().Resolve(name, tl)
	}
	for _, by := range []Tier{L1, L2, Origin} {
		w.lat[by].Series = in.lat.Family().Resolve(name, by.String())
	}
	w.load.Series = in.load.Family().Resolve(name)
	w.loadFail.Series = in.loads.Family().Resolve(name, "failure")
}

// Consume feeds the rolling window with the tick's changes of the cache's
// series and recomputes the stats and the score.
func (c *Cache) Consume(s *vitals.Snapshot) {
	sizes := c.readSizes() // callbacks, called with no lock held
	c.mu.Lock()
	defer c.mu.Unlock()
	w := c.win
	for i := range c.tiers {
		w.hits[i].Feed(s)
		w.misses[i].Feed(s)
		w.errors[i].Feed(s)
		w.churn[i].Feed(s)
		w.sets[i].Feed(s)
	}
	for i := range w.lat {
		w.lat[i].Feed(s)
	}
	w.load.Feed(s)
	w.loadFail.Feed(s)
	c.st = c.computeLocked(s.Time, sizes)
	c.publishScoreLocked()
}

// readSizes calls the bound size callbacks: entries and bytes per tier,
// NaN where unbound.
func (c *Cache) readSizes() [2][2]float64 {
	c.mu.Lock()
	var fns [2][2]func() float64
	for i := range c.tiers {
		fns[i] = [2]func() float64{c.t[i].entries, c.t[i].bytes}
	}
	c.mu.Unlock()
	out := [2][2]float64{{math.NaN(), math.NaN()}, {math.NaN(), math.NaN()}}
	for i := range fns {
		for j, fn := range fns[i] {
			if fn != nil {
				out[i][j] = fn()
			}
		}
	}
	return out
}

// Stats are a cache's figures: lifetime counts, and rates and ratios over
// the rolling window, as of the last collector tick. Ratios with nothing
// to divide by are NaN.
type Stats struct {
	Name  string
	Tiers int
	// Window is how much of the rolling window holds data.
	Window time.Duration
	// Lookups and LookupRate are the lookups seen by L1 in the window.
	Lookups    float64
	LookupRate float64
	// HitRatio is the end-to-end hit ratio over the window: lookups
	// answered by any tier over all lookups. LifetimeHitRatio is the same
	// since the cache was created.
	HitRatio         float64
	LifetimeHitRatio float64
	// ErrorRate is the share of tier operations (lookups reaching a tier
	// and writes to it) that failed over the window, 0 to 1.
	ErrorRate float64
	Tier      [2]TierStats // Tier[1] is meaningful only when Tiers is 2
	// Latency is the sampled lookup duration over the window by the tier
	// that answered: index L1, L2 or Origin.
	Latency [3]LatencyStats
	// Loads from the origin over the window.
	Loads        float64
	LoadFailures float64
	LoadLatency  LatencyStats
	Score        score.Score
}

// TierStats are one tier's figures.
type TierStats struct {
	Tier   Tier
	Hits   uint64 // lifetime
	Misses uint64
	Sets   uint64
	Errors uint64
	// RawBytes and StoredBytes are the lifetime bytes written, before and
	// after encoding; CompressionRatio is RawBytes/StoredBytes.
	RawBytes, StoredBytes uint64
	CompressionRatio      float64
	Evictions             [numCauses]uint64 // by Cause
	// Over the window: hits, misses, hit ratio at this tier, and the
	// share of the tier's operations (lookups reaching it and writes to
	// it) that failed.
	WindowHits, WindowMisses, HitRatio, ErrorRate float64
	// Entries and MemoryBytes are NaN until SetSizeFuncs binds them.
	Entries, MemoryBytes float64
}

// EvictionsBy returns the lifetime evictions for cause.
func (t TierStats) EvictionsBy(cause Cause) uint64 {
	if cause < numCauses {
		return t.Evictions[cause]
	}
	return 0
}

// LatencyStats summarise a window's durations in seconds; NaN when empty.
type LatencyStats struct {
	Count              float64
	P50, P95, P99, Max float64
	Mean               float64
}

func latencyOf(st window.Stats) LatencyStats {
	return LatencyStats{Count: st.Count, P50: st.P50, P95: st.P95, P99: st.P99, Max: st.Max, Mean: st.Avg}
}

func ratio(a, b float64) float64 {
	if b <= 0 {
		return math.NaN()
	}
	return a / b
}

// errorRatio is failed tier operations over tier operations (lookups that
// reached the tier and writes to it). A failed operation is one of those
// operations, so the ratio stays within [0, 1]; the clamp covers errors a
// program counts with Cache.Error for operations it records nowhere else
// (a failed delete, say).
func errorRatio(errs, ops float64) float64 {
	return min(ratio(errs, max(ops, errs)), 1)
}

// Stats returns the cache's figures as of the last collector tick.
func (c *Cache) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := c.st
	st.Score.Factors = append([]score.Factor(nil), st.Score.Factors...)
	st.Score.Recommendations = append([]string(nil), st.Score.Recommendations...)
	return st
}

func (c *Cache) computeLocked(now time.Time, sizes [2][2]float64) Stats {
	w := c.win
	st := Stats{Name: c.name, Tiers: c.tiers}
	var errs, ops, churn float64
	for i := range c.tiers {
		t := &c.t[i]
		ts := TierStats{Tier: Tier(i), Hits: t.hits.Value(), Misses: t.misses.Value(), Sets: t.sets.Value(),
			Errors: t.errors.Value(), RawBytes: t.raw.Value(), StoredBytes: t.stored.Value(),
			Entries: math.NaN(), MemoryBytes: math.NaN()}
		ts.CompressionRatio = ratio(float64(ts.RawBytes), float64(ts.StoredBytes))
		for ci := range numCauses {
			ts.Evictions[ci] = t.evict[ci].Value()
		}
		h, m := w.hits[i].Ring.Stats(now), w.misses[i].Ring.Stats(now)
		e := w.errors[i].Ring.Stats(now)
		sets := w.sets[i].Ring.Stats(now).Count
		ts.WindowHits, ts.WindowMisses = h.Count, m.Count
		ts.HitRatio = ratio(h.Count, h.Count+m.Count)
		ts.ErrorRate = errorRatio(e.Count, h.Count+m.Count+sets)
		errs += e.Count
		ops += h.Count + m.Count + sets
		churn += w.churn[i].Ring.Stats(now).Count
		ts.Entries, ts.MemoryBytes = sizes[i][0], sizes[i][1]
		st.Tier[i] = ts
		if i == 0 {
			st.Window = h.Covered
			st.Lookups = h.Count + m.Count
			st.LookupRate = ratio(st.Lookups, h.Covered.Seconds())
		}
	}
	last := &st.Tier[c.tiers-1]
	l1 := &st.Tier[0]
	st.HitRatio = 1 - ratio(last.WindowMisses, st.Lookups)
	st.LifetimeHitRatio = 1 - ratio(float64(last.Misses), float64(l1.Hits+l1.Misses))
	for i := range c.lat {
		st.Latency[i] = latencyOf(w.lat[i].Ring.Stats(now))
	}
	ls := w.load.Ring.Stats(now)
	st.Loads, st.LoadLatency = ls.Count, latencyOf(ls)
	st.LoadFailures = w.loadFail.Ring.Stats(now).Count
	st.ErrorRate = errorRatio(errs, ops)
	st.Score = c.scoreOf(st.HitRatio, st.ErrorRate, ratio(churn, st.Lookups))
	return st
}

const (
	factorHitRatio = iota
	factorErrorRate
	factorChurn
	numFactors
)

var factorNames = [numFactors]string{"hit_ratio", "error_rate", "churn"}

func pct(v float64) string { return strconv.FormatFloat(v*100, 'f', 1, 64) + "%" }

// scoreOf rates the window's figures. Weights: the hit ratio and errors
// matter most to callers (2 each); churn explains a low hit ratio (1).
func (c *Cache) scoreOf(hitRatio, errRate, churn float64) score.Score {
	o := &c.opts
	f := [numFactors]score.Factor{
		{Name: factorNames[factorHitRatio], Observed: hitRatio, Unit: "ratio", Target: o.HitRatioTarget, Limit: o.HitRatioLimit, Weight: 2},
		{Name: factorNames[factorErrorRate], Observed: errRate, Unit: "ratio", Target: o.ErrorRateTarget, Limit: o.ErrorRateLimit, Weight: 2},
		{Name: factorNames[factorChurn], Observed: churn, Unit: "ratio", Target: o.ChurnTarget, Limit: o.ChurnLimit, Weight: 1},
	}
	for i := range f {
		if f[i].NeedsAdvice() {
			switch i {
			case factorHitRatio:
				f[i].Advice = "End-to-end hit ratio is " + pct(hitRatio) + ", below the " + pct(o.HitRatioTarget) +
					" target: check the churn factor (a tier too small), TTLs, and whether keys are reused."
			case factorErrorRate:
				f[i].Advice = pct(errRate) + " of operations on the cache's tiers fail: check the L2 server and network; lookups fall through to the origin meanwhile."
			case factorChurn:
				f[i].Advice = "Entries are evicted for room at " + pct(churn) + " of lookups: the working set does not fit, raise the tier's size."
			}
		}
	}
	return score.New("cache:"+c.name, f[:])
}

func (c *Cache) publishScoreLocked() {
	c.scoreG.Set(c.st.Score.Value)
	for i, f := range c.st.Score.Factors {
		c.factorG[i].Set(f.Score)
	}
}
