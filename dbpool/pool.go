package dbpool

import (
	"context"
	"errors"
	"math"
	"sync"
	"time"

	"github.com/bizra/vitals"
	"github.com/bizra/vitals/metric"
	"github.com/bizra/vitals/score"
)

// Config is a pool's configuration, exported as metrics so dashboards can
// set figures against limits. A field a library does not have is -1 and is
// not exported.
type Config struct {
	MaxOpen     int64         // most connections open at once; 0: unlimited
	MaxIdle     int64         // most idle connections kept
	MinOpen     int64         // connections kept open even when idle
	MaxLifetime time.Duration // a connection is closed after this long; 0: never
	MaxIdleTime time.Duration // an idle connection is closed after this long; 0: never
}

// UnknownConfig is a Config with every field unknown, for sources to start
// from.
var UnknownConfig = Config{MaxOpen: -1, MaxIdle: -1, MinOpen: -1, MaxLifetime: -1, MaxIdleTime: -1}

// Sample is what a pool library reports about itself at one moment.
// Cumulative fields count since the pool was opened. A field the library
// does not report is -1 and is not exported.
type Sample struct {
	MaxOpen      int64 // 0: unlimited
	Open         int64 // connections open, in use or idle
	InUse        int64
	Idle         int64
	Constructing int64 // connections being opened
	// Waits and WaitTime are the acquires the library itself saw wait for
	// a connection, and their total wait (database/sql's WaitCount and
	// WaitDuration, pgxpool's EmptyAcquireCount and EmptyAcquireWaitTime).
	Waits    int64
	WaitTime time.Duration
	Opened   int64 // connections opened
	// Connections closed by the pool's own limits.
	ClosedMaxIdle, ClosedMaxIdleTime, ClosedMaxLifetime int64
}

// UnknownSample is a Sample with every field unknown.
var UnknownSample = Sample{MaxOpen: -1, Open: -1, InUse: -1, Idle: -1, Constructing: -1, Waits: -1, WaitTime: -1,
	Opened: -1, ClosedMaxIdle: -1, ClosedMaxIdleTime: -1, ClosedMaxLifetime: -1}

// Source reports a pool library's own figures; the sqlmon and pgxpoolmon
// adapters implement it. Both methods are called at scrape and tick time,
// from any goroutine, and must be quick.
type Source interface {
	Sample() Sample
	Config() Config
}

// ErrorKind says whether an error came from the connection rather than the
// query, and how.
type ErrorKind uint8

// The kinds. Dial, Auth and Broken are the values of the kind label of
// vitals_db_connection_errors_total.
const (
	NotConnection ErrorKind = iota // the query failed; the connection is fine
	Dial                           // a new connection could not be opened (refused, unreachable, timed out)
	Auth                           // the server refused the credentials or the role
	Broken                         // an open connection broke (reset, closed by the server, terminated)
	numKinds
)

var kindNames = [numKinds]string{"none", "dial", "auth", "broken"}

// String returns the kind's label value.
func (k ErrorKind) String() string {
	if k < numKinds {
		return kindNames[k]
	}
	return "unknown"
}

// Acquire results, the values of the result label of
// vitals_db_pool_acquires_total.
const (
	resultOK = iota
	resultTimeout
	resultCanceled
	resultError
	numResults
)

var resultNames = [numResults]string{"ok", "timeout", "canceled", "error"}

