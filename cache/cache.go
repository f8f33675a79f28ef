package cache

import (
	"math"
	"math/bits"
	"sync"
	"time"

	"github.com/bizra/vitals"
	"github.com/bizra/vitals/metric"
	"github.com/bizra/vitals/score"
)

// Tier is a level of a tiered cache. L1 is the in-process one, L2 the
// shared one behind it (Redis, memcached, a compressed byte store). Origin
// is not a tier: it is the answer of a lookup that missed every tier and
// went to the source of truth.
type Tier uint8

// The tiers, and Origin.
const (
	L1 Tier = iota
	L2
	Origin
)

// String returns "l1", "l2" or "origin", the label values of the metrics.
func (t Tier) String() string {
	switch t {
	case L1:
		return "l1"
	case L2:
		return "l2"
	}
	return "origin"
}

// Cause is why an entry left a tier.
type Cause uint8

// The causes, the values of the cause label of vitals_cache_evictions_total.
// CauseExpired is kept apart from CauseSize: entries expiring on their TTL
// is the design working, entries pushed out for room is a cache that is too
// small.
const (
	CauseSize     Cause = iota // pushed out to make room
	CauseExpired               // its time to live passed
	CauseExplicit              // deleted by the application
	CauseReplaced              // overwritten by a newer value for the key
	numCauses
)

var causeNames = [numCauses]string{"size", "expired", "explicit", "replaced"}

// String returns the cause's label value.
func (c Cause) String() string {
	if c < numCauses {
		return causeNames[c]
	}
	return "unknown"
}

// DefaultLatencySampleEvery is how many lookups share one timed lookup when
// Options.LatencySampleEvery is 0. Reading the monotonic clock twice costs
// about 100 ns here, five times the budget of recording a lookup; timing
// one lookup in 64 costs under 2 ns on average and still gives thousands
// of samples a second to a busy cache.
const DefaultLatencySampleEvery = 64

// Options configures a Cache monitor. nil means every default.
type Options struct {
	// Tiers is the number of tiers, 1 or 2. Default 0 means 1. Series for
	// L2 exist only in a two-tier cache.
	Tiers int
	// LatencySampleEvery times one lookup in this many (rounded up to a
	// power of two) into vitals_cache_lookup_duration_seconds. Counts are
	// never sampled. Default 0 means DefaultLatencySampleEvery; 1 times
	// every lookup, right for a cache whose lookups cost microseconds.
	LatencySampleEvery int
	// Window is the length of the rolling window of Stats and the score.
	// Default 0 means one minute.
	Window time.Duration
	// HitRatioTarget and HitRatioLimit rate the end-to-end hit ratio over
	// the window: 100 at or above the target, 0 at or below the limit.
	// Defaults 0 mean 0.8 and 0.5.
	HitRatioTarget, HitRatioLimit float64
	// ErrorRateTarget and ErrorRateLimit rate the share of tier operations
	// (lookups reaching a tier and writes to it) that failed over the
	// window. Defaults 0 mean 0.001 and 0.05.
	ErrorRateTarget, ErrorRateLimit float64
	// ChurnTarget and ChurnLimit rate size evictions per lookup over the
	// window, the sign of a cache too small for its working set. Defaults
	// 0 mean 0.05 and 0.5.
	ChurnTarget, ChurnLimit float64
}

func (o *Options) withDefaults() Options {
	var d Options
	if o != nil {
		d = *o
	}
	if d.Tiers != 2 {
		d.Tiers = 1
	}
	if d.LatencySampleEvery <= 0 {
		d.LatencySampleEvery = DefaultLatencySampleEvery
	}
	d.LatencySampleEvery = 1 << bits.Len(uint(d.LatencySampleEvery-1))
	if d.Window <= 0 {
		d.Window = time.Minute
	}
	def := func(p *float64, v float64) {
		if *p <= 0 || math.IsNaN(*p) {
			*p = v
		}
	}
	def(&d.HitRatioTarget, 0.8)
	def(&d.HitRatioLimit, 0.5)
	def(&d.ErrorRateTarget, 0.001)
	def(&d.ErrorRateLimit, 0.05)
	def(&d.ChurnTarget, 0.05)
	def(&d.ChurnLimit, 0.5)
	return d
}

// tierInstr are one tier's instruments. In a one-tier cache the L2 ones
// are unregistered zero-value counters: recording into them is harmless
// and exports nothing.
type tierInstr struct {
	hits, misses   *metric.Counter
	sets, errors   *metric.Counter
	raw, stored    *metric.Counter
	evict          [numCauses]*metric.Counter
	entries, bytes func() float64 // bound by SetSizeFuncs; nil until then
}

