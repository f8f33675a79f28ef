package history

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/bizra/vitals"
	"github.com/bizra/vitals/metric"
)

// ErrClosed is returned by a Store's methods after Close.
var ErrClosed = errors.New("history: store closed")

// Store keeps the history of every series of a Monitor in one bbolt file,
// at several resolutions (tiers). It is a vitals.Consumer: the collector
// hands it each snapshot, it adds the tick's changes to the current step's
// records in memory, and when a step of the finest tier ends it encodes
// the step's records into a frame and hands it to its own writer goroutine.
// Consume never waits for the disk.
//
// The writer commits each frame in one bbolt transaction, together with
// any coarser records it completes (built from the finer ones, so
// histograms stay exact merges) and the deletion of expired ones. A
// process killed at any moment loses only the steps not yet committed:
// the open one, and any waiting for a slow disk.
//
// When the file cannot be written (unwritable directory, disk full), the
// Store logs once, counts vitals_history_write_errors_total, keeps up to
// Options.MaxPending frames in memory (queries see them) and retries with
// each new frame; it logs again when writing works.
//
// All methods are safe for concurrent use.
type Store struct {
	opts   Options
	path   string
	log    *slog.Logger
	tiers  []Tier
	steps  []int64 // tier steps in seconds
	step0  int64
	rewind int64 // Options.RewindAfter in seconds

	// Collector side, under cmu.
	cmu       sync.Mutex
	closed    bool
	tr        vitals.PerSeries[*openSeries]
	elapsed   time.Duration // of the snapshot being consumed
	unhook    func()        // removes the Store from its Monitor's consumers
	series    []*openSeries // every tracked series, gone ones until the next seal
	hasOpen   bool
	openStart int64 // start of the open step, Unix seconds
	ticks, ms uint64
	prevTime  time.Time
	lastSize  int
	lastTick  int64 // newest snapshot time consumed, Unix nanoseconds

	// Shared, under mu.
	mu      sync.Mutex
	cat     catalog
	live    int // series seen by Consume
	pending []*pendingFrame
	nextSeq uint64
	newest  int64 // end of the newest step written or pending; 0 when none
	// prevLast is the newest tick an earlier process stored (Unix
	// nanoseconds; 0 none), read when the file is first opened: a start
	// before it is a clock that went back, a start after it a restart.
	prevLast int64
	attached bool // the file has been opened once
	ro       bool // opened read-only; set by Open, then constant
	lastErr  error
	started  uint64 // writer passes started
	finished uint64 // writer passes finished
	passDone chan struct{}

	// Writer side. db is replaced only by the writer, under dbMu.
	dbMu     sync.RWMutex
	db       *bolt.DB
	wake     chan struct{}
	stop     chan struct{}
	done     chan struct{}
	stopOnce sync.Once
	w        writerState
	fault    atomic.Pointer[func() error] // tests: fails commits

	qc           queryCache
	viewPanicked atomic.Bool
	corruptMu    sync.Mutex
	corruptSeen  map[[2]int64]struct{} // damaged frames counted: tier, step start

	m selfMetrics
}

type openSeries struct {
	info *seriesInfo
	acc  rollup
	gone bool
}

// overCap is the state of series left out because of MaxSeries.
var overCap = &openSeries{}

// pendingFrame is one finished step of the finest tier, waiting for the
// disk. Series are named by local id; the writer maps them to the file's
// series numbers. buf and the slices are never modified once queued, so
// queries read them without copying.
type pendingFrame struct {
	seq       uint64
	t         int64 // step start, Unix seconds
	ticks, ms uint64
	ids       []uint32 // local ids
	offs      []uint32 // record i is buf[offs[i]:offs[i+1]]
	buf       []byte
	last      int64 // newest tick in the frame, Unix nanoseconds
	rewind    bool  // a marker: delete history from t on
}

func (p *pendingFrame) record(local uint32) ([]byte, bool) {
	for i, id := range p.ids {
		if id == local {
			return p.buf[p.offs[i]:p.offs[i+1]], true
		}
	}
	return nil, false
}

// seriesInfo describes a series known to the Store: seen by Consume, or
// found in the file. Everything but disk is immutable.
type seriesInfo struct {
	key, name  string
	kind       metric.Kind
	unit, help string
	local      uint32 // index in catalog.list
	disk       uint32 // the file's number for the series; 0 until written (under mu)
	live       bool   // seen by Consume in this process (under mu)
}

