package history

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/bizra/vitals/metric"
)

// Bucket names in the file.
var (
	bucketMeta   = []byte("meta")
	bucketSeries = []byte("series")
	keyFormat    = []byte("format")
	// keyCommitted holds the sequence number of the last pending frame
	// committed by this process, so queries skip its in-memory copy.
	keyCommitted = []byte("committed")
	// keyLastTick holds the newest tick stored (Unix nanoseconds), so that
	// the next process tells a restart (it starts later) from a clock
	// that went back (it starts earlier).
	keyLastTick = []byte("last-tick")
	// keySeriesMax holds the highest series number ever given, so that a
	// damaged definition's number is never given again.
	keySeriesMax = []byte("series-max")
)

const fileFormat = 1

func tierBucket(step int64) []byte { return []byte("tier/" + strconv.FormatInt(step, 10)) }
func builtKey(step int64) []byte   { return []byte("built/" + strconv.FormatInt(step, 10)) }

func be64(t int64) []byte { return binary.BigEndian.AppendUint64(nil, uint64(t)) }

func keyTime(k []byte) int64 {
	if len(k) != 8 {
		return -1 << 62
	}
	return int64(binary.BigEndian.Uint64(k))
}

// ErrFormat is returned by Open for a file written by a newer version.
var ErrFormat = errors.New("unsupported history file format")

// writerState belongs to the writer goroutine (and to Open before it
// starts).
type writerState struct {
	failing   bool
	built     []int64 // per tier: coarse steps ending at or before are final (index 0 unused)
	committed uint64  // sequence number of the last pending frame committed
	done0     int64   // end of the newest finest-tier frame in the file
	fw        frameWriter
	accs      map[uint32]*rollup
	tmp       rollup
	fr        frame
}