// Options configures a Pool monitor. nil means every default.
type Options struct {
	// Driver names the library in the JSON endpoint ("database/sql",
	// "pgxpool"). Default "": not shown.
	Driver string
	// Source reports the library's own figures. Default nil: only what
	// the wrapper measures is exported.
	Source Source
	// Classify tells connection errors from query errors. Default nil
	// means DefaultClassify; adapters pass one that knows their driver.
	Classify func(error) ErrorKind
	// IgnoreError reports errors that are not failures of a query (such
	// as sql.ErrNoRows). Default nil: every non-nil error is a failure.
	IgnoreError func(error) bool
	// Ping obtains a connection and checks that the server answers on it
	// (pgxpool.Pool.Ping, sql.DB.PingContext); Pool.Ping calls it and
	// counts it as an acquire. The adapters set it. Default nil: Pool.Ping
	// has nothing to call and reports success.
	Ping func(ctx context.Context) error
	// SampleMaxAge is how long one sample of the Source's figures serves
	// later readers, so that the dozen series of one scrape or tick share
	// one call to the library. Default 0 means 10 ms; a negative value
	// samples on every read.
	SampleMaxAge time.Duration
	// MaxOperations caps the operation names of a pool; past it, queries
	// are recorded under "__overflow__". Default 0 means 100.
	MaxOperations int
	// Window is the rolling window of Stats and the score. Default 0
	// means one minute.
	Window time.Duration
	// WaitTarget and WaitLimit rate the 99th percentile of acquire waits:
	// 100 at or below the target, 0 at or above the limit. Defaults 0 mean
	// 10 ms and 250 ms.
	WaitTarget, WaitLimit time.Duration
	// UtilizationTarget and UtilizationLimit rate connections in use over
	// the maximum, averaged over the window. Defaults 0 mean 0.75 and 1.
	UtilizationTarget, UtilizationLimit float64
	// QueueTarget and QueueLimit rate the average number of callers
	// waiting for a connection over the window (Little's law: total wait
	// time over window length). Defaults 0 mean 0.1, and the pool's
	// maximum size (or 10 when it is unlimited or unknown).
	QueueTarget, QueueLimit float64
	// ErrorRateTarget and ErrorRateLimit rate failed acquires and queries
	// over all acquires and queries in the window. Defaults 0 mean 0.001
	// and 0.05.
	ErrorRateTarget, ErrorRateLimit float64
}

func (o *Options) withDefaults() Options {
	var d Options
	if o != nil {
		d = *o
	}
	if d.Classify == nil {
		d.Classify = DefaultClassify
	}
	if d.SampleMaxAge == 0 {
		d.SampleMaxAge = 10 * time.Millisecond
	}
	if d.MaxOperations <= 0 {
		d.MaxOperations = 100
	}
	if d.Window <= 0 {
		d.Window = time.Minute
	}
	if d.WaitTarget <= 0 {
		d.WaitTarget = 10 * time.Millisecond
	}
	if d.WaitLimit <= d.WaitTarget {
		d.WaitLimit = max(250*time.Millisecond, 2*d.WaitTarget)
	}
	def := func(p *float64, v float64) {
		if !(*p > 0) {
			*p = v
		}
	}
	def(&d.UtilizationTarget, 0.75)
	def(&d.UtilizationLimit, 1)
	def(&d.QueueTarget, 0.1)
	def(&d.ErrorRateTarget, 0.001)
	def(&d.ErrorRateLimit, 0.05)
	return d
}

// Pool monitors one named connection pool: what the library reports
// (through Options.Source), and what only a wrapper around it can measure:
// the wait of every acquire, the callers waiting right now, acquire
// timeouts and cancellations, connection errors by kind, and query latency
// and errors per operation. The sqlmon and pgxpoolmon packages wrap
// database/sql and pgxpool; any other pool reports through BeginAcquire
// and Op.
//
// See the package documentation for the metrics.
type Pool struct {
	name  string
	opts  Options
	src   Source
	clock vitals.Clock
	fam   *families

	waiters  *metric.Gauge
	wait     *metric.Histogram
	acquires [numResults]*metric.Counter
	connErrs [numKinds]*metric.Counter // [NotConnection] is unregistered

	opsMu    sync.Mutex
	ops      map[string]*Op
	opsOrder []*Op

	smu      sync.Mutex // guards the sample memo
	last     Sample
	lastAt   int64
	lastCfg  Config
	sampled  bool
	scoreG   *metric.FloatGauge
	factorG  [numFactors]*metric.FloatGauge
	mu       sync.Mutex // guards the windows and the stats
	win      *windows
	st       Stats
	sampleMx time.Duration // memo lifetime
}

