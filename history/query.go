package history

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"runtime/debug"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/bizra/vitals/metric"
)

// Stat is the statistic a query computes for each step.
type Stat uint8

// The statistics. What they mean for each kind of series:
//
//	         counter                        gauge           histogram
//	count    increase                       samples         observations
//	sum      increase                       samples' sum    observed values' sum
//	rate     increase per second            -               observations per second
//	avg      increase per second            mean sample     mean observed value
//	min/max  lowest/highest one-tick rate   exact           within one bucket (1.09%)
//	last     -                              latest sample   -
//	p50…p999 -                              -               within 0.54% (schema 6)
//
// A counter's one-tick rates are its smallest and largest increase in one
// collector tick divided by the step's mean tick length.
const (
	StatCount Stat = iota + 1
	StatSum
	StatRate
	StatAvg
	StatMin
	StatMax
	StatLast
	StatP50
	StatP90
	StatP95
	StatP99
	StatP999
)

var statNames = [...]string{StatCount: "count", StatSum: "sum", StatRate: "rate", StatAvg: "avg", StatMin: "min",
	StatMax: "max", StatLast: "last", StatP50: "p50", StatP90: "p90", StatP95: "p95", StatP99: "p99", StatP999: "p999"}

var statQ = [...]float64{StatP50: 0.5, StatP90: 0.9, StatP95: 0.95, StatP99: 0.99, StatP999: 0.999}

// String returns the statistic's name as the query API spells it.
func (s Stat) String() string {
	if s >= StatCount && s <= StatP999 {
		return statNames[s]
	}
	return "Stat(" + fmt.Sprint(uint8(s)) + ")"
}

// StatNames lists the statistics' names.
func StatNames() []string { return append([]string(nil), statNames[1:]...) }

// ParseStat returns the statistic named s ("p99", "rate", ...).
func ParseStat(s string) (Stat, error) {
	for i, n := range statNames {
		if i > 0 && n == s {
			return Stat(i), nil
		}
	}
	if len(s) > 20 {
		s = s[:20] + "…"
	}
	return 0, fmt.Errorf("%w %q: want one of %s", ErrUnknownStat, s, strings.Join(StatNames(), ", "))
}

// Applies reports whether the statistic is defined for a kind of series.
func (s Stat) Applies(k metric.Kind) bool {
	switch {
	case s >= StatP50 && s <= StatP999:
		return k == metric.KindHistogram
	case s == StatRate:
		return k != metric.KindGauge
	case s == StatLast:
		return k == metric.KindGauge
	}
	return s >= StatCount && s <= StatP999
}

// Errors of Query; each is wrapped with the details.
var (
	ErrUnknownSeries = errors.New("unknown series")
	ErrUnknownStat   = errors.New("unknown stat")
	ErrStatKind      = errors.New("stat does not apply to the series")
	ErrRange         = errors.New("bad time range")
	ErrTooManyPoints = errors.New("too many points")
	ErrQueryTooLarge = errors.New("query too large")
)

// MaxPoints is the most points one query returns.
const MaxPoints = 11000

// autoPoints is the number of points a query without a step aims at.
const autoPoints = 720

// QueryRequest asks for one statistic of one series at regular steps.
type QueryRequest struct {
	Series string    // the series key, name{label="value",...}
	Stat   Stat      // what to compute for each step
	From   time.Time // first step starts at From rounded down to the step
	To     time.Time // last step starts at or before To
	// Step is the spacing of the points, rounded up to a multiple of the
	// tier read. 0: the range divided into about 720 points.
	Step time.Duration
}

// Point is a statistic over one step. Steps without data have no point.
type Point struct {
	T time.Time // the step's start
	V float64
}

// QueryResult is a query's answer.
type QueryResult struct {
	Series string
	Kind   metric.Kind
	Unit   string
	Stat   Stat
	From   time.Time     // the first step's start
	To     time.Time     // as requested
	Step   time.Duration // the step used
	Tier   time.Duration // the step of the tier read
	Points []Point
}

