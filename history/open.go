package history

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// CorruptAction is what Open does with a damaged history file.
type CorruptAction uint8

const (
	// CorruptFail makes Open return an error wrapping ErrCorrupt and leave
	// the file as it is, for a backup to be restored or the file to be
	// examined. The default.
	CorruptFail CorruptAction = iota
	// CorruptMoveAside renames the damaged file to
	// <file>.corrupt-<UTC time>, logs both names and starts a fresh
	// history: the service keeps running, the old history is kept aside
	// but no longer served.
	CorruptMoveAside
)

// String returns "fail" or "move-aside", the names ParseCorruptAction
// reads.
func (a CorruptAction) String() string {
	switch a {
	case CorruptFail:
		return "fail"
	case CorruptMoveAside:
		return "move-aside"
	}
	return "CorruptAction(" + strconv.Itoa(int(a)) + ")"
}

// ParseCorruptAction reads "fail" or "move-aside" (for a command-line
// flag).
func ParseCorruptAction(s string) (CorruptAction, error) {
	switch s {
	case "fail":
		return CorruptFail, nil
	case "move-aside":
		return CorruptMoveAside, nil
	}
	return 0, fmt.Errorf("%w: on-corrupt %s is not fail or move-aside", ErrOptions, strconv.Quote(truncate(s, 40)))
}

// Errors of Open; each is wrapped with the file's name and what to do.
var (
	// ErrCorrupt: the history file is damaged (cut short, overwritten).
	ErrCorrupt = errors.New("history file damaged")
	// ErrLocked: another process (or another Store in this one) has the
	// file open; two cannot share it.
	ErrLocked = errors.New("history file in use")
	// ErrReadOnly is returned by Flush when the Store was opened
	// read-only: nothing is written.
	ErrReadOnly = errors.New("history opened read-only")
)

// errPanic marks a panic inside bbolt, recovered: it reads a damaged page.
var errPanic = errors.New("the storage engine failed on a damaged page")

// errTruncated marks a file shorter than its header says.
var errTruncated = errors.New("the file is cut short")

// recovered turns a panic value from bbolt into an error.
func recovered(v any) error { return fmt.Errorf("%w: %v", errPanic, v) }

// Every call into bbolt that reads the file's pages runs with
//
//	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
//	defer func() { if v := recover(); v != nil { err = recovered(v) } }()
//
// bbolt reads its memory map without bounds checks: a damaged page that
// points past the end of the file faults (SIGBUS, SIGSEGV), which kills
// the process unless the goroutine asked for faults to panic instead.

