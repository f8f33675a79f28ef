package history

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// runOnce opens the store in dir, collects n one-second ticks of one
// request each starting at start, and closes it: one short-lived process.
func runOnce(t *testing.T, dir string, start time.Time, n int, log *slog.Logger) {
	t.Helper()
	r := newRig(start)
	st := openStore(t, r.mon, dir, func(o *Options) {
		if log != nil {
			o.Logger = log
		}
	})
	for i := 0; i < n; i++ {
		r.tick(time.Second, 0.01, 1)
	}
	r.mon.Stop()
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestRestartsWithinOneMinute: ten processes that each run a few seconds
// inside the same minute file all their requests under that minute. None
// is shifted into a later minute and no start takes the earlier runs'
// data for a clock that went back.
func TestRestartsWithinOneMinute(t *testing.T) {
	dir := t.TempDir()
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	for i := 0; i < 10; i++ {
		runOnce(t, dir, t0.Add(time.Duration(i*5)*time.Second), 4, log)
	}
	rep := checkFile(t, dir, nil)
	sum, first, last := rep.counterTotal("test_requests_total")
	if sum != 40 || first != t0.Unix() || last != t0.Unix() {
		t.Fatalf("10 runs of 4 requests in minute %d: stored %v requests from %d to %d", t0.Unix(), sum, first, last)
	}
	if strings.Contains(logs.String(), "clock went back") {
		t.Fatalf("a restart was taken for a clock step back:\n%s", logs.String())
	}
	// A query reads the merged minute.
	st := openStore(t, nil, dir, nil)
	defer st.Close()
	res := query(t, st, "test_requests_total", StatCount, t0, t0.Add(time.Hour), time.Minute)
	if len(res.Points) != 1 || res.Points[0].V != 40 || !res.Points[0].T.Equal(t0) {
		t.Fatalf("the merged minute reads %+v", res.Points)
	}
}

// TestRestartsAcrossMinutes: quick runs that straddle minute boundaries
// put each request in the minute its clock said.
func TestRestartsAcrossMinutes(t *testing.T) {
	dir := t.TempDir()
	start := t0.Add(50 * time.Second)
	for i := 0; i < 8; i++ {
		runOnce(t, dir, start.Add(time.Duration(i*15)*time.Second), 10, nil)
	}
	// Runs tick at start+i*15s+1s … +10s.
	want := map[int64]float64{}
	for i := 0; i < 8; i++ {
		for k := 1; k <= 10; k++ {
			ts := start.Add(time.Duration(i*15+k) * time.Second).Unix()
			want[alignDown(ts, 60)]++
		}
	}
	rep := checkFile(t, dir, nil)
	num := rep.series["test_requests_total"]
	for ts, recs := range rep.frames[0] {
		if got := recs[num].a; got != want[ts] {
			t.Errorf("minute %s: %v requests, want %v", time.Unix(ts, 0).UTC().Format("15:04"), got, want[ts])
		}
		delete(want, ts)
	}
	if len(want) > 0 {
		t.Errorf("minutes missing: %v", want)
	}
}

// TestRestartClockBehind: a process that starts with the clock a little
// behind the previous one's last tick (an NTP step) keeps every stored
// request and counts its own into the newest stored minute until its clock
// catches up; one far behind rewinds, and says why.
func TestRestartClockBehind(t *testing.T) {
	dir := t.TempDir()
	runOnce(t, dir, t0, 120, nil) // t0+1s … t0+120s
	runOnce(t, dir, t0.Add(90*time.Second), 5, nil)
	rep := checkFile(t, dir, nil)
	sum, _, last := rep.counterTotal("test_requests_total")
	if sum != 125 || last != t0.Add(2*time.Minute).Unix() {
		t.Fatalf("after a 30 s step back: %v requests, last minute %d", sum, last)
	}
	var logs bytes.Buffer
	runOnce(t, dir, t0.Add(-time.Hour), 5, slog.New(slog.NewTextHandler(&logs, nil)))
	rep = checkFile(t, dir, nil)
	if sum, _, last := rep.counterTotal("test_requests_total"); sum != 5 || last != t0.Add(-time.Hour).Unix() {
		t.Fatalf("after an hour's step back: %v requests, last minute %d", sum, last)
	}
	if !strings.Contains(logs.String(), "clock went back") || !strings.Contains(logs.String(), "newest_stored") {
		t.Fatalf("the rewind does not say why:\n%s", logs.String())
	}
}
