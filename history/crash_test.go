package history

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/bizra/vitals"
	"github.com/bizra/vitals/metric"
)

const crashChildEnv = "VITALS_HISTORY_CRASH_CHILD"

// crashChild is the process TestCrashSafety kills. It opens the history
// in the directory named by the environment, continues the timeline from
// the newest stored step, and records as fast as it can: each simulated
// second one request and one latency, 60 ticks a minute. After each minute
// is flushed it prints "flushed <unix>" so the parent knows what must
// survive.
func crashChild() {
	dir := os.Getenv(crashChildEnv)
	st, err := Open(nil, &Options{Dir: dir, Logger: quiet()})
	if err != nil {
		fmt.Println("open:", err)
		os.Exit(2)
	}
	start := st.Status().Newest
	if start.IsZero() {
		start = t0
	}
	clk := vitals.NewManualClock(start)
	m := vitals.New(&vitals.Options{Clock: clk, Logger: quiet()})
	reqs := m.Registry().Counter(metric.Opts{Name: "crash_requests_total", Help: "Requests."})
	lat := m.Registry().Histogram(metric.Opts{Name: "crash_latency_seconds", Help: "Latency.", Unit: "seconds"})
	m.AddConsumer(st)
	out := bufio.NewWriter(os.Stdout)
	fmt.Fprintln(out, "ready")
	out.Flush()
	for i := 0; ; i++ {
		reqs.Inc()
		lat.Observe(float64(1+i%200) / 1000)
		m.Collect()
		clk.Advance(time.Second)
		if i%60 == 0 && i > 0 {
			// That tick sealed the previous minute.
			if err := st.Flush(context.Background()); err != nil {
				fmt.Println("flush:", err)
				os.Exit(3)
			}
			fmt.Fprintln(out, "flushed", clk.Now().Add(-61*time.Second).Truncate(time.Minute).Unix())
			out.Flush()
		}
	}
}

// TestCrashSafety kills a process writing history with SIGKILL at random
// moments, many times, and after each kill checks that the file opens,
// passes bbolt's consistency check, decodes completely, holds every minute
// the process had flushed, and continues the previous run without a gap:
// every stored minute holds exactly 60 ticks and 60 requests, so no
// minute was lost, torn or counted twice.
func TestCrashSafety(t *testing.T) {
	if testing.Short() {
		t.Skip("kills child processes; skipped in -short")
	}
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 3))
	// Up to 40 kills in 12 s; but at least 10 kills and 30 stored minutes
	// however long that takes on a loaded machine (a child started under
	// -race with the CPUs taken may store under a minute before its kill),
	// within a hard stop of 3 minutes.
	deadline, hardStop := time.Now().Add(12*time.Second), time.Now().Add(3*time.Minute)
	runs, flushedTotal, stored := 0, 0, 0
	for (runs < 40 && time.Now().Before(deadline)) || ((runs < 10 || stored < 30) && time.Now().Before(hardStop)) {
		runs++
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), crashChildEnv+"="+dir)
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		var mu sync.Mutex
		var flushed []int64
		var other []string
		ready := make(chan struct{})
		readDone := make(chan struct{})
		go func() {
			defer close(readDone)
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				line := sc.Text()
				mu.Lock()
				switch {
				case line == "ready":
					close(ready)
				case strings.HasPrefix(line, "flushed "):
					v, _ := strconv.ParseInt(strings.TrimPrefix(line, "flushed "), 10, 64)
					flushed = append(flushed, v)
				default:
					other = append(other, line)
				}
				mu.Unlock()
			}
		}()
		select {
		case <-ready:
		case <-readDone:
			cmd.Wait()
			t.Fatalf("run %d: child exited before it was ready: %v", runs, other)
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("run %d: child not ready", runs)
		}
		// A random moment: during open, a minute's ticks, a commit, a flush.
		timer := time.NewTimer(time.Duration(rng.IntN(250_000)) * time.Microsecond)
		<-timer.C
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		<-readDone
		err = cmd.Wait()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
			t.Fatalf("run %d: child ended with %v (not killed), output %v", runs, err, other)
		}

		rep := checkFile(t, dir, nil)
		mins := rep.frames[0]
		stored = len(mins)
		num, ok := rep.series["crash_requests_total"]
		if !ok && len(mins) > 0 {
			t.Fatalf("run %d: frames without the series definition", runs)
		}
		mu.Lock()
		for _, f := range flushed {
			if _, ok := mins[f]; !ok {
				t.Fatalf("run %d: minute %d was flushed before the kill but is not in the file", runs, f)
			}
		}
		flushedTotal += len(flushed)
		mu.Unlock()
		// Contiguous from the oldest minute kept (retention drops minutes
		// older than a day).
		oldest := int64(1 << 62)
		for ts := range mins {
			oldest = min(oldest, ts)
		}
		for ts, recs := range mins {
			if (ts-t0.Unix())%60 != 0 || ts >= oldest+int64(len(mins))*60 {
				t.Fatalf("run %d: %d minutes stored, but one starts at %s: a gap", runs, len(mins), time.Unix(ts, 0).UTC())
			}
			r := recs[num]
			if r.ticks != 60 || r.a != 60 {
				t.Fatalf("run %d: minute %s holds %d ticks and %v requests, want 60 and 60", runs, time.Unix(ts, 0).UTC(), r.ticks, r.a)
			}
		}
	}
	rep := checkFile(t, dir, nil)
	t.Logf("%d kills; %d minutes stored, %d flushed minutes confirmed, %d 5-minute and %d hourly records",
		runs, len(rep.frames[0]), flushedTotal, len(rep.frames[1]), len(rep.frames[2]))
	if runs < 10 || len(rep.frames[0]) < 30 {
		t.Fatalf("too little exercised: %d runs, %d minutes", runs, len(rep.frames[0]))
	}
}