// New registers the series of the pool called name in m's registry, all at
// zero, and adds the pool as a consumer of m's snapshots for its rolling
// window and score. name is a label value: keep it to a fixed set. New
// panics on an empty name.
func New(m *vitals.Monitor, name string, opts *Options) *Pool {
	if name == "" {
		panic("vitals/dbpool: New needs a non-empty pool name")
	}
	o := opts.withDefaults()
	f := newFamilies(m.Registry())
	p := &Pool{name: name, opts: o, src: o.Source, clock: m.Clock(), fam: f, ops: make(map[string]*Op),
		sampleMx: o.SampleMaxAge}
	p.waiters = f.waiters.With(name)
	p.wait = f.wait.With(name)
	for r := range numResults {
		p.acquires[r] = f.acquires.With(name, resultNames[r])
	}
	p.connErrs[NotConnection] = new(metric.Counter)
	for k := Dial; k < numKinds; k++ {
		p.connErrs[k] = f.connErrs.With(name, k.String())
	}
	p.scoreG = f.score.With(name)
	for i := range numFactors {
		p.factorG[i] = f.factor.With(name, factorNames[i])
	}
	if p.src != nil {
		p.bindSource()
	}
	p.win = newWindows(o.Window)
	p.win.bind(f, name)
	smp, cfg := p.sample(), p.config()
	p.mu.Lock()
	p.st = p.computeLocked(m.Clock().Now(), smp, cfg, nil)
	p.publishLocked()
	p.mu.Unlock()
	m.AddConsumer(p)
	return p
}

// Name returns the pool's name.
func (p *Pool) Name() string { return p.name }

// sample returns the source's figures, at most Options.SampleMaxAge old, so that the
// dozen callback series of one scrape or tick share one sample. The
// source is called with no lock held.
func (p *Pool) sample() Sample {
	if p.src == nil {
		return UnknownSample
	}
	now := metric.Nanotime()
	p.smu.Lock()
	if p.sampled && time.Duration(now-p.lastAt) < p.sampleMx {
		s := p.last
		p.smu.Unlock()
		return s
	}
	p.smu.Unlock()
	s, c := p.src.Sample(), p.src.Config()
	p.smu.Lock()
	p.last, p.lastCfg, p.lastAt, p.sampled = s, c, now, true
	p.smu.Unlock()
	return s
}

func (p *Pool) config() Config {
	if p.src == nil {
		return UnknownConfig
	}
	p.sample()
	p.smu.Lock()
	defer p.smu.Unlock()
	return p.lastCfg
}

// bindSource exports the figures the source reports; a figure it reports
// as -1 at creation is left out rather than shown as a false zero.
func (p *Pool) bindSource() {
	f, n := p.fam, p.name
	s, c := p.sample(), p.config()
	bind := func(v *metric.FuncVec, known bool, fn func() float64, labels ...string) {
		if known {
			v.Bind(fn, append([]string{n}, labels...)...)
		}
	}
	num := func(get func(Sample) int64) func() float64 {
		return func() float64 { return float64(max(get(p.sample()), 0)) }
	}
	bind(f.conns, s.InUse >= 0, num(func(s Sample) int64 { return s.InUse }), "in_use")
	bind(f.conns, s.Idle >= 0, num(func(s Sample) int64 { return s.Idle }), "idle")
	bind(f.constructing, s.Constructing >= 0, num(func(s Sample) int64 { return s.Constructing }))
	bind(f.driverWaits, s.Waits >= 0, num(func(s Sample) int64 { return s.Waits }))
	bind(f.driverWaitSec, s.WaitTime >= 0, func() float64 { return max(p.sample().WaitTime, 0).Seconds() })
	bind(f.opened, s.Opened >= 0, num(func(s Sample) int64 { return s.Opened }))
	bind(f.closed, s.ClosedMaxIdle >= 0, num(func(s Sample) int64 { return s.ClosedMaxIdle }), "max_idle")
	bind(f.closed, s.ClosedMaxIdleTime >= 0, num(func(s Sample) int64 { return s.ClosedMaxIdleTime }), "max_idle_time")
	bind(f.closed, s.ClosedMaxLifetime >= 0, num(func(s Sample) int64 { return s.ClosedMaxLifetime }), "max_lifetime")
	cfg := func(get func(Config) float64) func() float64 {
		return func() float64 { return max(get(p.config()), 0) }
	}
	bind(f.maxOpen, c.MaxOpen >= 0 || s.MaxOpen >= 0, func() float64 {
		if s := p.sample(); s.MaxOpen >= 0 {
			return float64(s.MaxOpen)
		}
		return float64(max(p.config().MaxOpen, 0))
	})
	bind(f.maxIdle, c.MaxIdle >= 0, cfg(func(c Config) float64 { return float64(c.MaxIdle) }))
	bind(f.minOpen, c.MinOpen >= 0, cfg(func(c Config) float64 { return float64(c.MinOpen) }))
	bind(f.maxLifetime, c.MaxLifetime >= 0, cfg(func(c Config) float64 { return c.MaxLifetime.Seconds() }))
	bind(f.maxIdleTime, c.MaxIdleTime >= 0, cfg(func(c Config) float64 { return c.MaxIdleTime.Seconds() }))
}