// Cache monitors one named cache of one or two tiers. Create it with New,
// once per name, and keep it: every recording method is an atomic add or
// two, never allocates and is safe for concurrent use.
//
// Its metrics (label values: tier l1|l2, answered_by l1|l2|origin, cause
// size|expired|explicit|replaced, result success|failure):
//
//	vitals_cache_hits_total{cache,tier}                     counter
//	vitals_cache_misses_total{cache,tier}                   counter
//	vitals_cache_lookup_duration_seconds{cache,answered_by} histogram (sampled)
//	vitals_cache_sets_total{cache,tier}                     counter
//	vitals_cache_raw_bytes_total{cache,tier}                counter
//	vitals_cache_stored_bytes_total{cache,tier}             counter
//	vitals_cache_evictions_total{cache,tier,cause}          counter
//	vitals_cache_errors_total{cache,tier}                   counter
//	vitals_cache_entries{cache,tier}                        gauge (once bound)
//	vitals_cache_memory_bytes{cache,tier}                   gauge (once bound)
//	vitals_cache_loads_total{cache,result}                  counter
//	vitals_cache_load_duration_seconds{cache}               histogram
//	vitals_cache_score{cache}                               gauge
//	vitals_cache_score_factor{cache,factor}                 gauge
//
// The end-to-end hit ratio is derived from the counters, never kept as a
// gauge: 1 - misses{tier=<last tier>} / (hits{tier="l1"} + misses{tier="l1"}).
type Cache struct {
	name  string
	tiers int
	mask  uint32
	opts  Options
	clock vitals.Clock

	fam   families
	t     [2]tierInstr
	lat   [3]*metric.Histogram // by answered_by
	loads [2]*metric.Counter   // success, failure
	load  *metric.Histogram

	scoreG  *metric.FloatGauge
	factorG [numFactors]*metric.FloatGauge

	mu  sync.Mutex // guards the window state and the last stats
	win *windows
	st  Stats
}

// New registers the series of the cache called name in m's registry, all
// at zero, and adds the cache as a consumer of m's snapshots to keep its
// rolling window. name is a label value: keep it to a fixed set. New panics
// on an empty name.
func New(m *vitals.Monitor, name string, opts *Options) *Cache {
	if name == "" {
		panic("vitals/cache: New needs a non-empty cache name")
	}
	o := opts.withDefaults()
	r := m.Registry()
	in := newFamilies(r)
	c := &Cache{name: name, tiers: o.Tiers, mask: uint32(o.LatencySampleEvery - 1), opts: o, clock: m.Clock(), fam: in}
	for ti := range 2 {
		t := &c.t[ti]
		if ti < o.Tiers {
			tl := Tier(ti).String()
			t.hits = in.hits.With(name, tl)
			t.misses = in.misses.With(name, tl)
			t.sets = in.sets.With(name, tl)
			t.errors = in.errors.With(name, tl)
			t.raw = in.raw.With(name, tl)
			t.stored = in.stored.With(name, tl)
			for ci := range numCauses {
				t.evict[ci] = in.evict.With(name, tl, ci.String())
			}
			continue
		}
		t.hits, t.misses, t.sets, t.errors = new(metric.Counter), new(metric.Counter), new(metric.Counter), new(metric.Counter)
		t.raw, t.stored = new(metric.Counter), new(metric.Counter)
		for ci := range numCauses {
			t.evict[ci] = new(metric.Counter)
		}
	}
	for _, by := range []Tier{L1, L2, Origin} {
		if by == L2 && o.Tiers < 2 {
			c.lat[by] = metric.NewHistogram(nil)
			continue
		}
		c.lat[by] = in.lat.With(name, by.String())
	}
	c.loads[0] = in.loads.With(name, "success")
	c.loads[1] = in.loads.With(name, "failure")
	c.load = in.load.With(name)
	c.scoreG = in.score.With(name)
	for f := range numFactors {
		c.factorG[f] = in.factor.With(name, factorNames[f])
	}
	c.win = newWindows(o.Window)
	c.win.bind(&in, name, o.Tiers)
	nan := math.NaN()
	c.st = c.computeLocked(m.Clock().Now(), [2][2]float64{{nan, nan}, {nan, nan}})
	c.publishScoreLocked()
	m.AddConsumer(c)
	return c
}

// Name returns the cache's name.
func (c *Cache) Name() string { return c.name }

// Tiers returns the number of tiers, 1 or 2.
func (c *Cache) Tiers() int { return c.tiers }