// checkHeader reads the file's two bbolt meta pages and refuses a file
// cut short: one whose valid meta page says it holds more pages than it
// does (bbolt would fault reading them).
func checkHeader(path string) error {
	f, err := os.OpenFile(path, os.O_RDONLY|noFollow, 0)
	if err != nil {
		return nil // bbolt's own open reports it
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || fi.Size() == 0 {
		return nil
	}
	// page header 16 bytes; meta: magic, version, pageSize, flags (4 each),
	// root bucket (16), freelist, pgid, txid, checksum (8 each).
	const hdr, metaLen = 16, 64
	var buf [hdr + metaLen]byte
	read := func(off int64) (pgid, pageSize uint64, ok bool) {
		if _, err := f.ReadAt(buf[:], off); err != nil {
			return 0, 0, false
		}
		m := buf[hdr:]
		le := binary.LittleEndian
		if le.Uint32(m[0:]) != 0xED0CDAED || le.Uint32(m[4:]) != 2 {
			return 0, 0, false
		}
		h := fnv.New64a()
		h.Write(m[:56])
		if h.Sum64() != le.Uint64(m[56:]) {
			return 0, 0, false
		}
		return le.Uint64(m[40:]), uint64(le.Uint32(m[8:])), true
	}
	pgid0, ps, ok0 := read(0)
	if !ok0 {
		ps = 2048 // what this package creates; bbolt also tries the OS page size
	}
	pgid1, ps1, ok1 := read(int64(ps))
	size := uint64(fi.Size())
	for _, m := range []struct {
		ok       bool
		pgid, ps uint64
	}{{ok0, pgid0, ps}, {ok1, pgid1, ps1}} {
		if m.ok && (m.ps < 512 || m.ps > 1<<20 || m.pgid > size/m.ps) {
			return fmt.Errorf("%w: its header says %d pages of %d bytes (%d bytes), it has %d bytes",
				errTruncated, m.pgid, m.ps, m.pgid*m.ps, size)
		}
	}
	return nil
}

// damaged reports whether err means the file's contents are damaged.
func damaged(err error) bool {
	return errors.Is(err, errPanic) || errors.Is(err, errTruncated) || errors.Is(err, berrors.ErrInvalid) || errors.Is(err, berrors.ErrVersionMismatch) ||
		errors.Is(err, berrors.ErrChecksum) || errors.Is(err, berrors.ErrInvalidMapping) || errors.Is(err, errCorrupt)
}

// cannotWrite reports whether err means this process may read but not
// write the file or its directory.
func cannotWrite(err error) bool {
	return errors.Is(err, syscall.EROFS) || errors.Is(err, syscall.EACCES) || errors.Is(err, syscall.EPERM)
}

// openDB opens the bbolt file: without following a symbolic link, created
// 0600, and with bbolt's panics on damaged pages turned into errors (the
// file is closed then, releasing its lock).
func (s *Store) openDB(readOnly bool) (db *bolt.DB, err error) {
	open := s.opts.openFile
	if open == nil {
		open = os.OpenFile
	}
	var f *os.File
	hook := func(name string, flag int, _ os.FileMode) (*os.File, error) {
		file, err := open(name, flag|noFollow, 0o600)
		if err != nil {
			return nil, err
		}
		f = file
		if !readOnly {
			// A file from an older version (0644): history is the
			// service's business only.
			if fi, err := file.Stat(); err == nil && fi.Mode().Perm()&0o077 != 0 {
				if file.Chmod(0o600) == nil {
					s.log.Info("vitals/history: made the history file readable by its owner only", "path", s.path, "was", fi.Mode().Perm().String())
				}
			}
		}
		return file, nil
	}
	if err := checkHeader(s.path); err != nil {
		return nil, err
	}
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if v := recover(); v != nil {
			if f != nil {
				f.Close() // releases the lock; the mapping goes with the process
			}
			db, err = nil, recovered(v)
		}
	}()
	return bolt.Open(s.path, 0o600, &bolt.Options{
		Timeout:      time.Second,
		ReadOnly:     readOnly,
		NoSync:       s.opts.NoSync,
		FreelistType: bolt.FreelistMapType,
		// Frames are values of 20–50 KB, stored on runs of pages: half a
		// page is lost per frame on average. 2 KiB pages rather than the
		// OS's 4 KiB made the 90-day file 3% smaller
		// (BenchmarkHistory90Days: 192 MB against 198 MB). It applies to
		// new files only.
		PageSize: 2048,
		OpenFile: hook,
	})
}