type catalog struct {
	byKey   map[string]*seriesInfo
	list    []*seriesInfo
	maxDisk uint32
}

func (c *catalog) add(key, name string, kind metric.Kind, unit, help string) *seriesInfo {
	info := &seriesInfo{key: key, name: name, kind: kind, unit: unit, help: help, local: uint32(len(c.list))}
	c.list = append(c.list, info)
	c.byKey[key] = info
	return info
}

// Open opens (creating if needed) the history file in opts.Dir, starts the
// Store's writer and attaches the Store to m: its self-metrics
// (vitals_history_*) are in m.Registry() and it records every later
// snapshot until Close. m may be nil for a Store that only serves what the
// file holds (its self-metrics then go nowhere).
//
// A file that another process holds, that is not a history file, or that
// is corrupt is an error. A directory that cannot be written is not: the
// Store starts in memory, logs, and keeps trying.
func Open(m *vitals.Monitor, opts *Options) (*Store, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if err := o.normalize(); err != nil {
		return nil, err
	}
	s := &Store{
		opts:     o,
		path:     filepath.Join(o.Dir, FileName),
		log:      o.Logger,
		tiers:    o.Tiers,
		rewind:   int64(o.RewindAfter / time.Second),
		cat:      catalog{byKey: make(map[string]*seriesInfo)},
		passDone: make(chan struct{}),
		wake:     make(chan struct{}, 1),
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
	}
	for _, t := range o.Tiers {
		s.steps = append(s.steps, int64(t.Step/time.Second))
	}
	s.step0 = s.steps[0]
	var reg *metric.Registry
	if m != nil {
		reg = m.Registry()
	}
	s.m = newSelfMetrics(reg)
	s.ro = o.ReadOnly
	if err := s.openFirst(); err != nil {
		return nil, err
	}
	if s.ro {
		s.m.writable.Set(0)
	}
	go s.run()
	s.unhook = func() {}
	if m != nil {
		s.unhook = m.AddConsumer(s)
	}
	return s, nil
}

// Path returns the history file's path.
func (s *Store) Path() string { return s.path }

// Tiers returns the tiers kept, finest first.
func (s *Store) Tiers() []Tier { return append([]Tier(nil), s.tiers...) }

// Consume adds one snapshot to the open step's records, sealing the step
// when the snapshot is past it. The Monitor calls it on the collector
// goroutine each tick; it never waits for the disk.
func (s *Store) Consume(snap *vitals.Snapshot) {
	s.cmu.Lock()
	defer s.cmu.Unlock()
	if s.closed {
		return
	}
	el := snap.Elapsed
	if !s.prevTime.IsZero() {
		el = max(snap.Time.Sub(s.prevTime), 0)
	}
	s.prevTime = snap.Time
	m := alignDown(snap.Time.Unix(), s.step0)
	switch {
	case !s.hasOpen:
		m = s.firstStepLocked(snap.Time)
		s.hasOpen, s.openStart = true, m
	case m > s.openStart:
		s.sealLocked()
		s.openStart = m
	case m < s.openStart && s.openStart-m > s.rewind:
		s.log.Warn("vitals/history: the clock went back further than RewindAfter; deleting history stamped after the new time",
			"now", snap.Time.UTC().Format(time.RFC3339), "open_step", time.Unix(s.openStart, 0).UTC().Format(time.RFC3339),
			"rewind_after", s.opts.RewindAfter.String())
		s.sealLocked()
		s.rewindLocked(m)
		s.openStart = m
	}
	s.ticks++
	s.ms += uint64(min(el, time.Duration(s.step0)*time.Second) / time.Millisecond)
	s.elapsed = el
	s.tr.Update(snap, s.apply, s.gone)
	s.lastTick = max(s.lastTick, snap.Time.UnixNano())
}