// tier maps any Tier to a valid index without a branch the caller can get
// wrong: Origin and unknown values fold into the last tier.
func (c *Cache) tier(t Tier) *tierInstr {
	if t >= 1 {
		return &c.t[1]
	}
	return &c.t[0]
}

// Hit counts one lookup that tier t answered, by itself. Use it for a
// tier whose library reports hits (the otter adapter does), and Begin/End
// for the lookup as the caller sees it; not both for the same tier.
func (c *Cache) Hit(t Tier) { c.tier(t).hits.Inc() }

// Miss counts one lookup that tier t could not answer.
func (c *Cache) Miss(t Tier) { c.tier(t).misses.Inc() }

// HitN counts n hits at tier t.
func (c *Cache) HitN(t Tier, n int) {
	if n > 0 {
		c.tier(t).hits.Add(uint64(n))
	}
}

// MissN counts n misses at tier t.
func (c *Cache) MissN(t Tier, n int) {
	if n > 0 {
		c.tier(t).misses.Add(uint64(n))
	}
}

// Set counts one write to tier t of a value of rawBytes bytes that took
// storedBytes bytes once encoded (compressed, serialised). Pass the same
// number twice for a tier that stores values as they are. The compression
// ratio is raw_bytes_total / stored_bytes_total, divided at query time.
func (c *Cache) Set(t Tier, rawBytes, storedBytes int) {
	in := c.tier(t)
	in.sets.Inc()
	if rawBytes > 0 {
		in.raw.Add(uint64(rawBytes))
	}
	if storedBytes > 0 {
		in.stored.Add(uint64(storedBytes))
	}
}

// Evict counts one entry that left tier t for cause.
func (c *Cache) Evict(t Tier, cause Cause) {
	if cause < numCauses {
		c.tier(t).evict[cause].Inc()
	}
}

// Error counts one operation on tier t that failed (a Redis L2 that is
// unreachable, say). The lookup itself is still recorded with End or
// Miss: a tier that errors did not answer.
func (c *Cache) Error(t Tier) { c.tier(t).errors.Inc() }

// ObserveLoad records one load from the origin that took d and failed when
// err is not nil.
func (c *Cache) ObserveLoad(d time.Duration, err error) {
	if err != nil {
		c.loads[1].Inc()
	} else {
		c.loads[0].Inc()
	}
	c.load.ObserveDuration(d)
}

// Lookup is one lookup being timed, from Begin to End. It is a small
// value: keep it on the stack.
type Lookup struct {
	c     *Cache
	start int64 // 0: this lookup is not timed
}

// Begin starts a lookup. It reads the clock only for the lookups chosen
// for timing (one in Options.LatencySampleEvery).
func (c *Cache) Begin() Lookup {
	if cheaprand()&c.mask != 0 {
		return Lookup{c: c}
	}
	return Lookup{c: c, start: metric.Nanotime()}
}

// End records which tier answered the lookup, or Origin when every tier
// missed. It counts a hit at that tier and a miss at every tier before it,
// and, for a timed lookup, its duration by answered_by.
func (l Lookup) End(answeredBy Tier) {
	c := l.c
	switch answeredBy {
	case L1:
		c.t[0].hits.Inc()
	case L2:
		c.t[0].misses.Inc()
		c.t[1].hits.Inc()
	default:
		answeredBy = Origin
		c.t[0].misses.Inc()
		if c.tiers == 2 {
			c.t[1].misses.Inc()
		}
	}
	if l.start != 0 {
		c.lat[answeredBy].Observe(float64(metric.Nanotime()-l.start) / 1e9)
	}
}

// SetSizeFuncs binds the entries and memory gauges of tier t to callbacks
// that report the tier's current number of entries and bytes. Either may be
// nil to leave that gauge out; a gauge that is never bound is not exported
// (a size that is not known is not zero). The callbacks run at scrape and
// tick time and must be quick and safe for concurrent use.
func (c *Cache) SetSizeFuncs(t Tier, entries, bytes func() float64) {
	if t >= Tier(c.tiers) {
		return
	}
	in := c.fam
	c.mu.Lock()
	ti := c.tier(t)
	ti.entries, ti.bytes = entries, bytes
	c.mu.Unlock()
	if entries != nil {
		in.entries.Bind(entries, c.name, t.String())
	}
	if bytes != nil {
		in.bytes.Bind(bytes, c.name, t.String())
	}
}

