package history

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func query(t testing.TB, st *Store, series string, stat Stat, from, to time.Time, step time.Duration) QueryResult {
	t.Helper()
	res, err := st.Query(context.Background(), QueryRequest{Series: series, Stat: stat, From: from, To: to, Step: step})
	if err != nil {
		t.Fatalf("query %s %s: %v", series, stat, err)
	}
	return res
}

func sumPoints(ps []Point) float64 {
	s := 0.0
	for _, p := range ps {
		s += p.V
	}
	return s
}

func TestStoreRecordsAndRestarts(t *testing.T) {
	dir := t.TempDir()
	r := newRig(t0.Add(-10 * time.Second))
	st := openStore(t, r.mon, dir, nil)
	// Two hours and a bit of 10-second ticks, from t0 on.
	n := 0
	for ; n < 2*360+30; n++ {
		r.tick(10*time.Second, float64(n%100+1)/1000, int64(n%50))
	}
	if err := st.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	end := r.clk.Now()
	res := query(t, st, "test_requests_total", StatCount, t0, end, time.Minute)
	if res.Tier != time.Minute || res.Step != time.Minute {
		t.Fatalf("tier %v step %v", res.Tier, res.Step)
	}
	// Every finished minute holds 6 ticks; the open minute is not stored.
	if len(res.Points) != 124 { // minute 124 is still open
		t.Fatalf("%d points", len(res.Points))
	}
	for i, p := range res.Points {
		if p.V != 6 || !p.T.Equal(t0.Add(time.Duration(i)*time.Minute)) {
			t.Fatalf("point %d: %+v", i, p)
		}
	}
	// The 5-minute and 1-hour tiers are exact merges of the minutes; the
	// last, unfinished step comes from the finer tiers.
	for _, step := range []time.Duration{5 * time.Minute, time.Hour} {
		res := query(t, st, "test_requests_total", StatCount, t0, end, step)
		if res.Tier != step {
			t.Fatalf("step %v read tier %v", step, res.Tier)
		}
		for i, p := range res.Points {
			full := float64(step / time.Minute * 6)
			if p.V != full && (i < len(res.Points)-1 || p.V > full) {
				t.Fatalf("tier %v: %+v", step, p)
			}
		}
		if sumPoints(res.Points) != 124*6 {
			t.Fatalf("tier %v: %v requests", step, sumPoints(res.Points))
		}
	}
	p99 := query(t, st, "test_latency_seconds", StatP99, t0, end, time.Hour)
	if len(p99.Points) != 3 || math.Abs(p99.Points[0].V-0.099)/0.099 > 0.0055 {
		t.Fatalf("p99 by hour: %+v", p99.Points)
	}
	temp := query(t, st, "test_temperature_celsius", StatMax, t0, end, time.Hour)
	if temp.Points[0].V != 49 || temp.Unit != "celsius" {
		t.Fatalf("max temperature %+v", temp)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	r.mon.Stop()

	// A new process: its history continues after the stored minutes.
	r2 := newRig(end)
	st2 := openStore(t, r2.mon, dir, nil)
	defer st2.Close()
	for i := 0; i < 60; i++ {
		r2.tick(10*time.Second, 0.01, 1)
	}
	if err := st2.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	res = query(t, st2, "test_requests_total", StatCount, t0, r2.clk.Now(), time.Minute)
	total := sumPoints(res.Points)
	// 6 per minute before, the partial minute flushed by Close, and the
	// new process's ticks except its open minute.
	if total < float64(n)-6 || total > float64(n+60) {
		t.Fatalf("after restart: %v requests over %d points", total, len(res.Points))
	}
	for i := 1; i < len(res.Points); i++ {
		if !res.Points[i].T.After(res.Points[i-1].T) {
			t.Fatalf("points out of order at %d: %v", i, res.Points[i-1:i+1])
		}
	}
	if s := st2.Series(); len(s) < 3 {
		t.Fatalf("series %+v", s)
	}
}

func TestQueryErrors(t *testing.T) {
	dir := t.TempDir()
	r := newRig(t0)
	st := openStore(t, r.mon, dir, nil)
	defer st.Close()
	for i := 0; i < 20; i++ {
		r.tick(10*time.Second, 0.01, 1)
	}
	ctx := context.Background()
	end := r.clk.Now()
	cases := []struct {
		req  QueryRequest
		want error
	}{
		{QueryRequest{Series: "nope", Stat: StatCount, From: t0, To: end}, ErrUnknownSeries},
		{QueryRequest{Series: "test_requests_total", Stat: 0, From: t0, To: end}, ErrUnknownStat},
		{QueryRequest{Series: "test_requests_total", Stat: StatP99, From: t0, To: end}, ErrStatKind},
		{QueryRequest{Series: "test_temperature_celsius", Stat: StatRate, From: t0, To: end}, ErrStatKind},
		{QueryRequest{Series: "test_latency_seconds", Stat: StatLast, From: t0, To: end}, ErrStatKind},
		{QueryRequest{Series: "test_requests_total", Stat: StatCount, From: end, To: t0}, ErrRange},
		{QueryRequest{Series: "test_requests_total", Stat: StatCount, To: end}, ErrRange},
		{QueryRequest{Series: "test_requests_total", Stat: StatCount, From: t0, To: end, Step: -time.Second}, ErrRange},
		{QueryRequest{Series: "test_requests_total", Stat: StatCount, From: t0.Add(-5 * 365 * 24 * time.Hour), To: end, Step: time.Hour}, ErrTooManyPoints},
	}
	for _, c := range cases {
		if _, err := st.Query(ctx, c.req); !errors.Is(err, c.want) {
			t.Errorf("%+v: %v, want %v", c.req, err, c.want)
		}
	}
	if _, err := ParseStat("p98"); !errors.Is(err, ErrUnknownStat) {
		t.Fatal(err)
	}
	for _, n := range StatNames() {
		s, err := ParseStat(n)
		if err != nil || s.String() != n {
			t.Fatal(n, s, err)
		}
	}
}

// TestWriteTo copies the file while the Store runs; the copy is a valid
// history file with everything written so far.
func TestWriteTo(t *testing.T) {
	dir := t.TempDir()
	r := newRig(t0.Add(-10 * time.Second))
	st := openStore(t, r.mon, dir, nil)
	r.minutes(10)
	if err := st.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	backup := t.TempDir()
	f, err := os.Create(filepath.Join(backup, FileName))
	if err != nil {
		t.Fatal(err)
	}
	if n, err := st.WriteTo(f); err != nil || n == 0 {
		t.Fatalf("WriteTo: %d %v", n, err)
	}
	f.Close()
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	rep := checkFile(t, backup, nil)
	if sum, _, _ := rep.counterTotal("test_requests_total"); sum != 54 {
		t.Fatalf("backup holds %v requests, want 54", sum)
	}
}