// Acquiring is one caller waiting for a connection, from BeginAcquire to
// End.
type Acquiring struct {
	p     *Pool
	start int64
}

// BeginAcquire marks a caller starting to wait for a connection: it counts
// in vitals_db_pool_waiters until End.
func (p *Pool) BeginAcquire() Acquiring {
	p.waiters.Inc()
	return Acquiring{p: p, start: metric.Nanotime()}
}

// End records the wait and how the acquire ended: err nil is a connection
// obtained; context.DeadlineExceeded a timeout; context.Canceled a
// cancellation; any other error a failure, counted as a connection error
// when Options.Classify says it is one. Like every vitals timing handle
// (Op.Start, cache.Cache.Begin) it returns nothing: the wait is in the
// histogram, and a caller that wants it too times it itself.
func (a Acquiring) End(err error) {
	p := a.p
	d := time.Duration(metric.Nanotime() - a.start)
	p.waiters.Dec()
	p.wait.ObserveDuration(d)
	switch {
	case err == nil:
		p.acquires[resultOK].Inc()
	case errors.Is(err, context.DeadlineExceeded):
		p.acquires[resultTimeout].Inc()
	case errors.Is(err, context.Canceled):
		p.acquires[resultCanceled].Inc()
	default:
		p.acquires[resultError].Inc()
		p.ConnectionError(p.opts.Classify(err))
	}
}

// Ping checks that the pool can hand out a working connection now, with
// Options.Ping, and records it as one acquire: a failure counts as a
// failed acquire and, by kind, as a connection error, so a pool whose
// connections cannot be made shows it in its metrics and its score even
// when no query runs. health.PoolCheck calls it on every run. A Pool
// without Options.Ping returns nil and records nothing.
func (p *Pool) Ping(ctx context.Context) error {
	if p.opts.Ping == nil {
		return nil
	}
	a := p.BeginAcquire()
	err := p.opts.Ping(ctx)
	a.End(err)
	return err
}

// Usage returns the share of the pool's connections in use (NaN when the
// maximum is unlimited or unknown) and the callers waiting for one, read
// now. With Ping, it is what health.PoolCheck needs.
func (p *Pool) Usage() (utilization float64, waiters int) {
	s := p.sample()
	maxOpen := s.MaxOpen
	if maxOpen < 0 {
		maxOpen = p.config().MaxOpen
	}
	w := int(max(p.waiters.Value(), 0))
	if maxOpen <= 0 || s.InUse < 0 {
		return math.NaN(), w
	}
	return float64(s.InUse) / float64(maxOpen), w
}

