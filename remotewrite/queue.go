package remotewrite

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// The durable queue holds an endpoint's pushes until the receiver has
// them. On disk it is a directory of append-only segment files named by
// the sequence number of their first record, and a cursor file with the
// sequence of the first record not yet acknowledged:
//
//	<dir>/0000000000000001.seg   frames, oldest first
//	<dir>/cursor                 u64 next unacknowledged seq, u32 CRC
//
// A frame is a 24-byte header (u32 payload length, u32 CRC-32C of the rest
// of the header and the payload, i64 push time in ms, u32 samples, u32
// histograms) and the payload (an encoded record, see encode.go).
//
// Every push is written once, at append; reading it back for sending
// comes from the page cache while the receiver keeps up. A segment is
// deleted when all its records are acknowledged or dropped. A frame cut
// short by a crash is truncated away at the next open; a frame whose CRC
// does not match when read is dropped and counted (reason "corrupt").
// The process crashing between a send and the cursor update resends one
// push: receivers accept an identical sample twice.

const (
	frameHeaderSize = 24
	// maxRecordBytes bounds one record read back from disk: anything
	// claiming more is damage, not data.
	maxRecordBytes = 256 << 20
	segSuffix      = ".seg"
	cursorName     = "cursor"
)

var (
	errCorrupt = errors.New("damaged queue record")
	castagnoli = crc32.MakeTable(crc32.Castagnoli)
)

type recMeta struct {
	seq            uint64
	ts             int64
	samples, hists int
	size           int64 // frame size
	seg            *segment
	off            int64  // payload offset in seg
	mem            []byte // payload, memory queues
}

type segment struct {
	first uint64
	path  string
	size  int64
	live  int // records not yet acknowledged or dropped
}

// dropped counts what a queue operation had to throw away.
type dropped struct {
	records, samples, hists int
}

func (d *dropped) add(r *recMeta) {
	d.records++
	d.samples += r.samples
	d.hists += r.hists
}

type queue struct {
	dir      string // "" keeps records in memory
	maxBytes int64
	segMax   int64
	log      *slog.Logger

	mu      sync.Mutex
	recs    []recMeta // unacknowledged, oldest first
	bytes   int64     // disk: segment bytes present; memory: frame bytes held
	segs    []*segment
	tail    *os.File
	nextSeq uint64
	wake    chan struct{}
	closed  bool
	hdr     [frameHeaderSize]byte
}

// openQueue opens (or creates) the queue in dir; dir "" makes a memory
// queue. It returns what it found damaged.
func openQueue(dir string, maxBytes int64, log *slog.Logger) (*queue, dropped, error) {
	q := &queue{dir: dir, maxBytes: maxBytes, log: log, wake: make(chan struct{}, 1), nextSeq: 1}
	q.segMax = min(max(maxBytes/8, 1<<20), 64<<20)
	var lost dropped
	if dir == "" {
		return q, lost, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, lost, fmt.Errorf("remote write queue: %w", err)
	}
	ackNext := readCursor(filepath.Join(dir, cursorName))
	names, err := filepath.Glob(filepath.Join(dir, "*"+segSuffix))
	if err != nil {
		return nil, lost, err
	}
	slices.Sort(names)
	for _, name := range names {
		first, err := strconv.ParseUint(strings.TrimSuffix(filepath.Base(name), segSuffix), 16, 64)
		if err != nil {
			q.log.Warn("remote write queue: ignoring a file that is not a segment", "file", name)
			continue
		}
		seg := &segment{first: first, path: name}
		n, err := q.scan(seg, ackNext)
		lost.records += n
		if err != nil {
			return nil, lost, err
		}
		if seg.live == 0 {
			os.Remove(name)
			continue
		}
		q.segs = append(q.segs, seg)
		q.bytes += seg.size
	}
	if len(q.recs) > 0 {
		q.nextSeq = q.recs[len(q.recs)-1].seq + 1
	}
	q.nextSeq = max(q.nextSeq, ackNext)
	return q, lost, nil
}