// Query computes req.Stat for each step of req.Series in [From, To]. It
// reads the coarsest tier whose step divides the query's step and whose
// retention reaches From (or, when none reaches it, the coarsest tier),
// and merges that tier's records per step: histogram percentiles come from
// merged buckets. Steps still waiting for the disk are included; the step
// being collected is not.
func (s *Store) Query(ctx context.Context, req QueryRequest) (QueryResult, error) {
	res := QueryResult{Series: req.Series, Stat: req.Stat, To: req.To}
	select {
	case <-s.done:
		return res, ErrClosed
	default:
	}
	if req.Stat < StatCount || req.Stat > StatP999 {
		return res, fmt.Errorf("%w: %v", ErrUnknownStat, req.Stat)
	}
	if err := checkRange(req.From, req.To); err != nil {
		return res, err
	}
	if req.Step < 0 {
		return res, fmt.Errorf("%w: negative step %v", ErrRange, req.Step)
	}
	s.mu.Lock()
	in := s.cat.byKey[req.Series]
	var disk, local uint32
	var newest int64
	var pend []*pendingFrame
	var ver uint64
	if in != nil {
		disk, local = in.disk, in.local
		newest = s.newest
		pend = append(pend, s.pending...)
		ver = s.nextSeq
	}
	s.mu.Unlock()
	if in == nil {
		return res, fmt.Errorf("%w %q", ErrUnknownSeries, truncate(req.Series, 200))
	}
	res.Kind, res.Unit = in.kind, in.unit
	if !req.Stat.Applies(in.kind) {
		return res, fmt.Errorf("%w: %s is not defined for %s %s", ErrStatKind, req.Stat, in.kind, truncate(req.Series, 200))
	}

	from, to := req.From.Unix(), req.To.Unix()
	span := to - from
	tier := s.pickTier(from, newest, req.Step, span)
	tstep := s.steps[tier]
	step := int64(req.Step / time.Second)
	if req.Step%time.Second != 0 {
		step++
	}
	if step == 0 {
		step = max(1, (span+autoPoints-1)/autoPoints)
	}
	step = (step + tstep - 1) / tstep * tstep
	from = alignDown(from, step)
	if n := (to-from)/step + 1; n > MaxPoints {
		need := (span + MaxPoints - 2) / (MaxPoints - 1)
		need = (need + tstep - 1) / tstep * tstep
		return res, fmt.Errorf("%w: %d steps of %v from %s to %s; at most %d, so use a step of at least %v",
			ErrTooManyPoints, n, time.Duration(step)*time.Second, req.From.UTC().Format(time.RFC3339),
			req.To.UTC().Format(time.RFC3339), MaxPoints, time.Duration(need)*time.Second)
	}
	res.From = time.Unix(from, 0).UTC()
	res.Step = time.Duration(step) * time.Second
	res.Tier = time.Duration(tstep) * time.Second
	key := queryKey{series: req.Series, stat: req.Stat, from: from, step: step, tier: tier, to: alignDown(to, s.step0), ver: ver}
	return s.cached(ctx, key, res, func() (QueryResult, error) {
		q := &pointBuilder{stat: req.Stat, from: from, step: step}
		err := s.scan(ctx, []scanSeries{{disk: disk, local: local, kind: in.kind}}, pend, tier, from, to, false,
			func(_ int, t, _ int64, r *rollup) { q.add(t, r) })
		if err != nil {
			return res, err
		}
		q.flush()
		res.Points = q.points
		return res, nil
	})
}

// scanSeries is one series a scan reads: its numbers in the file and in
// the catalog, as of one look at the catalog, and its kind.
type scanSeries struct {
	disk, local uint32
	kind        metric.Kind
}