// attach opens the file and loads the catalog and watermarks. Read-only,
// it changes nothing in the file.
func (s *Store) attach() (err error) {
	if !s.ro {
		if err := os.MkdirAll(s.opts.Dir, 0o700); err != nil {
			return err
		}
	}
	db, err := s.openDB(s.ro)
	if err != nil {
		return err
	}
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if v := recover(); v != nil {
			err = recovered(v)
		}
		if err != nil {
			db.Close()
		}
	}()
	// Grow the file 1 MiB at a time rather than bbolt's 16: the file
	// tracks what it holds (one more fsync per megabyte written).
	db.AllocSize = 1 << 20
	w := &s.w
	w.built = make([]int64, len(s.tiers))
	w.done0 = 0
	type def struct {
		key string
		num uint32
		d   diskDef
	}
	var defs []def
	var bad []string // keys of damaged definitions
	var lastTick, seriesMax int64
	fnd := found{steps: make([]int, len(s.steps))}
	load := func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if meta == nil && !s.ro {
			if meta, err = tx.CreateBucket(bucketMeta); err != nil {
				return err
			}
		}
		if meta != nil {
			if v := meta.Get(keyFormat); v == nil {
				if !s.ro {
					if err := meta.Put(keyFormat, be64(fileFormat)); err != nil {
						return err
					}
				}
			} else if keyTime(v) != fileFormat {
				return fmt.Errorf("%w %d (this version reads %d)", ErrFormat, keyTime(v), fileFormat)
			}
			if !s.ro {
				// Numbering is per process: a previous process's value
				// means nothing to this one's pending frames.
				if err := meta.Put(keyCommitted, be64(int64(w.committed))); err != nil {
					return err
				}
			}
		}
		get := func(k []byte) []byte {
			if meta == nil {
				return nil
			}
			return meta.Get(k)
		}
		ser := tx.Bucket(bucketSeries)
		if ser == nil && !s.ro {
			if ser, err = tx.CreateBucket(bucketSeries); err != nil {
				return err
			}
		}
		if ser != nil {
			if err := ser.ForEach(func(k, v []byte) error {
				d, err := decodeDef(v)
				if err != nil {
					// One damaged definition costs its series, not the
					// history: skipped, counted, logged once.
					bad = append(bad, string(k))
					return nil
				}
				defs = append(defs, def{string(k), d.num, d})
				return nil
			}); err != nil {
				return err
			}
		}
		fnd.series = len(defs)
		keep := map[string]bool{}
		for i, step := range s.steps {
			name := tierBucket(step)
			keep[string(name)] = true
			b := tx.Bucket(name)
			if b == nil && !s.ro {
				if b, err = tx.CreateBucket(name); err != nil {
					return err
				}
			}
			if b == nil {
				continue
			}
			b.FillPercent = 1 // keys only ever append
			// Walking the keys reads every leaf page once (the frames'
			// overflow pages are not read): a damaged page fails here, at
			// open, rather than in a query, and the walk gives the start-up
			// log its numbers. About 5,600 keys at the defaults.
			c := b.Cursor()
			for k, _ := c.First(); k != nil; k, _ = c.Next() {
				t := keyTime(k)
				if fnd.steps[i] == 0 || t < fnd.oldest {
					fnd.oldest = t
				}
				fnd.newest = max(fnd.newest, t)
				fnd.steps[i]++
			}
			if i == 0 {
				if k, _ := c.Last(); k != nil {
					w.done0 = keyTime(k) + step
				}
			} else if v := get(builtKey(step)); v != nil {
				w.built[i] = keyTime(v)
			}
		}
		if v := get(keyLastTick); v != nil {
			lastTick = keyTime(v)
		} else if w.done0 > 0 {
			// A file from before the key: its newest step began before
			// the last tick.
			lastTick = (w.done0 - s.step0) * 1e9
		}
		if v := get(keySeriesMax); v != nil {
			seriesMax = keyTime(v)
		} else if len(bad) > 0 {
			// A file from before the key with damaged definitions: their
			// numbers are unknown, so new series start well past the
			// known ones rather than inherit a lost series' records.
			seriesMax = -1
		}
		if s.ro {
			return nil
		}
		// Tiers no longer configured would never expire: drop them.
		var drop [][]byte
		_ = tx.ForEach(func(name []byte, _ *bolt.Bucket) error {
			if len(name) > 5 && string(name[:5]) == "tier/" && !keep[string(name)] {
				drop = append(drop, append([]byte(nil), name...))
			}
			return nil
		})
		for _, name := range drop {
			s.log.Warn("vitals/history: deleting a tier that is no longer configured", "bucket", string(name))
			if err := tx.DeleteBucket(name); err != nil {
				return err
			}
		}
		return nil
	}
	if s.ro {
		err = db.View(load)
	} else {
		err = db.Update(load)
	}
	if err != nil {
		return err
	}
	first := !s.attached
	s.mu.Lock()
	for _, in := range s.cat.list {
		in.disk = 0
	}
	s.cat.maxDisk = 0
	for _, d := range defs {
		s.cat.maxDisk = max(s.cat.maxDisk, d.num)
		in := s.cat.byKey[d.key]
		if in == nil {
			in = s.cat.add(d.key, d.d.name, d.d.kind, d.d.unit, d.d.help)
		}
		if in.kind == d.d.kind {
			in.disk = d.num
		}
	}
	switch {
	case seriesMax < 0:
		s.cat.maxDisk += 1 << 16
	case seriesMax <= 1<<31:
		s.cat.maxDisk = max(s.cat.maxDisk, uint32(seriesMax))
	}
	if first {
		s.attached = true
		s.prevLast = lastTick
	}
	s.newest = max(s.newest, w.done0)
	s.m.series.Set(int64(len(s.cat.byKey)))
	s.mu.Unlock()
	if first {
		for _, k := range bad {
			s.m.corruptSeries.Inc()
			s.log.Error("vitals/history: skipping a damaged series definition; that series' stored history is unreadable, the others are not",
				"path", s.path, "series", truncate(k, 200))
		}
		s.logFound(fnd)
	}
	s.dbMu.Lock()
	s.db = db
	s.dbMu.Unlock()
	if fi, err := os.Stat(s.path); err == nil {
		s.m.fileBytes.Set(fi.Size())
	}
	return nil
}