// scan reads seg's frame headers, indexes the records at or after
// ackNext, and truncates a frame cut short by a crash. It returns the
// number of frames lost to damage.
func (q *queue) scan(seg *segment, ackNext uint64) (int, error) {
	f, err := os.OpenFile(seg.path, os.O_RDWR, 0)
	if err != nil {
		return 0, fmt.Errorf("remote write queue: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	size := st.Size()
	var off int64
	var hdr [frameHeaderSize]byte
	seq := seg.first
	lost := 0
	for off < size {
		if _, err := f.ReadAt(hdr[:], off); err != nil {
			lost++
			break
		}
		n := int64(binary.LittleEndian.Uint32(hdr[0:]))
		if n > maxRecordBytes || off+frameHeaderSize+n > size {
			lost++
			break
		}
		if seq >= ackNext {
			q.recs = append(q.recs, recMeta{
				seq:     seq,
				ts:      int64(binary.LittleEndian.Uint64(hdr[8:])),
				samples: int(binary.LittleEndian.Uint32(hdr[16:])),
				hists:   int(binary.LittleEndian.Uint32(hdr[20:])),
				size:    frameHeaderSize + n,
				seg:     seg,
				off:     off + frameHeaderSize,
			})
			seg.live++
		}
		seq++
		off += frameHeaderSize + n
	}
	if off < size {
		// A torn or damaged tail: keep what precedes it.
		q.log.Warn("remote write queue: truncating a damaged segment tail (a crash during a write)", "file", seg.path, "at", off, "size", size)
		if err := f.Truncate(off); err != nil {
			return lost, fmt.Errorf("remote write queue: truncating %s: %w", seg.path, err)
		}
	}
	seg.size = off
	return lost, nil
}

func readCursor(path string) uint64 {
	b, err := os.ReadFile(path)
	if err != nil || len(b) != 12 || crc32.Checksum(b[:8], castagnoli) != binary.LittleEndian.Uint32(b[8:]) {
		return 0
	}
	return binary.LittleEndian.Uint64(b)
}

func (q *queue) writeCursorLocked() {
	if q.dir == "" {
		return
	}
	next := q.nextSeq
	if len(q.recs) > 0 {
		next = q.recs[0].seq
	}
	var b [12]byte
	binary.LittleEndian.PutUint64(b[:], next)
	binary.LittleEndian.PutUint32(b[8:], crc32.Checksum(b[:8], castagnoli))
	tmp := filepath.Join(q.dir, cursorName+".tmp")
	if err := os.WriteFile(tmp, b[:], 0o644); err == nil {
		err = os.Rename(tmp, filepath.Join(q.dir, cursorName))
		if err != nil {
			q.log.Warn("remote write queue: cursor", "err", err)
		}
	}
}

// append queues one record. To stay within maxBytes it first drops the
// oldest records (a whole segment at a time on disk); a record larger
// than maxBytes on its own is dropped. What was dropped is returned.
func (q *queue) append(rec []byte, ts int64, samples, hists int) (dropped, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	var d dropped
	if q.closed {
		return d, errClosed
	}
	size := int64(frameHeaderSize + len(rec))
	if size > q.maxBytes || len(rec) > maxRecordBytes {
		d.records, d.samples, d.hists = 1, samples, hists
		return d, nil
	}
	for q.bytes+size > q.maxBytes && (len(q.recs) > 0 || len(q.segs) > 0) {
		q.dropOldestLocked(&d)
	}
	r := recMeta{seq: q.nextSeq, ts: ts, samples: samples, hists: hists, size: size}
	binary.LittleEndian.PutUint32(q.hdr[0:], uint32(len(rec)))
	binary.LittleEndian.PutUint64(q.hdr[8:], uint64(ts))
	binary.LittleEndian.PutUint32(q.hdr[16:], uint32(samples))
	binary.LittleEndian.PutUint32(q.hdr[20:], uint32(hists))
	crc := crc32.Update(crc32.Checksum(q.hdr[8:], castagnoli), castagnoli, rec)
	binary.LittleEndian.PutUint32(q.hdr[4:], crc)
	if q.dir == "" {
		r.mem = make([]byte, frameHeaderSize+len(rec))
		copy(r.mem, q.hdr[:])
		copy(r.mem[frameHeaderSize:], rec)
		r.off = frameHeaderSize
	} else {
		if err := q.writeFrameLocked(&r, rec); err != nil {
			return d, err
		}
	}
	q.nextSeq++
	q.recs = append(q.recs, r)
	q.bytes += size
	select {
	case q.wake <- struct{}{}:
	default:
	}
	return d, nil
}

func (q *queue) writeFrameLocked(r *recMeta, rec []byte) error {
	var seg *segment
	if n := len(q.segs); n > 0 && q.tail != nil && q.segs[n-1].size+r.size <= q.segMax {
		seg = q.segs[n-1]
	} else {
		if q.tail != nil {
			q.tail.Close()
			q.tail = nil
			if n := len(q.segs); n > 0 && q.segs[n-1].live == 0 {
				q.removeSegLocked(q.segs[n-1])
			}
		}
		seg = &segment{first: r.seq, path: filepath.Join(q.dir, fmt.Sprintf("%016x%s", r.seq, segSuffix))}
		f, err := os.OpenFile(seg.path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
		if err != nil {
			return fmt.Errorf("remote write queue: %w", err)
		}
		q.tail = f
		q.segs = append(q.segs, seg)
	}
	// A crash between or during these writes leaves a short frame that
	// the next open truncates; a valid-looking half fails its CRC.
	if _, err := q.tail.Write(q.hdr[:]); err != nil {
		return q.failWriteLocked(seg, err)
	}
	if _, err := q.tail.Write(rec); err != nil {
		return q.failWriteLocked(seg, err)
	}
	r.seg = seg
	r.off = seg.size + frameHeaderSize
	seg.size += r.size
	seg.live++
	return nil
}

// failWriteLocked cuts a partly written frame off (disk full, I/O error)
// so the segment stays readable, and reports the error.
func (q *queue) failWriteLocked(seg *segment, err error) error {
	q.tail.Truncate(seg.size)
	q.tail.Seek(seg.size, io.SeekStart)
	return fmt.Errorf("remote write queue: %w", err)
}

// dropOldestLocked drops the oldest segment (disk) or record (memory).
func (q *queue) dropOldestLocked(d *dropped) {
	if q.dir == "" {
		r := &q.recs[0]
		d.add(r)
		q.bytes -= r.size
		q.popLocked()
		return
	}
	seg := q.segs[0]
	if len(q.segs) == 1 && q.tail != nil {
		q.tail.Close()
		q.tail = nil
	}
	for len(q.recs) > 0 && q.recs[0].seg == seg {
		d.add(&q.recs[0])
		q.popLocked()
	}
	q.removeSegLocked(seg)
}

func (q *queue) removeSegLocked(seg *segment) {
	i := slices.Index(q.segs, seg)
	if i < 0 {
		return
	}
	if i == len(q.segs)-1 && q.tail != nil {
		q.tail.Close()
		q.tail = nil
	}
	q.segs = slices.Delete(q.segs, i, i+1)
	q.bytes -= seg.size
	if err := os.Remove(seg.path); err != nil && !os.IsNotExist(err) {
		q.log.Warn("remote write queue: removing a sent segment", "err", err)
	}
}

func (q *queue) popLocked() {
	q.recs[0] = recMeta{}
	q.recs = q.recs[1:]
	if len(q.recs) == 0 {
		q.recs = q.recs[:0:0]
	}
}

// head returns the oldest record, its payload copied into buf (checked
// against its CRC), or ok false when the queue is empty. Records that
// cannot be read back are dropped and counted in lost.
func (q *queue) head(buf []byte) (r recMeta, data []byte, lost dropped, ok bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.recs) > 0 {
		r = q.recs[0]
		data, err := q.readLocked(&r, buf)
		if err == nil {
			return r, data, lost, true
		}
		q.log.Warn("remote write queue: dropping a damaged record", "seq", r.seq, "err", err)
		lost.add(&r)
		q.ackLocked(r.seq)
	}
	return recMeta{}, nil, lost, false
}

func (q *queue) readLocked(r *recMeta, buf []byte) ([]byte, error) {
	var hdr [frameHeaderSize]byte
	n := int(r.size - frameHeaderSize)
	buf = slices.Grow(buf[:0], n)[:n]
	if r.mem != nil {
		copy(hdr[:], r.mem)
		copy(buf, r.mem[frameHeaderSize:])
	} else {
		f, err := os.Open(r.seg.path)
		if err != nil {
			return nil, err
		}
		_, err = f.ReadAt(hdr[:], r.off-frameHeaderSize)
		if err == nil {
			_, err = f.ReadAt(buf, r.off)
		}
		f.Close()
		if err != nil {
			return nil, err
		}
	}
	if int(binary.LittleEndian.Uint32(hdr[0:])) != n {
		return nil, errCorrupt
	}
	crc := crc32.Update(crc32.Checksum(hdr[8:], castagnoli), castagnoli, buf)
	if crc != binary.LittleEndian.Uint32(hdr[4:]) {
		return nil, errCorrupt
	}
	return buf, nil
}

// ack removes the record seq if it is still the oldest (it may have been
// dropped meanwhile) and deletes a segment it leaves empty.
func (q *queue) ack(seq uint64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.ackLocked(seq)
}

func (q *queue) ackLocked(seq uint64) {
	if len(q.recs) == 0 || q.recs[0].seq != seq {
		return
	}
	r := q.recs[0]
	q.popLocked()
	if q.dir == "" {
		q.bytes -= r.size
		return
	}
	r.seg.live--
	isTail := q.tail != nil && q.segs[len(q.segs)-1] == r.seg
	if r.seg.live == 0 && !isTail {
		q.removeSegLocked(r.seg)
	}
	q.writeCursorLocked()
}

// dropBefore drops records pushed before ts (ms).
func (q *queue) dropBefore(ts int64) dropped {
	q.mu.Lock()
	defer q.mu.Unlock()
	var d dropped
	for len(q.recs) > 0 && q.recs[0].ts < ts {
		d.add(&q.recs[0])
		q.ackLocked(q.recs[0].seq)
	}
	return d
}

// stats returns the records and bytes held and the oldest push time (0
// when empty).
func (q *queue) stats() (records int, bytes int64, oldest int64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.recs) > 0 {
		oldest = q.recs[0].ts
	}
	return len(q.recs), q.bytes, oldest
}

func (q *queue) close() error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.closed = true
	if q.tail != nil {
		err := q.tail.Sync()
		if cerr := q.tail.Close(); err == nil {
			err = cerr
		}
		q.tail = nil
		return err
	}
	return nil
}

var errClosed = errors.New("remote write: closed")