// scan reads the records of ser whose steps start in [from, to]: from
// tier up to its last built step, then from each finer tier after the
// coarser one's last built step, down to the finest and the frames still
// waiting for the disk (pend), so the newest record is current and no
// span of time is read twice. It calls fn, in time order, with each
// record, the index of its series in ser, the step's start and length
// (seconds); two records may share a step (a restart's late minute).
// Records of another kind than the series' are skipped, damaged frames
// counted and skipped. It fails when ctx ends or the records read pass
// Options.MaxQueryRecords.
//
// Without stream, every record is gathered and sorted by time before fn
// sees any. With stream, the file's records go to fn as they are read
// (the tiers hold disjoint spans, read in time order: no memory per
// record), and the pending frames' after them, sorted; a pending frame
// older than the file's newest (a rewind not yet written) then comes out
// of order, and the caller drops it.
func (s *Store) scan(ctx context.Context, ser []scanSeries, pend []*pendingFrame, tier int, from, to int64, stream bool, fn func(i int, t, step int64, r *rollup)) error {
	type src struct {
		t         int64
		tier      int32 // -1 for a pending frame
		ser       int32
		rec       []byte
		ticks, ms uint64
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	var srcs []src
	read := 0 // records read
	var r rollup
	decode := func(sc *src) {
		if err := decodeRecord(sc.rec, sc.ticks, sc.ms, &r); err != nil {
			if sc.tier >= 0 {
				s.corruptFrame(int(sc.tier), sc.t, err)
			}
			return
		}
		if r.kind != ser[sc.ser].kind {
			return
		}
		step := s.step0
		if sc.tier >= 0 {
			step = s.steps[sc.tier]
		}
		fn(int(sc.ser), sc.t, step, &r)
	}
	emit := func() error {
		// The tiers are read in time order; only pending frames (a restart's
		// late minute) may need sorting.
		if !slices.IsSortedFunc(srcs, func(a, b src) int { return cmp.Compare(a.t, b.t) }) {
			sort.SliceStable(srcs, func(i, j int) bool { return srcs[i].t < srcs[j].t })
		}
		for i := range srcs {
			if i%256 == 0 {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				// Let the service's own goroutines run: a 90-day query
				// decodes thousands of records (BenchmarkServiceUnderQueries).
				runtime.Gosched()
			}
			decode(&srcs[i])
		}
		return nil
	}
	tooMany := func() error {
		return fmt.Errorf("%w: it reads more than %d records (Options.MaxQueryRecords); use a larger step or a shorter range",
			ErrQueryTooLarge, s.opts.MaxQueryRecords)
	}
	// add takes one record: to fn at once when streaming, else gathered.
	add := func(sc src) error {
		if read++; read > s.opts.MaxQueryRecords {
			return tooMany()
		}
		if stream && sc.tier >= 0 {
			decode(&sc)
			return nil
		}
		srcs = append(srcs, sc)
		return nil
	}
	// committed is the last pending frame the file holds (as of the read
	// transaction): later ones come from memory, so none counts twice.
	addPending := func(lo int64, committed uint64) error {
		for _, p := range pend {
			if p.rewind || p.seq <= committed || p.t < lo || p.t > to {
				continue
			}
			for i := range ser {
				if rec, ok := p.record(ser[i].local); ok {
					if err := add(src{t: p.t, tier: -1, ser: int32(i), rec: rec, ticks: p.ticks, ms: p.ms}); err != nil {
						return err
					}
				}
			}
		}
		return nil
	}
	// byDisk lists the series in the file by number, to find all of a
	// frame's records in one walk of its index.
	var byDisk []int
	for i := range ser {
		if ser[i].disk != 0 {
			byDisk = append(byDisk, i)
		}
	}
	sort.Slice(byDisk, func(a, b int) bool { return ser[byDisk[a]].disk < ser[byDisk[b]].disk })

	s.dbMu.RLock()
	db := s.db
	if db == nil || len(byDisk) == 0 {
		s.dbMu.RUnlock()
		if err := addPending(from, 0); err != nil {
			return err
		}
		return emit()
	}
	defer s.dbMu.RUnlock()
	return s.view(db, func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if meta == nil {
			return nil
		}
		lo := from
		frames := 0
		for i := tier; i >= 0; i-- {
			if i < tier {
				lo = max(from, keyTime(meta.Get(builtKey(s.steps[i+1]))))
			}
			b := tx.Bucket(tierBucket(s.steps[i]))
			if b == nil {
				continue
			}
			c := b.Cursor()
			for k, v := c.Seek(be64(lo)); k != nil && keyTime(k) <= to; k, v = c.Next() {
				if frames++; frames%256 == 0 {
					if ctx.Err() != nil {
						return ctx.Err()
					}
					runtime.Gosched()
				}
				var f frame
				if err := parseFrame(v, &f); err != nil {
					s.corruptFrame(i, keyTime(k), err)
					continue
				}
				t := keyTime(k)
				if len(byDisk) == 1 {
					if rec, ok := f.find(ser[byDisk[0]].disk); ok {
						if err := add(src{t: t, tier: int32(i), ser: int32(byDisk[0]), rec: rec, ticks: f.ticks, ms: f.ms}); err != nil {
							return err
						}
					}
					continue
				}
				j := 0
				err := f.each(func(num uint32, rec []byte) error {
					for j < len(byDisk) && ser[byDisk[j]].disk < num {
						j++
					}
					if j == len(byDisk) {
						return errStopEach
					}
					if ser[byDisk[j]].disk == num {
						return add(src{t: t, tier: int32(i), ser: int32(byDisk[j]), rec: rec, ticks: f.ticks, ms: f.ms})
					}
					return nil
				})
				if err != nil && err != errStopEach {
					return err
				}
			}
		}
		committed := uint64(max(keyTime(meta.Get(keyCommitted)), 0))
		if s.ro {
			committed = 0 // a read-only Store writes nothing; the key is an earlier process's
		}
		if err := addPending(lo, committed); err != nil {
			return err
		}
		// Records point into the transaction's pages: use them inside it.
		return emit()
	})
}

