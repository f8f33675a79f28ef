package history

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/bizra/vitals/metric"
)

// logBuffer collects log lines; safe for the writer goroutine.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (l *logBuffer) count(sub string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Count(l.b.String(), sub)
}

func counterValue(t *testing.T, r *metric.Registry, name string) float64 {
	t.Helper()
	f := r.Family(name)
	if f == nil || len(f.Series()) != 1 {
		t.Fatalf("self-metric %s missing", name)
	}
	return f.Series()[0].Value()
}

// minutes runs n minutes of 10-second ticks and flushes.
func (r *rig) minutes(n int) {
	for i := 0; i < 6*n; i++ {
		r.tick(10*time.Second, 0.01, 1)
	}
}

// TestUnwritableDirectory starts with a data directory that cannot exist
// (its parent is a regular file): the Store runs in memory, logs once,
// counts every failed attempt, answers queries from memory, and writes
// everything once the directory becomes usable.
func TestUnwritableDirectory(t *testing.T) {
	base := t.TempDir()
	blocker := filepath.Join(base, "data")
	if err := os.WriteFile(blocker, []byte("not a directory"), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(blocker, "history")
	var logs logBuffer
	r := newRig(t0.Add(-10 * time.Second))
	reg := r.mon.Registry()
	st, err := Open(r.mon, &Options{Dir: dir, Logger: slog.New(slog.NewTextHandler(&logs, nil)), NoSync: true})
	if err != nil {
		t.Fatalf("Open must start in memory, got %v", err)
	}
	defer st.Close()
	r.minutes(5)
	if err := st.Flush(context.Background()); !errors.Is(err, syscall.ENOTDIR) {
		t.Fatalf("Flush: %v, want ENOTDIR", err)
	}
	s := st.Status()
	if s.Writable || s.Pending < 4 || s.LastError == "" {
		t.Fatalf("status while failing: %+v", s)
	}
	if n := counterValue(t, reg, "vitals_history_write_errors_total"); n < 2 {
		t.Fatalf("write errors counted: %v", n)
	}
	if v := counterValue(t, reg, "vitals_history_writable"); v != 0 {
		t.Fatalf("writable gauge %v", v)
	}
	if n := logs.count("cannot write history"); n != 1 {
		t.Fatalf("%d error lines, want exactly 1:\n%s", n, logs.String())
	}
	// History is answered from memory meanwhile.
	res := query(t, st, "test_requests_total", StatCount, t0, r.clk.Now(), time.Minute)
	if len(res.Points) < 4 || res.Points[0].V != 6 {
		t.Fatalf("from memory: %+v", res.Points)
	}

	// The directory becomes usable: the next step writes everything.
	if err := os.Remove(blocker); err != nil {
		t.Fatal(err)
	}
	r.minutes(2)
	if err := st.Flush(context.Background()); err != nil {
		t.Fatalf("Flush after recovery: %v", err)
	}
	if s := st.Status(); !s.Writable || s.Pending != 0 || s.FileBytes == 0 {
		t.Fatalf("status after recovery: %+v", s)
	}
	if n := logs.count("writing history again"); n != 1 {
		t.Fatalf("%d recovery lines:\n%s", n, logs.String())
	}
	res = query(t, st, "test_requests_total", StatCount, t0, r.clk.Now(), time.Minute)
	if len(res.Points) != 6 || sumPoints(res.Points) != 36 {
		t.Fatalf("after recovery: %+v", res.Points)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	checkFile(t, dir, nil)
}

// TestDiskFull makes every commit fail as a full disk would: steps wait in
// memory up to MaxPending, older ones are dropped and counted, and writing
// resumes when space returns.
func TestDiskFull(t *testing.T) {
	dir := t.TempDir()
	r := newRig(t0.Add(-10 * time.Second))
	reg := r.mon.Registry()
	st := openStore(t, r.mon, dir, func(o *Options) { o.MaxPending = 4 })
	defer st.Close()
	r.minutes(3)
	if err := st.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	full := func() error { return &os.PathError{Op: "write", Path: st.Path(), Err: syscall.ENOSPC} }
	st.fault.Store(&full)
	r.minutes(10)
	if err := st.Flush(context.Background()); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Flush on a full disk: %v", err)
	}
	if s := st.Status(); s.Pending != 4 || s.Dropped != 6 || s.Writable {
		t.Fatalf("status on a full disk: %+v", s)
	}
	if v := counterValue(t, reg, "vitals_history_dropped_frames_total"); v != 6 {
		t.Fatalf("dropped %v", v)
	}
	st.fault.Store(nil)
	if err := st.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	r.minutes(1)
	if err := st.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	res := query(t, st, "test_requests_total", StatCount, t0, r.clk.Now(), time.Minute)
	// Minutes 0–1 written before, 2–7 dropped, 8–12 kept and written
	// (minute 13 is open).
	if len(res.Points) != 7 || !res.Points[2].T.Equal(t0.Add(8*time.Minute)) {
		t.Fatalf("points %+v", res.Points)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	checkFile(t, dir, nil)
}

// TestLateDataMerges covers a Store that could not read its file at start
// (so did not know where the stored history ends) while its clock was
// behind it: when the file opens, the overlapping minutes merge into the
// stored ones, and into the coarser steps already built from them.
func TestLateDataMerges(t *testing.T) {
	dir := t.TempDir()
	r := newRig(t0.Add(-10 * time.Second))
	st := openStore(t, r.mon, dir, nil)
	r.minutes(10)
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	r.mon.Stop()

	var failing sync.Mutex
	blocked := true
	open := func(name string, flag int, perm os.FileMode) (*os.File, error) {
		failing.Lock()
		defer failing.Unlock()
		if blocked {
			return nil, &os.PathError{Op: "open", Path: name, Err: syscall.EACCES}
		}
		return os.OpenFile(name, flag, perm)
	}
	r2 := newRig(t0.Add(5*time.Minute - 10*time.Second))
	st2 := openStore(t, r2.mon, dir, func(o *Options) { o.openFile = open })
	defer st2.Close()
	r2.minutes(10) // minutes 5–14, while the file cannot be opened
	failing.Lock()
	blocked = false
	failing.Unlock()
	r2.minutes(1)
	if err := st2.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	res := query(t, st2, "test_requests_total", StatCount, t0, r2.clk.Now(), time.Minute)
	want := []float64{6, 6, 6, 6, 6, 12, 12, 12, 12, 12, 6, 6, 6, 6, 6}
	if len(res.Points) != len(want) {
		t.Fatalf("points %+v", res.Points)
	}
	for i, p := range res.Points {
		if p.V != want[i] {
			t.Fatalf("minute %d: %v, want %v (%+v)", i, p.V, want[i], res.Points)
		}
	}
	five := query(t, st2, "test_requests_total", StatCount, t0, r2.clk.Now(), 5*time.Minute)
	if len(five.Points) != 3 || five.Points[1].V != 60 {
		t.Fatalf("5-minute steps %+v", five.Points)
	}
	if err := st2.Close(); err != nil {
		t.Fatal(err)
	}
	checkFile(t, dir, nil)
}

// TestOpenErrors: a file held by another Store, and a file that is not a
// history file, are errors; bad options too.
func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	st := openStore(t, nil, dir, nil)
	defer st.Close()
	if _, err := Open(nil, &Options{Dir: dir, Logger: quiet()}); err == nil {
		t.Fatal("a second Store opened a held file")
	}
	junk := t.TempDir()
	if err := os.WriteFile(filepath.Join(junk, FileName), bytes.Repeat([]byte("junk"), 4096), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(nil, &Options{Dir: junk, Logger: quiet()}); err == nil {
		t.Fatal("opened a file that is not a history file")
	}
	for _, tiers := range [][]Tier{
		{},
		{{Step: 500 * time.Millisecond, Retention: time.Hour}},
		{{Step: time.Minute, Retention: time.Hour}, {Step: 90 * time.Second, Retention: 2 * time.Hour}},
		{{Step: time.Minute, Retention: 30 * time.Minute}, {Step: time.Hour, Retention: 2 * time.Hour}},
		{{Step: time.Minute, Retention: 30 * time.Second}},
	} {
		if _, err := Open(nil, &Options{Dir: t.TempDir(), Tiers: tiers}); !errors.Is(err, ErrOptions) {
			t.Fatalf("tiers %v: %v", tiers, err)
		}
	}
}

// TestStuckDiskDoesNotBlockTicks: while a write hangs (a stuck disk), ticks
// go on at full speed, minutes wait up to MaxPending and older ones are
// dropped and counted; when the disk comes back everything kept is
// written.
func TestStuckDiskDoesNotBlockTicks(t *testing.T) {
	dir := t.TempDir()
	r := newRig(t0.Add(-10 * time.Second))
	st := openStore(t, r.mon, dir, func(o *Options) { o.MaxPending = 5 })
	release := make(chan struct{})
	entered := make(chan struct{}, 1)
	stuck := func() error {
		select {
		case entered <- struct{}{}:
		default:
		}
		<-release
		return nil
	}
	st.fault.Store(&stuck)
	r.minutes(2) // the first sealed minute starts a write that hangs
	<-entered
	r.minutes(20) // 20 more minutes: the collector never waits
	s := st.Status()
	if s.Pending > 6 || s.Dropped == 0 {
		t.Fatalf("while stuck: %+v", s)
	}
	st.fault.Store(nil)
	close(release)
	if err := st.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	rep := checkFile(t, dir, nil)
	if n := len(rep.frames[0]); n < 5 || n > 8 {
		t.Fatalf("%d minutes written after the disk came back, want the 1 in flight, the 5 kept and the last", n)
	}
}