// firstStepLocked returns the step this process's first snapshot, taken
// at now, counts into. A start after the newest tick stored by an earlier
// process is a restart: its steps are the clock's, and a step that the
// file already holds is merged with the stored record when written, so
// restarts neither shift nor delete anything. A start before it means the
// clock went back: by up to RewindAfter, ticks count into the newest
// stored step until the clock catches up; by more, the history stamped
// after now is deleted, as a clock that was wrong wrote it.
func (s *Store) firstStepLocked(now time.Time) int64 {
	m := alignDown(now.Unix(), s.step0)
	s.mu.Lock()
	prev := s.prevLast
	s.mu.Unlock()
	back := time.Duration(prev - now.UnixNano())
	switch {
	case prev == 0 || back <= 0:
		return m
	case back <= time.Duration(s.rewind)*time.Second:
		newest := alignDown(time.Unix(0, prev).Unix(), s.step0)
		s.log.Info("vitals/history: the clock is behind the newest stored tick; counting into that step until it catches up",
			"behind", back.Round(time.Millisecond).String(), "step", time.Unix(newest, 0).UTC().Format(time.RFC3339))
		return max(m, newest)
	}
	s.log.Warn("vitals/history: the clock went back further than RewindAfter; deleting history stamped after the new time",
		"now", now.UTC().Format(time.RFC3339), "newest_stored", time.Unix(0, prev).UTC().Format(time.RFC3339),
		"rewind_after", s.opts.RewindAfter.String())
	s.rewindLocked(m)
	return m
}

func (s *Store) apply(p *vitals.Point, st **openSeries) {
	os := *st
	if os == overCap {
		return
	}
	if os == nil {
		info := s.lookupOrAdd(p)
		if info == nil {
			*st = overCap
			s.m.seriesDropped.Inc()
			return
		}
		os = &openSeries{info: info}
		os.acc.reset(info.kind)
		s.series = append(s.series, os)
		*st = os
	}
	acc := &os.acc
	acc.addTick(s.elapsed, time.Duration(s.step0)*time.Second)
	switch p.Kind() {
	case metric.KindCounter:
		acc.addCounter(p.Increase, p.Value, s.elapsed, p.New)
	case metric.KindGauge:
		acc.addGauge(p.Value)
	case metric.KindHistogram:
		acc.addHist(p.Delta)
	}
}

func (s *Store) gone(st **openSeries) {
	if os := *st; os != nil && os != overCap {
		os.gone = true
	}
}

// lookupOrAdd returns the catalog entry for p's series, creating it; nil
// past MaxSeries.
func (s *Store) lookupOrAdd(p *vitals.Point) *seriesInfo {
	return s.lookupOrAddSeries(p.Key(), p.Name(), p.Kind(), p.Unit(), p.Help())
}

// lookupOrAddSeries is lookupOrAdd for a series described by its parts.
func (s *Store) lookupOrAddSeries(key, name string, kind metric.Kind, unit, help string) *seriesInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	info := s.cat.byKey[key]
	if info != nil && info.kind == kind {
		if !info.live {
			if s.live >= s.opts.MaxSeries {
				return nil
			}
			info.live = true
			s.live++
		}
		return info
	}
	if s.live >= s.opts.MaxSeries {
		return nil
	}
	// New, or a key whose kind changed: a new series under the same key
	// (its old records stay readable by number until they expire).
	info = s.cat.add(key, name, kind, unit, help)
	info.live = true
	s.live++
	s.m.series.Set(int64(len(s.cat.byKey)))
	return info
}

// sealLocked encodes the open step's records into a pending frame.
func (s *Store) sealLocked() {
	if !s.hasOpen {
		return
	}
	pf := &pendingFrame{t: s.openStart, ticks: s.ticks, ms: s.ms, last: s.lastTick, buf: make([]byte, 0, s.lastSize+s.lastSize/8)}
	live := s.series[:0]
	for _, os := range s.series {
		if os.acc.ticks > 0 {
			pf.ids = append(pf.ids, os.info.local)
			pf.offs = append(pf.offs, uint32(len(pf.buf)))
			pf.buf = appendRecord(pf.buf, &os.acc, pf.ticks, pf.ms)
			os.acc.reset(os.info.kind)
		}
		if !os.gone {
			live = append(live, os)
		}
	}
	clear(s.series[len(live):])
	s.series = live
	pf.offs = append(pf.offs, uint32(len(pf.buf)))
	s.ticks, s.ms = 0, 0
	s.lastSize = len(pf.buf)
	if len(pf.ids) > 0 {
		s.enqueue(pf)
	}
}

// rewindLocked queues the deletion of history from t on (the clock went
// back by more than RewindAfter).
func (s *Store) rewindLocked(t int64) {
	s.mu.Lock()
	kept := s.pending[:0]
	for _, p := range s.pending {
		if p.rewind || p.t < t {
			kept = append(kept, p)
		}
	}
	clear(s.pending[len(kept):])
	s.pending = kept
	s.mu.Unlock()
	s.enqueue(&pendingFrame{t: t, rewind: true})
}