// detach closes the file after a failed write: the next attempt reopens
// it, reloading the catalog and watermarks that the failed transaction
// may have changed in memory.
func (s *Store) detach() {
	s.dbMu.Lock()
	db := s.db
	s.db = nil
	s.dbMu.Unlock()
	if db != nil {
		db.Close()
	}
}

func (s *Store) run() {
	defer close(s.done)
	for {
		select {
		case <-s.wake:
			s.pass()
		case <-s.stop:
			s.pass()
			s.detach()
			return
		}
	}
}

// pass writes everything pending in one transaction.
func (s *Store) pass() {
	if s.ro {
		// Nothing is written; frames wait in memory (up to MaxPending)
		// for queries.
		s.mu.Lock()
		s.started++
		s.finished++
		close(s.passDone)
		s.passDone = make(chan struct{})
		s.mu.Unlock()
		return
	}
	s.mu.Lock()
	batch := append([]*pendingFrame(nil), s.pending...)
	s.started++
	s.mu.Unlock()

	err := s.commit(batch)
	// Log and set the gauges before the pass is marked done, so that a
	// Flush that returns has seen their effects.
	if err != nil {
		s.writeFailed(err)
	} else if s.w.failing {
		s.w.failing = false
		s.m.writable.Set(1)
		s.log.Info("vitals/history: writing history again", "path", s.path, "steps_written", len(batch))
	}

	s.mu.Lock()
	if err == nil && len(batch) > 0 {
		last := batch[len(batch)-1].seq
		kept := s.pending[:0]
		for _, p := range s.pending {
			if p.seq > last {
				kept = append(kept, p)
			}
		}
		clear(s.pending[len(kept):])
		s.pending = kept
	}
	s.lastErr = err
	s.finished++
	close(s.passDone)
	s.passDone = make(chan struct{})
	s.m.pending.Set(int64(len(s.pending)))
	s.mu.Unlock()
}

// writeFailed counts a failed attempt and logs the first of a series.
func (s *Store) writeFailed(err error) {
	s.m.writeErrors.Inc()
	s.m.writable.Set(0)
	s.mu.Lock()
	s.lastErr = err
	s.mu.Unlock()
	if !s.w.failing {
		s.w.failing = true
		s.log.Error("vitals/history: cannot write history; keeping recent steps in memory and retrying each step",
			"path", s.path, "err", err, "max_pending", s.opts.MaxPending)
	}
}

func (s *Store) commit(batch []*pendingFrame) error {
	if s.db == nil {
		if err := s.attach(); err != nil {
			return err
		}
	}
	if len(batch) == 0 {
		return nil
	}
	t0 := time.Now()
	err := s.update(func(tx *bolt.Tx) error {
		if f := s.fault.Load(); f != nil {
			if err := (*f)(); err != nil {
				return err
			}
		}
		meta := tx.Bucket(bucketMeta)
		last := keyTime(meta.Get(keyLastTick))
		for _, pf := range batch {
			var err error
			if pf.rewind {
				err = s.rewindTx(tx, pf.t)
				last = pf.t * 1e9
			} else {
				err = s.writeFrame(tx, pf)
				last = max(last, pf.last)
			}
			if err != nil {
				return err
			}
		}
		if err := meta.Put(keyLastTick, be64(last)); err != nil {
			return err
		}
		if err := meta.Put(keyCommitted, be64(int64(batch[len(batch)-1].seq))); err != nil {
			return err
		}
		s.m.fileBytes.Set(tx.Size())
		return nil
	})
	if err != nil {
		s.detach()
		return err
	}
	s.w.committed = batch[len(batch)-1].seq
	s.m.commits.Inc()
	s.m.commitTime.ObserveDuration(time.Since(t0))
	return nil
}