// errStopEach ends a frame.each walk early.
var errStopEach = errors.New("stop")

// view runs fn in a read transaction; a panic in bbolt (a damaged page
// the open-time walk did not reach) is an error wrapping ErrCorrupt,
// logged once per Store.
// checkRange refuses a time range without both ends or with From after
// To (Query and Read).
func checkRange(from, to time.Time) error {
	if from.IsZero() || to.IsZero() {
		return fmt.Errorf("%w: from and to are required", ErrRange)
	}
	if from.After(to) {
		return fmt.Errorf("%w: from %s is after to %s", ErrRange, from.UTC().Format(time.RFC3339), to.UTC().Format(time.RFC3339))
	}
	return nil
}

func (s *Store) view(db *bolt.DB, fn func(*bolt.Tx) error) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("history: %s is damaged (%v): %w", s.path, v, ErrCorrupt)
			if s.viewPanicked.CompareAndSwap(false, true) {
				s.log.Error("vitals/history: a query read a damaged page of the history file; restore it from a backup or move it aside",
					"path", s.path, "err", err)
			}
		}
	}()
	return db.View(fn)
}

// pickTier returns the coarsest tier that reaches back to from and whose
// step divides the query's step; failing that, the coarsest that reaches
// from with a step no larger; failing that, the finest that reaches from
// (the query's step grows to its step), or the coarsest of all.
func (s *Store) pickTier(from, newest int64, step time.Duration, span int64) int {
	want := int64(step / time.Second)
	if want == 0 {
		want = max(1, span/autoPoints)
	}
	reaches := func(i int) bool { return newest == 0 || from >= s.cutoff(i, newest) }
	best := -1
	for i, st := range s.steps {
		if reaches(i) && st <= want && want%st == 0 {
			best = i
		}
	}
	if best >= 0 {
		return best
	}
	for i, st := range s.steps {
		if reaches(i) && st <= want {
			best = i
		}
	}
	if best >= 0 {
		return best
	}
	for i := range s.steps {
		if reaches(i) {
			return i
		}
	}
	return len(s.steps) - 1
}

// pointBuilder merges records into one point per step.
type pointBuilder struct {
	stat   Stat
	from   int64
	step   int64
	cur    int64 // index of the step being merged; -1 none
	acc    rollup
	has    bool
	points []Point
}

func (q *pointBuilder) add(t int64, r *rollup) {
	i := (t - q.from) / q.step
	if q.has && i != q.cur {
		q.flush()
	}
	if !q.has {
		q.acc.reset(r.kind)
		q.cur, q.has = i, true
	}
	q.acc.merge(r)
}

func (q *pointBuilder) flush() {
	if !q.has {
		return
	}
	q.has = false
	v := q.acc.stat(q.stat)
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return
	}
	q.points = append(q.points, Point{T: time.Unix(q.from+q.cur*q.step, 0).UTC(), V: v})
}

