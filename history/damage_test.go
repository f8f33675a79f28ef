package history

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/bizra/vitals"
	"github.com/bizra/vitals/metric"
)

// goodFile writes a history of a few hours to a fresh directory and
// returns the file's bytes.
func goodFile(t *testing.T) []byte {
	t.Helper()
	dir := t.TempDir()
	r := newRig(t0.Add(-10 * time.Second))
	extra := r.mon.Registry().CounterVec(metric.Opts{Name: "test_extra_total", Help: "Extra.", Labels: []string{"i"}})
	for i := 0; i < 40; i++ {
		extra.With(strconv.Itoa(i)).Add(uint64(i))
	}
	st := openStore(t, r.mon, dir, nil)
	r.minutes(180)
	r.mon.Stop()
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < 256<<10 {
		t.Fatalf("a %d-byte file is too small to damage meaningfully", len(b))
	}
	return b
}

// openDamaged opens a history file made of data, then reads every series
// in full. It must return errors, never panic.
func openDamaged(t *testing.T, data []byte, mod func(*Options)) (dir string, err error) {
	t.Helper()
	dir = t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, FileName), data, 0o600); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if v := recover(); v != nil {
			t.Fatalf("panic: %v", v)
		}
	}()
	o := &Options{Dir: dir, Logger: quiet(), NoSync: true}
	if mod != nil {
		mod(o)
	}
	st, err := Open(nil, o)
	if err != nil {
		return dir, err
	}
	defer st.Close()
	for i, s := range st.Series() {
		if i%8 != 0 {
			continue // a sample of the series reads every frame's index
		}
		for _, step := range []time.Duration{time.Minute, 5 * time.Minute, time.Hour} {
			st.Query(context.Background(), QueryRequest{Series: s.Key, Stat: StatCount, From: t0.Add(-time.Hour), To: t0.Add(10 * time.Hour), Step: step})
		}
	}
	return dir, nil
}

// TestDamagedFile: a file cut short, or with random bytes written over
// its pages, makes Open return an error that names the file and says what
// to do, and leaves the file untouched; never a panic (bbolt panics on
// some damage, and Open recovers it).
func TestDamagedFile(t *testing.T) {
	good := goodFile(t)
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 2))
	cases := map[string][]byte{
		"truncated to 8 KB":  good[:8<<10],
		"truncated to 64 KB": good[:64<<10],
		"random bytes": func() []byte {
			b := make([]byte, 64<<10)
			for i := range b {
				b[i] = byte(rng.Uint32())
			}
			return b
		}(),
	}
	for i := 0; i < 24; i++ {
		b := bytes.Clone(good)
		// Overwrite a run of random bytes in a random page after the meta
		// pages.
		off := 4096 + rng.IntN(len(b)-8192)
		for j := 0; j < 256; j++ {
			b[off+j] = byte(rng.Uint32())
		}
		cases["random bytes at "+strings.Repeat("+", i)] = b
	}
	failed := 0
	for name, data := range cases {
		dir, err := openDamaged(t, data, nil)
		if err == nil {
			continue // damage bbolt and the frames' checksums tolerate
		}
		failed++
		if !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: %v is not ErrCorrupt", name, err)
		}
		msg := err.Error()
		if !strings.Contains(msg, filepath.Join(dir, FileName)) || !strings.Contains(msg, "move-aside") ||
			strings.Count(msg, "history:") != 1 {
			t.Errorf("%s: the error does not name the file and the next step once: %s", name, msg)
		}
		after, _ := os.ReadFile(filepath.Join(dir, FileName))
		if !bytes.Equal(after, data) {
			t.Errorf("%s: the damaged file was changed", name)
		}
	}
	if failed < 3 {
		t.Fatalf("only %d of %d damaged files were refused", failed, len(cases))
	}
}

// TestDamagedFileMoveAside: with OnCorrupt: CorruptMoveAside the damaged
// file is renamed aside (kept for a post-mortem), a fresh one is started,
// and the log says both names.
func TestDamagedFileMoveAside(t *testing.T) {
	good := goodFile(t)
	var logs logBuffer
	dir := t.TempDir()
	path := filepath.Join(dir, FileName)
	if err := os.WriteFile(path, good[:8<<10], 0o600); err != nil {
		t.Fatal(err)
	}
	r := newRig(t0.Add(-10 * time.Second))
	st, err := Open(r.mon, &Options{Dir: dir, Logger: slog.New(slog.NewTextHandler(&logs, nil)), NoSync: true, OnCorrupt: CorruptMoveAside})
	if err != nil {
		t.Fatal(err)
	}
	r.minutes(3)
	r.mon.Stop()
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	aside, _ := filepath.Glob(path + ".corrupt-*")
	if len(aside) != 1 {
		t.Fatalf("moved aside: %v", aside)
	}
	if b, _ := os.ReadFile(aside[0]); !bytes.Equal(b, good[:8<<10]) {
		t.Fatal("the file moved aside is not the damaged file")
	}
	if !strings.Contains(logs.String(), aside[0]) {
		t.Fatalf("the log does not name %s:\n%s", aside[0], logs.String())
	}
	if sum, _, _ := checkFile(t, dir, nil).counterTotal("test_requests_total"); sum != 18 {
		t.Fatalf("the fresh file holds %v requests", sum)
	}
	if ParseCorruptActionMust(t, "move-aside") != CorruptMoveAside || ParseCorruptActionMust(t, "fail") != CorruptFail {
		t.Fatal("ParseCorruptAction")
	}
	if _, err := ParseCorruptAction("ignore"); err == nil {
		t.Fatal("ParseCorruptAction accepted ignore")
	}
}

