package dbpool

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/bizra/vitals"
	"github.com/bizra/vitals/score"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

type fakeSource struct {
	mu  sync.Mutex
	s   Sample
	cfg Config
}

func (f *fakeSource) Sample() Sample { f.mu.Lock(); defer f.mu.Unlock(); return f.s }
func (f *fakeSource) Config() Config { f.mu.Lock(); defer f.mu.Unlock(); return f.cfg }
func (f *fakeSource) set(fn func(*Sample)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(&f.s)
}

func newRig(t *testing.T, o *Options) (*vitals.Monitor, *vitals.ManualClock, *Pool, *fakeSource) {
	t.Helper()
	clk := vitals.NewManualClock(t0)
	m := vitals.New(&vitals.Options{Clock: clk})
	src := &fakeSource{s: UnknownSample, cfg: UnknownConfig}
	src.s.MaxOpen, src.s.InUse, src.s.Idle, src.s.Open = 10, 0, 2, 2
	src.s.Waits, src.s.WaitTime = 0, 0
	src.cfg.MaxIdle, src.cfg.MaxLifetime = 2, time.Hour
	var opts Options
	if o != nil {
		opts = *o
	}
	opts.Source = src
	opts.SampleMaxAge = -1 // every read samples: tests change the source between reads
	p := New(m, "main", &opts)
	return m, clk, p, src
}

func val(t *testing.T, s *vitals.Snapshot, name string, labels ...string) float64 {
	t.Helper()
	p, ok := s.Lookup(name, labels...)
	if !ok {
		t.Fatalf("series %s%v missing", name, labels)
	}
	if p.Hist != nil {
		return float64(p.Hist.Count)
	}
	return p.Value
}

func TestSeriesExistFromTheStart(t *testing.T) {
	m, _, _, _ := newRig(t, nil)
	s := m.Collect()
	val(t, s, "vitals_db_pool_waiters", "main")
	val(t, s, "vitals_db_pool_wait_duration_seconds", "main")
	for _, r := range resultNames {
		if v := val(t, s, "vitals_db_pool_acquires_total", "main", r); v != 0 {
			t.Errorf("acquires{%s} = %v", r, v)
		}
	}
	for _, k := range []string{"dial", "auth", "broken"} {
		val(t, s, "vitals_db_connection_errors_total", "main", k)
	}
	if _, ok := s.Lookup("vitals_db_connection_errors_total", "main", "none"); ok {
		t.Error("a none kind is exported")
	}
	if v := val(t, s, "vitals_db_pool_max_open_connections", "main"); v != 10 {
		t.Errorf("max open %v", v)
	}
	if v := val(t, s, "vitals_db_pool_max_lifetime_seconds", "main"); v != 3600 {
		t.Errorf("max lifetime %v", v)
	}
	val(t, s, "vitals_db_pool_max_idle_connections", "main")
	val(t, s, "vitals_db_pool_connections", "main", "in_use")
	val(t, s, "vitals_db_pool_connections", "main", "idle")
	val(t, s, "vitals_db_pool_driver_waits_total", "main")
	val(t, s, "vitals_db_pool_driver_wait_seconds_total", "main")
	// Not reported by the source: not exported rather than a false zero.
	for _, name := range []string{"vitals_db_pool_connections_constructing", "vitals_db_pool_connections_opened_total",
		"vitals_db_pool_min_connections", "vitals_db_pool_max_idle_time_seconds"} {
		if _, ok := s.Lookup(name, "main"); ok {
			t.Errorf("%s exported though the source does not report it", name)
		}
	}
	if v := val(t, s, "vitals_db_pool_score", "main"); v != 100 {
		t.Errorf("score %v", v)
	}
	for _, f := range factorNames {
		val(t, s, "vitals_db_pool_score_factor", "main", f)
	}
	// One factor family, the shape the cache and breaker monitors share.
	for _, fam := range []string{"_observed", "_target", "_limit", "_weight"} {
		if _, ok := s.Lookup("vitals_db_pool_score_factor"+fam, "main", "utilization"); ok {
			t.Errorf("vitals_db_pool_score_factor%s is exported", fam)
		}
	}
}

