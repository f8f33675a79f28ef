package demo

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bizra/vitals/history"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestTenQuickRestartsKeepHistory is the reliability report's
// reproduction: ten short runs of the demo on one data directory, one
// after the other (`vitals demo --data DIR --duration 4s --drain-delay
// 100ms`, here 2 s each in-process). Every tick of every run must be in
// the history, stamped no later than the wall clock: before the fix,
// restarts within a minute pushed the timeline into the future and a
// later start deleted the earlier runs as "the clock went back".
func TestTenQuickRestartsKeepHistory(t *testing.T) {
	if testing.Short() {
		t.Skip("ten runs of the demo")
	}
	dir := t.TempDir()
	var logs lockedBuffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	start := time.Now()
	const runs = 10
	for i := 0; i < runs; i++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		if err := Run(context.Background(), Config{Listener: ln, DataDir: dir, Duration: 2 * time.Second, DrainDelay: 100 * time.Millisecond, Rate: 20, Logger: log}); err != nil {
			t.Fatalf("run %d: %v", i, err)
		}
	}
	end := time.Now()
	if strings.Contains(logs.String(), "clock went back") {
		t.Fatalf("a restart was taken for a clock step back:\n%s", logs.String())
	}
	st, err := history.Open(nil, &history.Options{Dir: dir, ReadOnly: true, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	// A gauge's count is its number of samples: one per collector tick.
	var key string
	for _, s := range st.Series() {
		if s.Name == "vitals_history_series" {
			key = s.Key
		}
	}
	if key == "" {
		t.Fatal("no vitals_history_series gauge in the history")
	}
	res, err := st.Query(context.Background(), history.QueryRequest{Series: key, Stat: history.StatCount,
		From: start.Add(-time.Minute), To: end.Add(10 * time.Minute), Step: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	ticks := 0.0
	for _, p := range res.Points {
		if p.T.After(end) {
			t.Errorf("a minute stamped %s, after the last run ended at %s", p.T.Format(time.TimeOnly), end.Format(time.TimeOnly))
		}
		ticks += p.V
	}
	// Each run ticks at start and then once a second for 2 s: two ticks
	// or three, but on a loaded machine a slow start can leave a run one
	// (19 of 20 seen under -race at load average 30). Deleting earlier
	// runs' history, the bug, leaves a few runs' ticks: far below one a run.
	if ticks < runs {
		t.Fatalf("%v ticks stored for %d runs of 2 s: %+v", ticks, runs, res.Points)
	}
}