func ParseCorruptActionMust(t *testing.T, s string) CorruptAction {
	a, err := ParseCorruptAction(s)
	if err != nil {
		t.Fatal(err)
	}
	if a.String() != s {
		t.Fatalf("%v prints %q", s, a.String())
	}
	return a
}

// TestDamagedSeriesDefinition: one damaged series definition costs that
// series only: the others stay readable, it is counted and logged once.
func TestDamagedSeriesDefinition(t *testing.T) {
	dir := t.TempDir()
	r := newRig(t0.Add(-10 * time.Second))
	st := openStore(t, r.mon, dir, nil)
	r.minutes(5)
	r.mon.Stop()
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := bolt.Open(filepath.Join(dir, FileName), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketSeries).Put([]byte("test_temperature_celsius"), []byte{9, 9, 9})
	}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	var logs logBuffer
	r2 := newRig(t0.Add(10 * time.Minute))
	r2.mon.Registry().Counter(metric.Opts{Name: "test_new_total", Help: "New."}).Inc()
	reg := r2.mon.Registry()
	st, err = Open(r2.mon, &Options{Dir: dir, Logger: slog.New(slog.NewTextHandler(&logs, nil)), NoSync: true})
	if err != nil {
		t.Fatalf("one damaged definition made the file unreadable: %v", err)
	}
	defer st.Close()
	if _, ok := st.Lookup("test_temperature_celsius"); ok {
		t.Fatal("the damaged series is listed")
	}
	res := query(t, st, "test_requests_total", StatCount, t0, t0.Add(time.Hour), time.Minute)
	if sumPoints(res.Points) != 30 {
		t.Fatalf("the other series read %v", res.Points)
	}
	if v := counterValue(t, reg, "vitals_history_corrupt_series_total"); v != 1 {
		t.Fatalf("counted %v damaged definitions", v)
	}
	if n := logs.count("damaged series definition"); n != 1 {
		t.Fatalf("logged %d times:\n%s", n, logs.String())
	}
	// A new series gets a number no damaged definition may have held.
	r2.minutes(2)
	r2.mon.Stop()
	if err := st.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	res = query(t, st, "test_new_total", StatCount, t0, t0.Add(time.Hour), time.Minute)
	if sumPoints(res.Points) != 1 {
		t.Fatalf("new series read %v", res.Points)
	}
}