// families are the cache metric families; asking the registry again
// returns the same ones, so every Cache on a registry shares them.
type families struct {
	hits, misses, sets, errors, raw, stored *metric.Vec[*metric.Counter]
	evict, loads                            *metric.Vec[*metric.Counter]
	lat, load                               *metric.Vec[*metric.Histogram]
	entries, bytes                          *metric.FuncVec
	score, factor                           *metric.Vec[*metric.FloatGauge]
}

func newFamilies(r *metric.Registry) families {
	ct := []string{"cache", "tier"}
	return families{
		hits: r.CounterVec(metric.Opts{Name: "vitals_cache_hits_total", Labels: ct,
			Help: "Cache lookups answered by the tier."}),
		misses: r.CounterVec(metric.Opts{Name: "vitals_cache_misses_total", Labels: ct,
			Help: "Cache lookups the tier could not answer (passed to the next tier or the origin)."}),
		sets: r.CounterVec(metric.Opts{Name: "vitals_cache_sets_total", Labels: ct,
			Help: "Values written to the tier."}),
		errors: r.CounterVec(metric.Opts{Name: "vitals_cache_errors_total", Labels: ct,
			Help: "Operations on the tier that failed (the tier was unreachable or returned an error)."}),
		raw: r.CounterVec(metric.Opts{Name: "vitals_cache_raw_bytes_total", Unit: "bytes", Labels: ct,
			Help: "Bytes of values written to the tier, before encoding or compression."}),
		stored: r.CounterVec(metric.Opts{Name: "vitals_cache_stored_bytes_total", Unit: "bytes", Labels: ct,
			Help: "Bytes of values written to the tier as stored, after encoding or compression."}),
		evict: r.CounterVec(metric.Opts{Name: "vitals_cache_evictions_total", Labels: []string{"cache", "tier", "cause"},
			Help: "Entries that left the tier, by cause: size (pushed out for room), expired, explicit (deleted), replaced."}),
		loads: r.CounterVec(metric.Opts{Name: "vitals_cache_loads_total", Labels: []string{"cache", "result"},
			Help: "Loads from the origin after a miss in every tier, by result."}),
		lat: r.HistogramVec(metric.Opts{Name: "vitals_cache_lookup_duration_seconds", Unit: "seconds", Labels: []string{"cache", "answered_by"},
			Help: "Duration of sampled cache lookups as the caller saw them, by the tier that answered (origin: every tier missed)."}),
		load: r.HistogramVec(metric.Opts{Name: "vitals_cache_load_duration_seconds", Unit: "seconds", Labels: []string{"cache"},
			Help: "Duration of loads from the origin."}),
		entries: r.GaugeFuncVec(metric.Opts{Name: "vitals_cache_entries", Labels: ct,
			Help: "Entries currently held by the tier."}),
		bytes: r.GaugeFuncVec(metric.Opts{Name: "vitals_cache_memory_bytes", Unit: "bytes", Labels: ct,
			Help: "Memory the tier's entries currently take, as the tier reports it."}),
		score: r.FloatGaugeVec(metric.Opts{Name: "vitals_cache_score", Labels: []string{"cache"},
			Help: "Health score of the cache, 0-100, over the rolling window (see vitals_cache_score_factor)."}),
		factor: r.FloatGaugeVec(metric.Opts{Name: "vitals_cache_score_factor", Labels: []string{"cache", "factor"},
			Help: "Score, 0-100, of each factor of the cache's health score: hit_ratio, error_rate, churn."}),
	}
}

// Score returns the cache's health score as of the last tick.
func (c *Cache) Score() score.Score {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.st.Score
}

// Counts returns tier t's lifetime counts read now, not as of the last
// tick; the window fields of the result are zero. Adapters use it to
// answer their library's own statistics calls.
func (c *Cache) Counts(t Tier) TierStats {
	in := c.tier(t)
	ts := TierStats{Tier: t, Hits: in.hits.Value(), Misses: in.misses.Value(), Sets: in.sets.Value(),
		Errors: in.errors.Value(), RawBytes: in.raw.Value(), StoredBytes: in.stored.Value(),
		Entries: math.NaN(), MemoryBytes: math.NaN()}
	ts.CompressionRatio = ratio(float64(ts.RawBytes), float64(ts.StoredBytes))
	for ci := range numCauses {
		ts.Evictions[ci] = in.evict[ci].Value()
	}
	return ts
}

// LoadCounts returns the lifetime loads from the origin read now: the
// successful and failed ones and their total time.
func (c *Cache) LoadCounts() (ok, failed uint64, total time.Duration) {
	var hv metric.HistogramValue
	c.load.Read(&hv)
	return c.loads[0].Value(), c.loads[1].Value(), time.Duration(hv.Sum * 1e9)
}