// writeFrame stores one finest-tier frame, builds the coarser frames it
// completes and deletes expired ones.
func (s *Store) writeFrame(tx *bolt.Tx, pf *pendingFrame) error {
	w := &s.w
	ser := tx.Bucket(bucketSeries)
	w.fw.reset()
	var fresh []*seriesInfo
	s.mu.Lock()
	for i, local := range pf.ids {
		in := s.cat.list[local]
		if in.disk == 0 {
			s.cat.maxDisk++
			in.disk = s.cat.maxDisk
			fresh = append(fresh, in)
		}
		w.fw.add(in.disk, pf.buf[pf.offs[i]:pf.offs[i+1]])
	}
	s.mu.Unlock()
	for _, in := range fresh {
		if err := ser.Put([]byte(in.key), encodeDef(in)); err != nil {
			return err
		}
	}
	if len(fresh) > 0 {
		if err := tx.Bucket(bucketMeta).Put(keySeriesMax, be64(int64(fresh[len(fresh)-1].disk))); err != nil {
			return err
		}
	}
	newFrame := w.fw.appendTo(nil, pf.ticks, pf.ms)

	b0 := tx.Bucket(tierBucket(s.step0))
	key := be64(pf.t)
	late := pf.t < w.done0
	stored := newFrame
	if old := b0.Get(key); old != nil {
		merged, err := s.mergeFrames(old, newFrame, 0, pf.t)
		if err != nil {
			return err
		}
		stored = merged
	}
	if err := b0.Put(key, stored); err != nil {
		return err
	}
	w.done0 = max(w.done0, pf.t+s.step0)

	// Late data whose coarser steps are already final goes into them too.
	if late {
		for j := 1; j < len(s.steps); j++ {
			start := alignDown(pf.t, s.steps[j])
			if start+s.steps[j] > w.built[j] {
				break
			}
			bj := tx.Bucket(tierBucket(s.steps[j]))
			kj := be64(start)
			if old := bj.Get(kj); old != nil {
				merged, err := s.mergeFrames(old, newFrame, j, start)
				if err != nil {
					return err
				}
				if err := bj.Put(kj, merged); err != nil {
					return err
				}
			} else if err := bj.Put(kj, newFrame); err != nil {
				return err
			}
		}
	}
	if err := s.buildTx(tx); err != nil {
		return err
	}
	return s.expireTx(tx)
}

// buildTx builds the coarse steps whose finer steps are about to expire.
// Tiers do not overlap: a 5-minute record is built when the first of its
// minutes reaches the 1-minute tier's retention, so the 5-minute tier
// holds 1 to 7 days back and the hourly one 7 to 90 (queries read each
// span from the tier that holds it). Keeping every tier full to the
// present would store the same data twice, 9% more disk at the defaults,
// for nothing a query needs.
func (s *Store) buildTx(tx *bolt.Tx) error {
	w := &s.w
	meta := tx.Bucket(bucketMeta)
	complete := w.done0
	for j := 1; j < len(s.steps); j++ {
		step := s.steps[j]
		expiring := s.cutoff(j-1, w.done0) // finer steps before this go now
		limit := min(alignDown(complete, step), alignDown(expiring+step-1, step))
		if limit <= w.built[j] {
			complete = w.built[j]
			continue
		}
		src := tx.Bucket(tierBucket(s.steps[j-1])).Cursor()
		dst := tx.Bucket(tierBucket(step))
		for k, _ := src.Seek(be64(w.built[j])); k != nil; k, _ = src.Seek(be64(w.built[j])) {
			start := alignDown(keyTime(k), step)
			if start+step > limit {
				break
			}
			if err := s.buildStep(src, dst, j-1, start, step); err != nil {
				return err
			}
			w.built[j] = start + step
		}
		w.built[j] = limit
		if err := meta.Put(builtKey(step), be64(limit)); err != nil {
			return err
		}
		complete = limit
	}
	return nil
}