// enqueue hands a frame to the writer, dropping the oldest frame when
// MaxPending are already waiting.
func (s *Store) enqueue(pf *pendingFrame) {
	s.mu.Lock()
	s.nextSeq++
	pf.seq = s.nextSeq
	if !pf.rewind {
		frames := 0
		for _, p := range s.pending {
			if !p.rewind {
				frames++
			}
		}
		if frames >= s.opts.MaxPending {
			for i, p := range s.pending {
				if !p.rewind {
					s.pending = append(s.pending[:i], s.pending[i+1:]...)
					s.m.dropped.Inc()
					break
				}
			}
		}
	}
	s.pending = append(s.pending, pf)
	if pf.rewind {
		s.newest = pf.t
	} else {
		s.newest = max(s.newest, pf.t+s.step0)
	}
	s.m.pending.Set(int64(len(s.pending)))
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Flush waits until every finished step has been written, or until a
// write attempt that started after the call fails (returning its error),
// or ctx ends. It does not end the open step; Close does.
func (s *Store) Flush(ctx context.Context) error {
	if s.ro {
		return fmt.Errorf("history: %s: %w", s.path, ErrReadOnly)
	}
	s.mu.Lock()
	if len(s.pending) == 0 {
		s.mu.Unlock()
		return nil
	}
	target := s.started + 1
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
	for {
		s.mu.Lock()
		if len(s.pending) == 0 {
			s.mu.Unlock()
			return nil
		}
		if s.finished >= target && s.lastErr != nil {
			err := s.lastErr
			s.mu.Unlock()
			return err
		}
		ch := s.passDone
		s.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		case <-s.done:
			s.mu.Lock()
			n := len(s.pending)
			s.mu.Unlock()
			if n == 0 {
				return nil
			}
			return ErrClosed
		}
	}
}

// Close ends the open step, writes what is pending (one attempt), stops
// the writer and closes the file. Call it after Monitor.Stop. It returns
// an error when frames could not be written. It is idempotent.
func (s *Store) Close() error {
	s.unhook()
	s.cmu.Lock()
	if !s.closed {
		s.closed = true
		s.sealLocked()
	}
	s.cmu.Unlock()
	s.stopOnce.Do(func() { close(s.stop) })
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	if n := len(s.pending); n > 0 && s.ro {
		s.log.Info("vitals/history: closed a read-only history; the steps kept in memory were not saved", "path", s.path, "steps", n)
		return nil
	}
	if n := len(s.pending); n > 0 {
		return fmt.Errorf("history: %d steps not written to %s: %w", n, s.path, s.lastErr)
	}
	return nil
}

// WriteTo writes a consistent copy of the history file to w (a backup
// while the Store runs: bbolt's lock keeps other processes from opening
// the file). Writes continue meanwhile; the copy is as of the call.
func (s *Store) WriteTo(w io.Writer) (int64, error) {
	s.dbMu.RLock()
	defer s.dbMu.RUnlock()
	if s.db == nil {
		return 0, fmt.Errorf("history: %s is not open: %w", s.path, s.lastWriteError())
	}
	var n int64
	err := s.view(s.db, func(tx *bolt.Tx) error {
		var err error
		n, err = tx.WriteTo(w)
		return err
	})
	return n, err
}

func (s *Store) lastWriteError() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lastErr == nil {
		return ErrClosed
	}
	return s.lastErr
}

// SeriesInfo describes a series with history.
type SeriesInfo struct {
	Key  string      // name{labels}, as vitals.Point.Key prints it
	Name string      // the metric name
	Kind metric.Kind // counter, gauge or histogram
	Unit string
	Help string
	Live bool // seen in this process; false for series known only from the file
}