func TestAcquireResultsAndErrorKinds(t *testing.T) {
	m, _, p, _ := newRig(t, nil)
	a1, a2 := p.BeginAcquire(), p.BeginAcquire()
	if p.Waiters() != 2 {
		t.Fatalf("waiters %d", p.Waiters())
	}
	if s := m.Collect(); val(t, s, "vitals_db_pool_waiters", "main") != 2 {
		t.Fatal("waiter gauge")
	}
	a1.End(nil)
	a2.End(fmt.Errorf("acquire: %w", context.DeadlineExceeded))
	p.BeginAcquire().End(context.Canceled)
	p.BeginAcquire().End(&net.OpError{Op: "dial", Err: syscall.ECONNREFUSED})
	p.BeginAcquire().End(errors.New("pool closed"))
	p.ConnectionError(Auth)
	p.ConnectionError(NotConnection)
	p.ConnectionError(ErrorKind(77))
	s := m.Collect()
	for r, want := range map[string]float64{"ok": 1, "timeout": 1, "canceled": 1, "error": 2} {
		if v := val(t, s, "vitals_db_pool_acquires_total", "main", r); v != want {
			t.Errorf("acquires{%s} = %v, want %v", r, v, want)
		}
	}
	for k, want := range map[string]float64{"dial": 1, "auth": 1, "broken": 0} {
		if v := val(t, s, "vitals_db_connection_errors_total", "main", k); v != want {
			t.Errorf("connection errors{%s} = %v, want %v", k, v, want)
		}
	}
	if v := val(t, s, "vitals_db_pool_wait_duration_seconds", "main"); v != 5 {
		t.Errorf("waits observed %v, want 5", v)
	}
	if p.Waiters() != 0 {
		t.Fatalf("waiters after End %d", p.Waiters())
	}
}

func TestOperations(t *testing.T) {
	errNoRows := errors.New("no rows")
	m, _, p, _ := newRig(t, &Options{MaxOperations: 2, IgnoreError: func(err error) bool { return errors.Is(err, errNoRows) }})
	get := p.Op("user.get")
	if p.Op("user.get") != get {
		t.Fatal("Op is not handle-first")
	}
	get.Start().End(nil)
	get.Start().End(errNoRows)
	get.Observe(5*time.Millisecond, io.ErrUnexpectedEOF) // a broken connection
	put := p.Op("user.put")
	put.Start().End(errors.New("duplicate key"))
	over := p.Op("third")
	if over.Name() != "__overflow__" || p.Op("fourth") != over {
		t.Fatalf("past MaxOperations: %q", over.Name())
	}
	over.Start().End(nil)
	s := m.Collect()
	for op, want := range map[string]float64{"user.get": 1, "user.put": 1, "__overflow__": 0} {
		if v := val(t, s, "vitals_db_query_errors_total", "main", op); v != want {
			t.Errorf("errors{%s} = %v, want %v", op, v, want)
		}
	}
	if v := val(t, s, "vitals_db_query_duration_seconds", "main", "user.get"); v != 3 {
		t.Errorf("user.get queries %v", v)
	}
	if v := val(t, s, "vitals_db_connection_errors_total", "main", "broken"); v != 1 {
		t.Errorf("broken %v", v)
	}
	st := p.Stats()
	if len(st.Operations) != 3 || st.Operations[0].Name != "user.get" || st.Operations[0].Latency.Count != 3 || st.Operations[0].Errors != 1 {
		t.Fatalf("operations %+v", st.Operations)
	}
	if st.Queries != 5 || st.QueryErrors != 2 || math.Abs(st.ErrorRate-2.0/5) > 1e-9 {
		t.Fatalf("queries %v errors %v rate %v", st.Queries, st.QueryErrors, st.ErrorRate)
	}
}