// buildStep merges the finer frames in [start, start+step) into one.
func (s *Store) buildStep(src *bolt.Cursor, dst *bolt.Bucket, tierOf int, start, step int64) error {
	w := &s.w
	w.accs = make(map[uint32]*rollup, len(w.accs))
	var ticks, ms uint64
	for k, v := src.Seek(be64(start)); k != nil && keyTime(k) < start+step; k, v = src.Next() {
		if err := parseFrame(v, &w.fr); err != nil {
			s.corruptFrame(tierOf, keyTime(k), err)
			continue
		}
		ticks += w.fr.ticks
		ms += w.fr.ms
		f := &w.fr
		_ = f.each(func(num uint32, rec []byte) error {
			if err := decodeRecord(rec, f.ticks, f.ms, &w.tmp); err != nil {
				s.corruptFrame(tierOf, keyTime(k), err)
				return nil
			}
			a := w.accs[num]
			if a == nil {
				a = &rollup{}
				w.accs[num] = a
			}
			if a.kind != 0 && a.kind != w.tmp.kind {
				return nil
			}
			if a.kind == 0 {
				a.reset(w.tmp.kind)
			}
			a.merge(&w.tmp)
			return nil
		})
	}
	w.fw.reset()
	for num, a := range w.accs {
		if a.kind != 0 {
			w.fw.addRollup(num, a, ticks, ms)
		}
	}
	// The accumulators are rebuilt each time rather than kept: held
	// between builds they would cost a histogram's buckets per series.
	w.accs = nil
	if len(w.fw.ents) == 0 {
		return nil
	}
	return dst.Put(be64(start), w.fw.appendTo(nil, ticks, ms))
}

// mergeFrames returns a frame holding both frames' records, merged per
// series. A stored frame that does not decode is replaced (counted as
// corrupt): it was unreadable already.
func (s *Store) mergeFrames(old, add []byte, j int, t int64) ([]byte, error) {
	var fa, fb frame
	if err := parseFrame(add, &fb); err != nil {
		return nil, err
	}
	if err := parseFrame(old, &fa); err != nil {
		s.corruptFrame(j, t, err)
		return add, nil
	}
	accs := map[uint32]*rollup{}
	var order []uint32
	var tmp rollup
	collect := func(f *frame) error {
		return f.each(func(num uint32, rec []byte) error {
			if err := decodeRecord(rec, f.ticks, f.ms, &tmp); err != nil {
				return err
			}
			a := accs[num]
			if a == nil {
				a = &rollup{}
				a.reset(tmp.kind)
				accs[num] = a
				order = append(order, num)
			}
			if a.kind == tmp.kind {
				a.merge(&tmp)
			}
			return nil
		})
	}
	if err := collect(&fa); err != nil {
		s.corruptFrame(j, t, err)
		return add, nil
	}
	if err := collect(&fb); err != nil {
		return nil, err
	}
	var fw frameWriter
	ticks, ms := fa.ticks+fb.ticks, fa.ms+fb.ms
	for _, num := range order {
		fw.addRollup(num, accs[num], ticks, ms)
	}
	return fw.appendTo(nil, ticks, ms), nil
}

// cutoff returns where tier j's frames start to be kept: Retention (and
// one step, so that "the last 24 hours" finds its first minute) before
// the end of the newest finest-tier step.
func (s *Store) cutoff(j int, done0 int64) int64 {
	return done0 - int64(s.tiers[j].Retention/time.Second) - s.steps[j]
}