// Series lists the series with history, live or from the file, sorted by
// key.
func (s *Store) Series() []SeriesInfo {
	s.mu.Lock()
	out := make([]SeriesInfo, 0, len(s.cat.byKey))
	for _, in := range s.cat.byKey {
		out = append(out, SeriesInfo{Key: in.key, Name: in.name, Kind: in.kind, Unit: in.unit, Help: in.help, Live: in.live})
	}
	s.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

// Lookup returns the description of series key.
func (s *Store) Lookup(key string) (SeriesInfo, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	in := s.cat.byKey[key]
	if in == nil {
		return SeriesInfo{}, false
	}
	return SeriesInfo{Key: in.key, Name: in.name, Kind: in.kind, Unit: in.unit, Help: in.help, Live: in.live}, true
}

// Status is the Store's state, for health checks and dashboards.
type Status struct {
	Path        string
	ReadOnly    bool      // opened read-only (Options.ReadOnly, or the file could not be written)
	Writable    bool      // the last write attempt succeeded; false when ReadOnly
	LastError   string    // of the last failed attempt; "" when writable
	Pending     int       // finished steps waiting for the disk
	Newest      time.Time // end of the newest step stored or pending
	FileBytes   int64     // the file's size after the last write
	Series      int
	Dropped     uint64 // steps dropped because MaxPending were waiting
	WriteErrors uint64
}

// Status returns the Store's state.
func (s *Store) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := Status{Path: s.path, ReadOnly: s.ro, Writable: s.lastErr == nil && !s.ro, Pending: len(s.pending), Series: len(s.cat.byKey),
		FileBytes: s.m.fileBytes.Value(), Dropped: s.m.dropped.Value(), WriteErrors: s.m.writeErrors.Value()}
	if s.lastErr != nil {
		st.LastError = s.lastErr.Error()
	}
	if s.newest != 0 {
		st.Newest = time.Unix(s.newest, 0).UTC()
	}
	return st
}

type selfMetrics struct {
	writeErrors    *metric.Counter
	dropped        *metric.Counter
	seriesDropped  *metric.Counter
	corrupt        *metric.Counter
	corruptSeries  *metric.Counter
	queryCacheHits *metric.Counter
	expired        *metric.Counter
	commits        *metric.Counter
	commitTime     *metric.Histogram
	pending        *metric.Gauge
	fileBytes      *metric.Gauge
	series         *metric.Gauge
	writable       *metric.Gauge
}

func newSelfMetrics(r *metric.Registry) selfMetrics {
	if r == nil {
		r = metric.NewRegistry() // private: counted, not exported
	}
	m := selfMetrics{
		writeErrors: r.Counter(metric.Opts{Name: "vitals_history_write_errors_total",
			Help: "Failed attempts to write history to disk (unwritable directory, disk full, I/O error)."}),
		dropped: r.Counter(metric.Opts{Name: "vitals_history_dropped_frames_total",
			Help: "Finished steps of the finest tier dropped because MaxPending were already waiting for the disk."}),
		seriesDropped: r.Counter(metric.Opts{Name: "vitals_history_series_dropped_total",
			Help: "Series left out of the history because the store was at MaxSeries."}),
		corrupt: r.Counter(metric.Opts{Name: "vitals_history_corrupt_frames_total",
			Help: "Stored frames found damaged (failed their checksum or did not decode), each counted once; they are skipped."}),
		corruptSeries: r.Counter(metric.Opts{Name: "vitals_history_corrupt_series_total",
			Help: "Damaged series definitions found when the history file was opened; those series' history is skipped."}),
		queryCacheHits: r.Counter(metric.Opts{Name: "vitals_history_query_cache_hits_total",
			Help: "Queries answered from the cache of answers computed since the last finished step, or by waiting for the same query in flight."}),
		expired: r.Counter(metric.Opts{Name: "vitals_history_expired_frames_total",
			Help: "Frames deleted because they were older than their tier's retention."}),
		commits: r.Counter(metric.Opts{Name: "vitals_history_commits_total",
			Help: "Write transactions committed to the history file."}),
		commitTime: r.Histogram(metric.Opts{Name: "vitals_history_commit_duration_seconds", Unit: "seconds",
			Help: "Time one write transaction took, fsync included."}),
		pending: r.Gauge(metric.Opts{Name: "vitals_history_pending_frames",
			Help: "Finished steps waiting in memory for the disk."}),
		fileBytes: r.Gauge(metric.Opts{Name: "vitals_history_file_size_bytes", Unit: "bytes",
			Help: "Size of the history file after the last write."}),
		series: r.Gauge(metric.Opts{Name: "vitals_history_series",
			Help: "Series known to the history store, live or from the file."}),
		writable: r.Gauge(metric.Opts{Name: "vitals_history_writable",
			Help: "1 when the last attempt to write history succeeded, 0 when history is held in memory."}),
	}
	m.writable.Set(1)
	return m
}