// ConnectionError counts one connection error of kind k (NotConnection
// counts nothing). Use it for errors seen outside an acquire or a query,
// such as a health check.
func (p *Pool) ConnectionError(k ErrorKind) {
	if k > NotConnection && k < numKinds {
		p.connErrs[k].Inc()
	}
}

// Waiters returns the callers waiting for a connection right now.
func (p *Pool) Waiters() int64 { return p.waiters.Value() }

// Saturation returns how full the pool is right now: connections in use
// plus callers waiting, over the maximum. Above 1 callers are queueing. It
// is NaN when the maximum is unlimited or unknown.
func (p *Pool) Saturation() float64 {
	s := p.sample()
	maxOpen := s.MaxOpen
	if maxOpen < 0 {
		maxOpen = p.config().MaxOpen
	}
	if maxOpen <= 0 || s.InUse < 0 {
		return math.NaN()
	}
	return float64(s.InUse+max(p.waiters.Value(), 0)) / float64(maxOpen)
}

// Op is one named kind of query, a handle from Pool.Op: keep it.
type Op struct {
	p    *Pool
	name string
	dur  *metric.Histogram
	errs *metric.Counter
	win  *opWindow // owned by Consume
}

// Op returns the handle for the operation called name, creating its
// series on first use. Names are label values: use a fixed set
// ("user.get", "order.insert"), never SQL text. Past Options.MaxOperations
// names, queries are recorded under "__overflow__".
func (p *Pool) Op(name string) *Op {
	p.opsMu.Lock()
	defer p.opsMu.Unlock()
	if op := p.ops[name]; op != nil {
		return op
	}
	key := name
	if len(p.ops) >= p.opts.MaxOperations {
		key = metric.OverflowValue
		if op := p.ops[key]; op != nil {
			return op
		}
	}
	op := &Op{p: p, name: key, dur: p.fam.queryDur.With(p.name, key), errs: p.fam.queryErrs.With(p.name, key)}
	p.ops[key] = op
	p.opsOrder = append(p.opsOrder, op)
	return op
}

// Name returns the operation's name.
func (o *Op) Name() string { return o.name }

// Query is one running query, from Op.Start to End.
type Query struct {
	op    *Op
	start int64
}

// Start begins one execution of the operation.
func (o *Op) Start() Query { return Query{op: o, start: metric.Nanotime()} }

// End records the query's duration and, when err is a failure, an error,
// plus a connection error when Options.Classify says the connection broke.
func (q Query) End(err error) {
	q.op.Observe(time.Duration(metric.Nanotime()-q.start), err)
}

// Observe records a query measured elsewhere.
func (o *Op) Observe(d time.Duration, err error) {
	o.dur.ObserveDuration(d)
	if err == nil || (o.p.opts.IgnoreError != nil && o.p.opts.IgnoreError(err)) {
		return
	}
	o.errs.Inc()
	o.p.ConnectionError(o.p.opts.Classify(err))
}

// Score returns the pool's health score as of the last tick.
func (p *Pool) Score() score.Score {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.st.Score
}

type families struct {
	waiters                               *metric.Vec[*metric.Gauge]
	wait, queryDur                        *metric.Vec[*metric.Histogram]
	acquires, connErrs, queryErrs         *metric.Vec[*metric.Counter]
	conns, constructing, maxOpen, maxIdle *metric.FuncVec
	minOpen, maxLifetime, maxIdleTime     *metric.FuncVec
	driverWaits, driverWaitSec, opened    *metric.FuncVec
	closed                                *metric.FuncVec
	score, factor                         *metric.Vec[*metric.FloatGauge]
}