// expireTx deletes frames older than their tier's retention, counted from
// the newest finest-tier step.
func (s *Store) expireTx(tx *bolt.Tx) error {
	for j, step := range s.steps {
		cutoff := s.cutoff(j, s.w.done0)
		b := tx.Bucket(tierBucket(step))
		var old [][]byte
		c := b.Cursor()
		for k, _ := c.First(); k != nil && keyTime(k) < cutoff; k, _ = c.Next() {
			old = append(old, append([]byte(nil), k...))
		}
		for _, k := range old {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		s.m.expired.Add(uint64(len(old)))
	}
	return nil
}

// rewindTx deletes history from t on, in every tier (the coarse step
// holding t too: it is rebuilt from the finer steps before t when it
// completes).
func (s *Store) rewindTx(tx *bolt.Tx, t int64) error {
	w := &s.w
	meta := tx.Bucket(bucketMeta)
	for j, step := range s.steps {
		start := alignDown(t, step)
		b := tx.Bucket(tierBucket(step))
		var del [][]byte
		c := b.Cursor()
		for k, _ := c.Seek(be64(start)); k != nil; k, _ = c.Next() {
			del = append(del, append([]byte(nil), k...))
		}
		for _, k := range del {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		if j > 0 && w.built[j] > start {
			w.built[j] = start
			if err := meta.Put(builtKey(step), be64(start)); err != nil {
				return err
			}
		}
	}
	w.done0 = min(w.done0, t)
	return nil
}

// update runs fn in a write transaction; a panic in bbolt (a damaged
// page) is an error (bbolt rolls the transaction back).
func (s *Store) update(fn func(*bolt.Tx) error) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if v := recover(); v != nil {
			err = recovered(v)
		}
	}()
	return s.db.Update(fn)
}

// maxCorruptSeen bounds the damaged frames remembered (to count and log
// each once); past it, further ones are skipped silently.
const maxCorruptSeen = 4096

// corruptFrame counts and logs a damaged frame of tier j at t, once per
// frame however many queries read it.
func (s *Store) corruptFrame(j int, t int64, err error) {
	s.corruptMu.Lock()
	id := [2]int64{int64(j), t}
	_, seen := s.corruptSeen[id]
	if !seen && len(s.corruptSeen) < maxCorruptSeen {
		if s.corruptSeen == nil {
			s.corruptSeen = map[[2]int64]struct{}{}
		}
		s.corruptSeen[id] = struct{}{}
	} else {
		seen = true
	}
	s.corruptMu.Unlock()
	if seen {
		return
	}
	s.m.corrupt.Inc()
	s.log.Error("vitals/history: skipping a frame that does not decode", "path", s.path,
		"tier", shortDur(s.tiers[j].Step), "at", time.Unix(t, 0).UTC().Format(time.RFC3339), "err", err)
}

// diskDef is a series' definition in the file.
type diskDef struct {
	num              uint32
	kind             metric.Kind
	name, unit, help string
}

func encodeDef(in *seriesInfo) []byte {
	b := []byte{1}
	b = binary.AppendUvarint(b, uint64(in.disk))
	b = append(b, byte(in.kind))
	for _, s := range []string{in.name, in.unit, in.help} {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	return b
}

func decodeDef(v []byte) (diskDef, error) {
	rd := reader{b: v}
	var d diskDef
	if rd.byte("definition version") != 1 {
		return d, corrupt("series definition version")
	}
	num := rd.uvarint("series number")
	d.kind = metric.Kind(rd.byte("kind"))
	var strs [3]string
	for i := range strs {
		n := rd.uvarint("string length")
		if n > uint64(len(rd.b)) {
			return d, corrupt("series definition string")
		}
		strs[i] = string(rd.b[:n])
		rd.b = rd.b[n:]
	}
	if rd.err != nil {
		return d, rd.err
	}
	if num == 0 || num > 1<<31 || d.kind < metric.KindCounter || d.kind > metric.KindHistogram {
		return d, corrupt("series definition %d kind %d", num, d.kind)
	}
	d.num = uint32(num)
	d.name, d.unit, d.help = strs[0], strs[1], strs[2]
	return d, nil
}
