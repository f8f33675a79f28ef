package history

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/bizra/vitals/metric"
)

// readAll collects Read's steps per series, copying them.
func readAll(st *Store, req ReadRequest) ([][]Step, error) {
	out := make([][]Step, len(req.Series))
	err := st.Read(context.Background(), req, func(i int, p *Step) {
		c := *p
		c.Hist = p.Hist.Clone()
		out[i] = append(out[i], c)
	})
	return out, err
}

// TestRead reads the three kinds of series back as stored, step by step,
// and checks each step against what the rig recorded and against Query.
func TestRead(t *testing.T) {
	r := newRig(t0.Add(-10 * time.Second))
	st := openStore(t, r.mon, t.TempDir(), nil)
	defer st.Close()
	// 30 minutes of 10-s ticks: one request a tick, latency 1 to 6 ms by
	// tick within the minute, the gauge at the tick's index.
	n := 0
	for ; n < 30*6; n++ {
		r.tick(10*time.Second, float64(n%6+1)/1000, int64(n))
	}
	r.tick(10*time.Second, 0.001, int64(n)) // opens minute 31: minute 30 is sealed
	if err := st.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	keys := []string{"test_requests_total", "test_temperature_celsius", "test_latency_seconds", "nope"}
	from, to := t0.Add(5*time.Minute), t0.Add(15*time.Minute)
	res, err := readAll(st, ReadRequest{Series: keys, From: from, To: to})
	if err != nil {
		t.Fatal(err)
	}
	if len(res[3]) != 0 {
		t.Fatalf("unknown series: %+v", res[3])
	}
	for k, steps := range res[:3] {
		// Steps ending at or after From, starting at or before To: minutes
		// 4 to 15.
		if len(steps) != 12 {
			t.Fatalf("%s: %d steps", keys[k], len(steps))
		}
		for i, p := range steps {
			start := t0.Add(time.Duration(4+i) * time.Minute)
			if !p.Start.Equal(start) || !p.End.Equal(start.Add(time.Minute)) || p.Ticks != 6 || p.Covered != time.Minute ||
				p.Kind != []metric.Kind{metric.KindCounter, metric.KindGauge, metric.KindHistogram}[k] {
				t.Fatalf("%s step %d: %+v", keys[k], i, p)
			}
			last := float64((4+i)*6 + 5) // the gauge's last value in the minute
			switch p.Kind {
			case metric.KindCounter:
				if p.Increase != 6 {
					t.Fatalf("step %d: increase %v", i, p.Increase)
				}
			case metric.KindGauge:
				if p.Samples != 6 || p.Last != last || p.Min != last-5 || p.Max != last || p.Sum != 6*last-15 {
					t.Fatalf("step %d: %+v", i, p)
				}
			case metric.KindHistogram:
				want := metric.NewHistogram(nil)
				for k := 1; k <= 6; k++ {
					want.Observe(float64(k) / 1000)
				}
				var w metric.HistogramValue
				want.Read(&w)
				h := p.Hist
				if h.Count != 6 || h.Schema != w.Schema || h.ZeroCount != w.ZeroCount || math.Abs(h.Sum-w.Sum) > 1e-12 || len(h.Buckets) != len(w.Buckets) {
					t.Fatalf("step %d: %+v, want %+v", i, h, w)
				}
				for k := range h.Buckets {
					if h.Buckets[k] != w.Buckets[k] {
						t.Fatalf("step %d bucket %d: %+v, want %+v", i, k, h.Buckets[k], w.Buckets[k])
					}
				}
			}
		}
	}
	q := query(t, st, "test_latency_seconds", StatCount, t0.Add(4*time.Minute), to, time.Minute)
	for i, p := range q.Points {
		if p.V != float64(res[2][i].Hist.Count) || !p.T.Equal(res[2][i].Start) {
			t.Fatalf("Query point %d %+v, Read %+v", i, p, res[2][i])
		}
	}

	// The minute being collected is not returned; the sealed ones still
	// waiting in memory are.
	res, err = readAll(st, ReadRequest{Series: keys[:1], From: t0.Add(28 * time.Minute), To: r.clk.Now()})
	if err != nil || len(res[0]) != 3 || !res[0][2].End.Equal(t0.Add(30*time.Minute)) {
		t.Fatalf("%+v %v", res, err)
	}
}

// TestReadTiers reads across tiers: a day and a half back the 5-minute
// tier, then minutes; no span is read twice, so the increases add up to
// the requests made.
func TestReadTiers(t *testing.T) {
	r := newRig(t0.Add(-36*time.Hour - 10*time.Second))
	st := openStore(t, r.mon, t.TempDir(), nil)
	defer st.Close()
	r.minutes(20) // at t0-36h
	r.clk.Set(t0.Add(-30 * time.Minute))
	r.minutes(30) // the last half hour, the last tick at t0
	r.tick(time.Second, 0.01, 1)
	total := 20*6 + 30*6 - 1 // the open minute, t0, holds the tick at t0 and the extra one
	if err := st.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	res, err := readAll(st, ReadRequest{Series: []string{"test_requests_total", "test_latency_seconds"}, From: t0.Add(-40 * time.Hour), To: r.clk.Now()})
	if err != nil {
		t.Fatal(err)
	}
	sum, obs := 0.0, uint64(0)
	var fives, minutes int
	for i, p := range res[0] {
		sum += p.Increase
		obs += res[1][i].Hist.Count
		switch p.End.Sub(p.Start) {
		case 5 * time.Minute:
			fives++
			if minutes > 0 {
				t.Fatalf("a 5-minute step after minutes: %+v", res[0])
			}
		case time.Minute:
			minutes++
		}
		if i > 0 && p.Start.Before(res[0][i-1].End) {
			t.Fatalf("steps overlap: %+v then %+v", res[0][i-1], p)
		}
	}
	if sum != float64(total) || obs != uint64(total) || fives != 4 || minutes != 30 {
		t.Fatalf("%v requests, %d observations in %d 5-minute steps and %d minutes; want %d", sum, obs, fives, minutes, total)
	}
}

func TestReadErrors(t *testing.T) {
	r := newRig(t0.Add(-10 * time.Second))
	st := openStore(t, r.mon, t.TempDir(), func(o *Options) { o.MaxQueryRecords = 100 })
	r.minutes(70)
	if err := st.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	keys := []string{"test_requests_total", "test_temperature_celsius"}
	none := func(int, *Step) {}
	if err := st.Read(ctx, ReadRequest{Series: keys, From: t0, To: t0.Add(time.Hour)}, none); !errors.Is(err, ErrQueryTooLarge) {
		t.Fatalf("120 records: %v", err)
	}
	if res, err := readAll(st, ReadRequest{Series: keys, From: t0, To: t0.Add(40 * time.Minute)}); err != nil || len(res[1]) != 41 {
		t.Fatalf("82 records: %v", err)
	}
	if err := st.Read(ctx, ReadRequest{Series: keys, From: t0.Add(time.Hour), To: t0}, none); !errors.Is(err, ErrRange) {
		t.Fatal(err)
	}
	if err := st.Read(ctx, ReadRequest{Series: keys, To: t0}, none); !errors.Is(err, ErrRange) {
		t.Fatal(err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := st.Read(cctx, ReadRequest{Series: keys, From: t0, To: t0.Add(10 * time.Minute)}, none); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if err := st.Read(ctx, ReadRequest{Series: keys, From: t0, To: t0.Add(time.Hour)}, none); !errors.Is(err, ErrClosed) {
		t.Fatal(err)
	}
}