// stat computes a statistic of a merged rollup; NaN when undefined.
func (r *rollup) stat(s Stat) float64 {
	nan := math.NaN()
	sec := float64(r.ms) / 1000
	switch r.kind {
	case metric.KindCounter:
		tick := sec / float64(max(r.ticks, 1))
		switch s {
		case StatCount, StatSum:
			return r.a
		case StatRate, StatAvg:
			if sec > 0 {
				return r.a / sec
			}
		case StatMin:
			if tick > 0 {
				return r.lo / tick
			}
		case StatMax:
			if tick > 0 {
				return r.hi / tick
			}
		case StatLast:
			return r.last
		}
	case metric.KindGauge:
		switch s {
		case StatCount:
			return float64(r.n)
		case StatSum:
			if r.n > 0 {
				return r.a
			}
		case StatAvg:
			if r.n > 0 {
				return r.a / float64(r.n)
			}
		case StatMin:
			return r.lo
		case StatMax:
			return r.hi
		case StatLast:
			return r.last
		}
	case metric.KindHistogram:
		h := &r.h
		switch s {
		case StatCount:
			return float64(h.Count)
		case StatSum:
			return h.Sum
		case StatRate:
			if sec > 0 {
				return float64(h.Count) / sec
			}
		case StatAvg:
			if h.Count > 0 {
				return h.Sum / float64(h.Count)
			}
		case StatMin:
			return r.lo
		case StatMax:
			return r.hi
		case StatP50, StatP90, StatP95, StatP99, StatP999:
			if h.Count == 0 {
				return nan
			}
			h.Min, h.Max = r.lo, r.hi
			if math.IsNaN(h.Min) {
				h.Min = 0
			}
			if math.IsNaN(h.Max) {
				h.Max = 0
			}
			return h.Quantile(statQ[s])
		}
	}
	return nan
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// queryKey identifies a query's answer: the same request, planned the
// same way, over the same data. ver is the Store's frame sequence, which
// moves with every finished step, rewind and (through them) expiry, so an
// entry lives at most one step.
type queryKey struct {
	series     string
	stat       Stat
	from, step int64
	tier       int
	to         int64 // aligned to the finest step: frames are keyed by step starts
	ver        uint64
}

// maxCachedPoints bounds the query cache: 200,000 points, about 6 MB.
const maxCachedPoints = 200000

// queryCache holds the answers computed since the last new step, and the
// queries being computed, so that a dashboard opened by many people, or
// refreshed often, computes a 90-day query once per step rather than once
// per request.
type queryCache struct {
	mu     sync.Mutex
	ver    uint64
	points int
	done   map[queryKey]QueryResult
	flight map[queryKey]*queryCall
}

type queryCall struct {
	done chan struct{}
	res  QueryResult
	err  error
}

// cached answers from the cache, waits for an identical query in flight,
// or runs compute and keeps its answer. base carries the request's own
// fields (To) into a cached answer.
func (s *Store) cached(ctx context.Context, key queryKey, base QueryResult, compute func() (QueryResult, error)) (QueryResult, error) {
	c := &s.qc
	c.mu.Lock()
	if c.ver != key.ver {
		c.ver, c.points, c.done = key.ver, 0, nil
	}
	if r, ok := c.done[key]; ok {
		c.mu.Unlock()
		s.m.queryCacheHits.Inc()
		return withPoints(base, r), nil
	}
	if call, ok := c.flight[key]; ok {
		c.mu.Unlock()
		select {
		case <-call.done:
		case <-ctx.Done():
			return base, ctx.Err()
		}
		if call.err == nil {
			s.m.queryCacheHits.Inc()
			return withPoints(base, call.res), nil
		}
		if !errors.Is(call.err, context.Canceled) && !errors.Is(call.err, context.DeadlineExceeded) {
			return base, call.err
		}
		return compute() // the first caller gave up; this one has not
	}
	call := &queryCall{done: make(chan struct{})}
	if c.flight == nil {
		c.flight = map[queryKey]*queryCall{}
	}
	c.flight[key] = call
	c.mu.Unlock()

	res, err := compute()
	call.res, call.err = res, err
	c.mu.Lock()
	delete(c.flight, key)
	if err == nil && c.ver == key.ver && c.points+len(res.Points) <= maxCachedPoints {
		if c.done == nil {
			c.done = map[queryKey]QueryResult{}
		}
		c.done[key] = res
		c.points += len(res.Points)
	}
	c.mu.Unlock()
	close(call.done)
	if err != nil {
		return res, err
	}
	return withPoints(base, res), nil
}

// withPoints returns base with r's answer; the points are copied, so a
// caller may change its own.
func withPoints(base, r QueryResult) QueryResult {
	base.Kind, base.Unit, base.From, base.Step, base.Tier = r.Kind, r.Unit, r.From, r.Step, r.Tier
	base.Points = slices.Clone(r.Points)
	return base
}