// TestCorruptFramesCountedPerFrame: each damaged frame is counted and
// logged once, however many queries read it.
func TestCorruptFramesCountedPerFrame(t *testing.T) {
	dir := t.TempDir()
	r := newRig(t0.Add(-10 * time.Second))
	st := openStore(t, r.mon, dir, nil)
	r.minutes(10)
	r.mon.Stop()
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := bolt.Open(filepath.Join(dir, FileName), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(tierBucket(60))
		for _, m := range []int{2, 5, 7} {
			k := be64(t0.Add(time.Duration(m) * time.Minute).Unix())
			v := bytes.Clone(b.Get(k))
			v[len(v)/2] ^= 0xff
			if err := b.Put(k, v); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	var logs logBuffer
	reg := metric.NewRegistry()
	st, err = Open(vitals.New(&vitals.Options{Registry: reg, Logger: quiet()}), &Options{Dir: dir, Logger: slog.New(slog.NewTextHandler(&logs, nil)), NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for i := 0; i < 5; i++ {
		for _, key := range []string{"test_requests_total", "test_latency_seconds"} {
			res := query(t, st, key, StatCount, t0, t0.Add(time.Hour), time.Minute)
			if len(res.Points) != 7 {
				t.Fatalf("%s: %d points, want the 7 undamaged minutes", key, len(res.Points))
			}
		}
	}
	if v := counterValue(t, reg, "vitals_history_corrupt_frames_total"); v != 3 {
		t.Fatalf("counted %v damaged frames, want 3", v)
	}
	if n := logs.count("skipping a frame"); n != 3 {
		t.Fatalf("logged %d times, want once per frame:\n%s", n, logs.String())
	}
}

// TestLockedFileNamesTheHolder: a file another process holds is an error
// that names that process and what to do.
func TestLockedFileNamesTheHolder(t *testing.T) {
	if _, err := os.Stat("/proc/locks"); err != nil {
		t.Skip("no /proc/locks")
	}
	dir := t.TempDir()
	st := openStore(t, nil, dir, nil)
	st.Close()
	// flock(1) holds the file the way another vitals process would.
	if _, err := exec.LookPath("flock"); err != nil {
		t.Skip("flock(1) not installed")
	}
	cmd := exec.Command("flock", "-x", filepath.Join(dir, FileName), "sh", "-c", "echo locked; exec sleep 30")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	line := make([]byte, 7)
	if _, err := io.ReadFull(out, line); err != nil || string(line) != "locked\n" {
		t.Fatalf("flock: %q %v", line, err)
	}
	_, err = Open(nil, &Options{Dir: dir, Logger: quiet(), NoSync: true})
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("%v is not ErrLocked", err)
	}
	msg := err.Error()
	if strings.Contains(msg, "timeout") || !strings.Contains(msg, "(flock)") || !strings.Contains(msg, "stop that process") {
		t.Fatalf("the error does not say who holds the file and what to do: %s", msg)
	}
}

// TestFilePermissions: the directory is created 0700 and the file 0600;
// a symbolic link in the file's place is refused, not followed.
func TestFilePermissions(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	st := openStore(t, nil, dir, nil)
	st.Close()
	for p, want := range map[string]os.FileMode{dir: 0o700, filepath.Join(dir, FileName): 0o600} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s: mode %v, want %v", p, fi.Mode().Perm(), want)
		}
	}
	other := filepath.Join(t.TempDir(), "elsewhere.db")
	linked := t.TempDir()
	if err := os.Symlink(other, filepath.Join(linked, FileName)); err != nil {
		t.Fatal(err)
	}
	_, err := Open(nil, &Options{Dir: linked, Logger: quiet()})
	if err == nil || !strings.Contains(err.Error(), "symbolic link") {
		t.Fatalf("a symbolic link was followed or not explained: %v", err)
	}
	if _, err := os.Stat(other); !os.IsNotExist(err) {
		t.Fatal("a file was created through the link")
	}
}

// TestReadOnlyDirectory: a history file in a directory this process cannot
// write is opened read-only and served, and the log says so; with
// Options.ReadOnly the same happens on purpose.
func TestReadOnlyDirectory(t *testing.T) {
	dir := t.TempDir()
	r := newRig(t0.Add(-10 * time.Second))
	st := openStore(t, r.mon, dir, nil)
	r.minutes(5)
	r.mon.Stop()
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	for _, forced := range []bool{false, true} {
		// The automatic fallback is driven through the open hook: root
		// (CI) writes to a 0500 directory anyway.
		var logs logBuffer
		o := &Options{Dir: dir, Logger: slog.New(slog.NewTextHandler(&logs, nil)), NoSync: true, ReadOnly: forced}
		if !forced {
			o.openFile = func(name string, flag int, perm os.FileMode) (*os.File, error) {
				if flag&(os.O_RDWR|os.O_WRONLY) != 0 {
					return nil, &os.PathError{Op: "open", Path: name, Err: syscall.EROFS}
				}
				return os.OpenFile(name, flag, perm)
			}
		}
		r := newRig(t0.Add(10 * time.Minute))
		st, err := Open(r.mon, o)
		if err != nil {
			t.Fatalf("forced %v: %v", forced, err)
		}
		if !st.Status().ReadOnly || !strings.Contains(logs.String(), "read-only") {
			t.Fatalf("forced %v: not said to be read-only: %+v\n%s", forced, st.Status(), logs.String())
		}
		res := query(t, st, "test_requests_total", StatCount, t0, t0.Add(time.Hour), time.Minute)
		if sumPoints(res.Points) != 30 {
			t.Fatalf("forced %v: served %v", forced, res.Points)
		}
		// New data is kept in memory and answered; nothing is written.
		r.minutes(3)
		r.mon.Stop()
		if err := st.Flush(context.Background()); !errors.Is(err, ErrReadOnly) {
			t.Fatalf("forced %v: Flush: %v", forced, err)
		}
		res = query(t, st, "test_requests_total", StatCount, t0, t0.Add(time.Hour), time.Minute)
		if sumPoints(res.Points) != 30+17 { // minutes 10-12; 13 is open
			t.Fatalf("forced %v: with new data served %v", forced, sumPoints(res.Points))
		}
		if err := st.Close(); err != nil {
			t.Fatalf("forced %v: Close: %v", forced, err)
		}
		if sum, _, _ := checkFile(t, dir, nil).counterTotal("test_requests_total"); sum != 30 {
			t.Fatalf("forced %v: the read-only file changed: %v", forced, sum)
		}
	}
}
