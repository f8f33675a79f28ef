package history

import (
	"context"
	"testing"
	"time"
)

// counterTotal sums a series' counter increase over the finest tier.
func (rep fileReport) counterTotal(key string) (sum float64, first, last int64) {
	num := rep.series[key]
	first, last = 1<<62, -1<<62
	for ts, recs := range rep.frames[0] {
		if r, ok := recs[num]; ok {
			sum += r.a
			first, last = min(first, ts), max(last, ts)
		}
	}
	return sum, first, last
}

// TestClockJumps drives the Store with a clock that steps back a little
// (absorbed: nothing lost, nothing written twice), jumps forward days
// (a gap), and, across a restart, goes back days (a rewind: history
// stamped after the new time is deleted, the rest kept). After each part
// the file passes checkFile and every request is accounted for.
func TestClockJumps(t *testing.T) {
	dir := t.TempDir()
	tiers := []Tier{{time.Minute, 10 * 24 * time.Hour}, {5 * time.Minute, 20 * 24 * time.Hour}, {time.Hour, 90 * 24 * time.Hour}}
	mod := func(o *Options) { o.Tiers = tiers }
	r := newRig(t0.Add(-36 * time.Hour))
	st := openStore(t, r.mon, dir, mod)
	total := 0.0
	ticks := func(n int, d time.Duration) {
		for i := 0; i < n; i++ {
			r.tick(d, 0.01, 1)
			total++
		}
	}
	ticks(60, 10*time.Second) // phase 0: ten minutes at t0-36h
	phase0 := total
	r.clk.Set(t0) // forward 36 h
	ticks(60, 10*time.Second)
	ticks(1, -2*time.Minute) // back 2 minutes: absorbed into the open minute
	ticks(30, 10*time.Second)
	ticks(1, -4*time.Minute) // and again, further than the data
	ticks(30, 10*time.Second)
	r.clk.Advance(72 * time.Hour) // forward 3 days
	ticks(30, 10*time.Second)
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	r.mon.Stop()
	rep := checkFile(t, dir, tiers)
	if sum, _, last := rep.counterTotal("test_requests_total"); sum != total || last > r.clk.Now().Unix() {
		t.Fatalf("stored %v requests (last step %d), made %v", sum, last, total)
	}

	// A restart with the clock 4 days behind the stored history.
	r2 := newRig(t0.Add(-24*time.Hour - 10*time.Second))
	st = openStore(t, r2.mon, dir, mod)
	after := 0.0
	for i := 0; i < 60; i++ {
		r2.tick(10*time.Second, 0.01, 1)
		after++
	}
	if err := st.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	res := query(t, st, "test_requests_total", StatCount, t0.Add(-2*24*time.Hour), r2.clk.Now(), time.Hour)
	if sumPoints(res.Points) != phase0+after-6 { // the open minute is not stored yet
		t.Fatalf("after the rewind the hourly steps hold %v, want %v: %+v", sumPoints(res.Points), phase0+after-6, res.Points)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	rep = checkFile(t, dir, tiers)
	sum, first, last := rep.counterTotal("test_requests_total")
	if sum != phase0+after || first != t0.Add(-36*time.Hour).Unix() && first != t0.Add(-36*time.Hour+time.Minute).Unix() || last >= r2.clk.Now().Unix() {
		t.Fatalf("after the rewind: %v requests from %d to %d, want %v", sum, first, last, phase0+after)
	}
	for j, frames := range rep.frames {
		for ts := range frames {
			if ts > r2.clk.Now().Unix() {
				t.Fatalf("tier %d kept a step at %s, after the rewound clock", j, time.Unix(ts, 0).UTC())
			}
		}
	}
}
