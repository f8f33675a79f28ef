package ottermon

import (
	"errors"
	"time"

	"github.com/maypok86/otter/v2"
	"github.com/maypok86/otter/v2/stats"

	"github.com/bizra/vitals/cache"
)

// Options configures Instrument and Bind. nil means every default.
type Options struct {
	// Tier is the tier the otter cache is. Default L1.
	Tier cache.Tier
	// SkipLookups leaves otter's own hit and miss reports out. Default
	// false: they are counted at Tier. Set it when the program records
	// lookups with cache.Begin/End, so that each lookup counts once.
	SkipLookups bool
	// WeightIsBytes exports otter's weighted size as the tier's memory,
	// for caches whose Weigher returns bytes. Default false: no memory
	// gauge (a size in unknown units is not bytes).
	WeightIsBytes bool
}

// Recorder is an otter stats.Recorder (and stats.Snapshoter) that feeds a
// cache monitor. otter calls it on its hot path and sometimes under its
// locks: each method is a counter add and calls nothing else.
type Recorder struct {
	c    *cache.Cache
	tier cache.Tier
	skip bool
}

var errLoad = errors.New("otter load failed")

// NewRecorder returns a Recorder for c.
func NewRecorder(c *cache.Cache, opts *Options) *Recorder {
	var o Options
	if opts != nil {
		o = *opts
	}
	return &Recorder{c: c, tier: o.Tier, skip: o.SkipLookups}
}

// RecordHits counts n hits at the tier.
func (r *Recorder) RecordHits(n int) {
	if !r.skip {
		r.c.HitN(r.tier, n)
	}
}

// RecordMisses counts n misses at the tier.
func (r *Recorder) RecordMisses(n int) {
	if !r.skip {
		r.c.MissN(r.tier, n)
	}
}

// RecordEviction does nothing: evictions are counted by cause from
// otter's deletion events (see Instrument), which say why an entry left;
// this call does not.
func (r *Recorder) RecordEviction(uint32) {}

// RecordLoadSuccess records a successful load from the origin.
func (r *Recorder) RecordLoadSuccess(d time.Duration) { r.c.ObserveLoad(d, nil) }

// RecordLoadFailure records a failed load from the origin.
func (r *Recorder) RecordLoadFailure(d time.Duration) { r.c.ObserveLoad(d, errLoad) }

// Snapshot answers otter's Cache.Stats from the monitor's counters, so
// both report the same numbers.
func (r *Recorder) Snapshot() stats.Stats {
	ts := r.c.Counts(r.tier)
	ok, failed, total := r.c.LoadCounts()
	return stats.Stats{Hits: ts.Hits, Misses: ts.Misses,
		Evictions:     ts.EvictionsBy(cache.CauseSize) + ts.EvictionsBy(cache.CauseExpired),
		LoadSuccesses: ok, LoadFailures: failed, TotalLoadTime: total}
}

var (
	_ stats.Recorder   = (*Recorder)(nil)
	_ stats.Snapshoter = (*Recorder)(nil)
)

// Instrument sets o's StatsRecorder to a Recorder for c and chains o's
// OnAtomicDeletion to count every deletion by cause: size (otter's
// Overflow), expired, explicit (Invalidation), replaced. Call it before
// otter.New. The handler runs under otter's bucket lock, as
// OnAtomicDeletion does, and only adds to a counter before calling the
// handler that was there.
func Instrument[K comparable, V any](c *cache.Cache, o *otter.Options[K, V], opts *Options) {
	var oo Options
	if opts != nil {
		oo = *opts
	}
	o.StatsRecorder = NewRecorder(c, &oo)
	prev := o.OnAtomicDeletion
	tier := oo.Tier
	o.OnAtomicDeletion = func(e otter.DeletionEvent[K, V]) {
		c.Evict(tier, CauseOf(e.Cause))
		if prev != nil {
			prev(e)
		}
	}
}

// CauseOf maps otter's deletion cause to the monitor's.
func CauseOf(dc otter.DeletionCause) cache.Cause {
	switch dc {
	case otter.CauseInvalidation:
		return cache.CauseExplicit
	case otter.CauseReplacement:
		return cache.CauseReplaced
	case otter.CauseExpiration:
		return cache.CauseExpired
	}
	return cache.CauseSize
}

// Bind exports oc's entries (EstimatedSize) and, with WeightIsBytes, its
// weighted size as memory, as the tier's gauges.
func Bind[K comparable, V any](c *cache.Cache, oc *otter.Cache[K, V], opts *Options) {
	var o Options
	if opts != nil {
		o = *opts
	}
	var bytes func() float64
	if o.WeightIsBytes && oc.IsWeighted() {
		bytes = func() float64 { return float64(oc.WeightedSize()) }
	}
	c.SetSizeFuncs(o.Tier, func() float64 { return float64(oc.EstimatedSize()) }, bytes)
}