// openFirst opens the file when the Store is created and decides what an
// error means: fatal (held by another process, damaged with CorruptFail,
// a symbolic link, a newer format), a read-only file (served read-only),
// or an unusable directory (the Store starts in memory and retries).
func (s *Store) openFirst() error {
	err := s.attach()
	if err == nil {
		return nil
	}
	if !s.ro && cannotWrite(err) {
		if _, serr := os.Lstat(s.path); serr == nil {
			s.ro = true
			if err = s.attach(); err == nil {
				s.log.Warn("vitals/history: cannot write the history file or its directory; serving the stored history read-only, new data is kept in memory only",
					"path", s.path, "max_pending", s.opts.MaxPending, "fix", "make the directory and file writable by this process, then restart")
				return nil
			}
			if cannotWrite(err) {
				s.ro = false // cannot read it either: the directory is unusable
			}
		}
	}
	switch {
	case errors.Is(err, berrors.ErrTimeout):
		return fmt.Errorf("history: %s is in use by %s; two processes cannot share a history file: stop that process, or give this one its own directory: %w",
			s.path, lockHolder(s.path), ErrLocked)
	case errors.Is(err, syscall.ELOOP):
		return fmt.Errorf("history: %s is a symbolic link; vitals does not follow links in its data directory: replace the link with the file it points to", s.path)
	case errors.Is(err, ErrFormat):
		return fmt.Errorf("history: %s: %w; run the newer version, or move the file aside to start a fresh history", s.path, err)
	case damaged(err):
		if s.opts.OnCorrupt != CorruptMoveAside {
			return fmt.Errorf("history: %s is damaged (%v); it was left untouched. Restore it from a backup, or move it aside to start a fresh history "+
				"(Options.OnCorrupt = CorruptMoveAside; in the demo --history-on-corrupt=move-aside): %w", s.path, err, ErrCorrupt)
		}
		aside := s.path + ".corrupt-" + time.Now().UTC().Format("20060102T150405Z")
		if rerr := os.Rename(s.path, aside); rerr != nil {
			return fmt.Errorf("history: %s is damaged (%v) and could not be moved aside (%v): %w", s.path, err, rerr, ErrCorrupt)
		}
		s.log.Error("vitals/history: the history file is damaged; moved it aside and started a fresh history",
			"path", s.path, "moved_to", aside, "err", err.Error())
		if err = s.attach(); err == nil {
			return nil
		}
		return fmt.Errorf("history: %s: %w", s.path, err)
	case s.ro && s.opts.ReadOnly && errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("history: %s does not exist; ReadOnly opens an existing history file", s.path)
	}
	// An unusable directory: run in memory, log, retry with each step.
	s.writeFailed(err)
	return nil
}

// found describes the history a file held when it was opened, for the
// start-up log line.
type found struct {
	series         int
	oldest, newest int64 // step starts; 0 when the file holds none
	steps          []int
}

func (s *Store) logFound(f found) {
	mode := "read-write"
	if s.ro {
		mode = "read-only"
	}
	if f.newest == 0 {
		s.log.Info("vitals/history: no stored history; starting a new one", "path", s.path, "mode", mode, "tiers", s.tierNames())
		return
	}
	var tiers strings.Builder
	for i, n := range f.steps {
		if i > 0 {
			tiers.WriteString(", ")
		}
		fmt.Fprintf(&tiers, "%s: %d steps", shortDur(s.tiers[i].Step), n)
	}
	s.log.Info("vitals/history: opened the stored history", "path", s.path, "mode", mode,
		"series", f.series, "oldest", time.Unix(f.oldest, 0).UTC().Format(time.RFC3339),
		"newest", time.Unix(f.newest, 0).UTC().Format(time.RFC3339), "tiers", tiers.String())
}

func (s *Store) tierNames() string {
	var b strings.Builder
	for i, t := range s.tiers {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(shortDur(t.Step) + " for " + shortDur(t.Retention))
	}
	return b.String()
}

// shortDur prints 1m, 5m, 1h, 24h, 7d rather than 1m0s.
func shortDur(d time.Duration) string {
	switch {
	case d >= 48*time.Hour && d%(24*time.Hour) == 0:
		return strconv.FormatInt(int64(d/(24*time.Hour)), 10) + "d"
	case d >= time.Hour && d%time.Hour == 0:
		return strconv.FormatInt(int64(d/time.Hour), 10) + "h"
	case d >= time.Minute && d%time.Minute == 0:
		return strconv.FormatInt(int64(d/time.Minute), 10) + "m"
	}
	return d.String()
}