// TestLittlesLawAndScore checks the queue and wait factors from observed
// waits: 30 acquires that each waited one second over a ten-second window
// mean three callers queued on average.
func TestLittlesLawAndScore(t *testing.T) {
	m, clk, p, src := newRig(t, nil)
	src.set(func(s *Sample) { s.InUse = 10 })
	m.Collect()
	for range 10 {
		clk.Advance(time.Second)
		for range 3 {
			p.wait.Observe(1)
			p.acquires[resultOK].Inc()
		}
		m.Collect()
	}
	st := p.Stats()
	if st.Window != 10*time.Second || math.Abs(st.AvgQueued-3) > 1e-9 {
		t.Fatalf("window %v avg queued %v, want 10s and 3", st.Window, st.AvgQueued)
	}
	if math.Abs(st.Wait.P99-1) > 0.01 || st.Utilization != 1 || st.AcquireRate != 3 {
		t.Fatalf("p99 %v utilization %v rate %v", st.Wait.P99, st.Utilization, st.AcquireRate)
	}
	sc := st.Score
	if sc.Status != score.Fail || len(sc.Recommendations) < 2 {
		t.Fatalf("saturated pool score %+v", sc)
	}
	byName := map[string]score.Factor{}
	for _, f := range sc.Factors {
		byName[f.Name] = f
	}
	if f := byName["wait_p99"]; f.Score != 0 || f.Target != 0.01 || f.Limit != 0.25 || f.Weight != 2 {
		t.Fatalf("wait factor %+v", f)
	}
	if f := byName["queue_depth"]; f.Limit != 10 || f.Score == 100 || f.Observed != 3 {
		t.Fatalf("queue factor %+v", f)
	}
	if f := byName["error_rate"]; f.Score != 100 || f.Observed != 0 {
		t.Fatalf("error factor %+v", f)
	}
	s := m.Collect()
	if v := val(t, s, "vitals_db_pool_score_factor", "main", "utilization"); v != 0 {
		t.Fatalf("utilization factor metric %v", v)
	}
	if v := val(t, s, "vitals_db_pool_score_factor", "main", "queue_depth"); v != byName["queue_depth"].Score {
		t.Fatalf("queue factor metric %v, want %v", v, byName["queue_depth"].Score)
	}
	if v := val(t, s, "vitals_db_pool_score", "main"); v != sc.Value {
		t.Fatalf("score metric %v, want %v", v, sc.Value)
	}
}

func TestSaturation(t *testing.T) {
	_, _, p, src := newRig(t, nil)
	src.set(func(s *Sample) { s.InUse = 8 })
	a := []Acquiring{p.BeginAcquire(), p.BeginAcquire(), p.BeginAcquire(), p.BeginAcquire()}
	if sat := p.Saturation(); math.Abs(sat-1.2) > 1e-9 {
		t.Fatalf("saturation %v, want 1.2", sat)
	}
	for _, x := range a {
		x.End(nil)
	}
	src.set(func(s *Sample) { s.MaxOpen = 0 })
	if sat := p.Saturation(); !math.IsNaN(sat) {
		t.Fatalf("unlimited pool saturation %v, want NaN", sat)
	}
	// No source at all: only the wrapper's figures.
	m := vitals.New(nil)
	bare := New(m, "bare", nil)
	if !math.IsNaN(bare.Saturation()) || bare.Stats().Config.MaxOpen != -1 {
		t.Fatal("bare pool")
	}
	m.Collect()
}

func TestDefaultClassify(t *testing.T) {
	for _, c := range []struct {
		err  error
		want ErrorKind
	}{
		{nil, NotConnection},
		{errors.New("syntax error"), NotConnection},
		{&net.OpError{Op: "dial", Err: errors.New("x")}, Dial},
		{fmt.Errorf("wrap: %w", syscall.ECONNREFUSED), Dial},
		{&net.DNSError{Err: "no such host"}, Dial},
		{driver.ErrBadConn, Broken},
		{io.ErrUnexpectedEOF, Broken},
		{&net.OpError{Op: "read", Err: syscall.ECONNRESET}, Broken},
		{fmt.Errorf("x: %w", net.ErrClosed), Broken},
	} {
		if got := DefaultClassify(c.err); got != c.want {
			t.Errorf("DefaultClassify(%v) = %v, want %v", c.err, got, c.want)
		}
	}
	if Auth.String() != "auth" || ErrorKind(40).String() != "unknown" {
		t.Fatal("kind strings")
	}
}

func TestRecordingNeverAllocates(t *testing.T) {
	_, _, p, _ := newRig(t, nil)
	op := p.Op("q")
	for range 100 {
		p.BeginAcquire().End(nil)
		op.Start().End(nil)
	}
	if a := testing.AllocsPerRun(1000, func() {
		p.BeginAcquire().End(nil)
		op.Start().End(nil)
	}); a != 0 {
		t.Fatalf("acquire and query recording allocate %v", a)
	}
}

func TestEmptyNamePanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("no panic")
		}
	}()
	New(vitals.New(nil), "", nil)
}