func newFamilies(r *metric.Registry) *families {
	pl := []string{"pool"}
	pf := []string{"pool", "factor"}
	return &families{
		waiters: r.GaugeVec(metric.Opts{Name: "vitals_db_pool_waiters", Labels: pl,
			Help: "Callers waiting for a connection right now (the pool's queue depth)."}),
		wait: r.HistogramVec(metric.Opts{Name: "vitals_db_pool_wait_duration_seconds", Unit: "seconds", Labels: pl,
			Help: "Time each acquire waited for a connection, failed ones included. rate() of its _sum is the average number of callers queued (Little's law)."}),
		queryDur: r.HistogramVec(metric.Opts{Name: "vitals_db_query_duration_seconds", Unit: "seconds", Labels: []string{"pool", "operation"},
			Help: "Duration of queries by operation, failed ones included, connection wait excluded."}),
		acquires: r.CounterVec(metric.Opts{Name: "vitals_db_pool_acquires_total", Labels: []string{"pool", "result"},
			Help: "Connection acquires by result: ok, timeout (deadline passed while waiting), canceled, error."}),
		connErrs: r.CounterVec(metric.Opts{Name: "vitals_db_connection_errors_total", Labels: []string{"pool", "kind"},
			Help: "Connection errors by kind: dial (could not connect), auth (credentials or role refused), broken (an open connection failed)."}),
		queryErrs: r.CounterVec(metric.Opts{Name: "vitals_db_query_errors_total", Labels: []string{"pool", "operation"},
			Help: "Queries that failed, by operation."}),
		conns: r.GaugeFuncVec(metric.Opts{Name: "vitals_db_pool_connections", Labels: []string{"pool", "state"},
			Help: "Open connections by state: in_use or idle, as the pool library reports them."}),
		constructing: r.GaugeFuncVec(metric.Opts{Name: "vitals_db_pool_connections_constructing", Labels: pl,
			Help: "Connections being opened right now."}),
		maxOpen: r.GaugeFuncVec(metric.Opts{Name: "vitals_db_pool_max_open_connections", Labels: pl,
			Help: "Configured maximum of open connections; 0 means unlimited."}),
		maxIdle: r.GaugeFuncVec(metric.Opts{Name: "vitals_db_pool_max_idle_connections", Labels: pl,
			Help: "Configured maximum of idle connections kept."}),
		minOpen: r.GaugeFuncVec(metric.Opts{Name: "vitals_db_pool_min_connections", Labels: pl,
			Help: "Configured minimum of connections kept open."}),
		maxLifetime: r.GaugeFuncVec(metric.Opts{Name: "vitals_db_pool_max_lifetime_seconds", Unit: "seconds", Labels: pl,
			Help: "Configured maximum lifetime of a connection; 0 means unlimited."}),
		maxIdleTime: r.GaugeFuncVec(metric.Opts{Name: "vitals_db_pool_max_idle_time_seconds", Unit: "seconds", Labels: pl,
			Help: "Configured maximum idle time of a connection; 0 means unlimited."}),
		driverWaits: r.CounterFuncVec(metric.Opts{Name: "vitals_db_pool_driver_waits_total", Labels: pl,
			Help: "Acquires the pool library itself counted as waiting for a connection (database/sql WaitCount, pgxpool EmptyAcquireCount)."}),
		driverWaitSec: r.CounterFuncVec(metric.Opts{Name: "vitals_db_pool_driver_wait_seconds_total", Unit: "seconds", Labels: pl,
			Help: "Total wait of those acquires as the pool library counts it (database/sql WaitDuration, pgxpool EmptyAcquireWaitTime)."}),
		opened: r.CounterFuncVec(metric.Opts{Name: "vitals_db_pool_connections_opened_total", Labels: pl,
			Help: "Connections the pool opened."}),
		closed: r.CounterFuncVec(metric.Opts{Name: "vitals_db_pool_connections_closed_total", Labels: []string{"pool", "reason"},
			Help: "Connections the pool closed for its own limits: max_idle, max_idle_time, max_lifetime."}),
		score: r.FloatGaugeVec(metric.Opts{Name: "vitals_db_pool_score", Labels: pl,
			Help: "Health score of the pool, 0-100, over the rolling window (see vitals_db_pool_score_factor)."}),
		factor: r.FloatGaugeVec(metric.Opts{Name: "vitals_db_pool_score_factor", Labels: pf,
			Help: "Score, 0-100, of each factor of the pool's health score: utilization, queue_depth, wait_p99, error_rate."}),
	}
}
