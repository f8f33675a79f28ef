package window

import (
	"math"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"

	"github.com/bizra/vitals/metric"
)

// TestStackMatchesRings feeds a Stack and one Ring per window the same
// ticks, forward jumps included, and requires the same statistics: the
// derived windows hold exactly what separate rings hold.
func TestStackMatchesRings(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name    string
		lengths []time.Duration
		slots   int
		derived []bool
	}{
		{"defaults", []time.Duration{time.Minute, 5 * time.Minute, 15 * time.Minute, time.Hour}, 20, []bool{false, true, true, true}},
		{"not nesting", []time.Duration{time.Minute, 90 * time.Second, time.Hour}, 20, []bool{false, true, false}},
		{"few slots", []time.Duration{time.Minute, 10 * time.Minute}, 4, []bool{false, false}},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := NewStack(c.lengths, c.slots)
			s.SetPhase(0) // the rings' phase; TestStackPhase covers others
			rings := make([]*Ring, len(c.lengths))
			for i := range s.levels {
				if s.levels[i].derived != c.derived[i] {
					t.Fatalf("level %d derived %v", i, s.levels[i].derived)
				}
				// A ring with the level's slot layout.
				lv := &s.levels[i]
				rings[i] = New(lv.length, len(lv.slots))
				if rings[i].s.levels[0].slotDur != lv.slotDur {
					rings[i] = &Ring{s: Stack{levels: []level{{length: lv.length, slotDur: lv.slotDur, slots: make([]slot, len(lv.slots))}}, last: math.NaN()}}
					for j := range rings[i].s.levels[0].slots {
						rings[i].s.levels[0].slots[j] = emptySlot
					}
				}
			}
			f := newFeeder(11)
			rng := rand.New(rand.NewPCG(3, 4))
			now := t0
			for i := 0; i < 5000; i++ {
				step := time.Second
				switch rng.IntN(500) {
				case 0:
					step = time.Duration(rng.IntN(7200)) * time.Second // a jump forward
				case 1:
					step = 17 * time.Second
				}
				now = now.Add(step)
				d := f.tick(now, rng.IntN(6))
				s.AddHistogram(now, step, d)
				for _, r := range rings {
					r.AddHistogram(now, step, d)
				}
				if i%97 != 0 {
					continue
				}
				for k, r := range rings {
					got, want := s.Stats(now, k), r.Stats(now)
					if got.Count != want.Count || got.Samples != want.Samples || got.Covered != want.Covered ||
						!same(got.P50, want.P50) || !same(got.P99, want.P99) || !same(got.P999, want.P999) ||
						!same(got.Min, want.Min) || !same(got.Max, want.Max) || math.Abs(got.Sum-want.Sum) > 1e-9*math.Abs(want.Sum) {
						t.Fatalf("tick %d window %v:\nstack %+v\nring  %+v", i, c.lengths[k], got, want)
					}
					gh, wh := s.Histogram(now, k), r.Histogram(now)
					if gh.Count != wh.Count || len(gh.Buckets) != len(wh.Buckets) {
						t.Fatalf("tick %d window %v: histogram %d/%d buckets, ring %d/%d", i, c.lengths[k], gh.Count, len(gh.Buckets), wh.Count, len(wh.Buckets))
					}
				}
			}
		})
	}
}

func same(a, b float64) bool { return a == b || (math.IsNaN(a) && math.IsNaN(b)) }

func TestStackClockGoesBack(t *testing.T) {
	t.Parallel()
	s := NewStack([]time.Duration{time.Minute, time.Hour}, 20)
	now := t0
	for i := 0; i < 600; i++ {
		now = now.Add(time.Second)
		s.AddCounter(now, time.Second, 1)
	}
	// Back 30 minutes (less than the hour): kept, ticks count in.
	back := now.Add(-30 * time.Minute)
	s.AddCounter(back, 0, 1)
	if st := s.Stats(back, 1); st.Count != 601 {
		t.Fatalf("after stepping back: %+v", st)
	}
	// Back more than the longest window: everything starts over.
	far := back.Add(-2 * time.Hour)
	s.AddCounter(far, 0, 1)
	if a, b := s.Stats(far, 0), s.Stats(far, 1); a.Count != 1 || b.Count != 1 {
		t.Fatalf("after a big step back: %+v %+v", a, b)
	}
}

func TestStackSteadyStateAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops values under the race detector")
	}
	s := NewStack([]time.Duration{time.Minute, 5 * time.Minute, 15 * time.Minute, time.Hour}, 20)
	f := newFeeder(12)
	var deltas []metric.HistogramValue
	for i := 0; i < 64; i++ {
		deltas = append(deltas, f.tick(t0, 20).Clone())
	}
	now := t0
	i := 0
	step := func() {
		now = now.Add(time.Second)
		s.AddHistogram(now, time.Second, &deltas[i%len(deltas)])
		i++
	}
	for range 2 * 3600 {
		step()
	}
	if n := testing.AllocsPerRun(1000, step); n > 0.01 {
		t.Fatalf("AddHistogram allocates %v times per tick", n)
	}
	if n := testing.AllocsPerRun(100, func() { _ = s.Stats(now, 3) }); n > 0.01 {
		t.Fatalf("Stats allocates %v times", n)
	}
}

func BenchmarkStackAddHistogram(b *testing.B) {
	s := NewStack([]time.Duration{time.Minute, 5 * time.Minute, 15 * time.Minute, time.Hour}, 20)
	f := newFeeder(13)
	var deltas []metric.HistogramValue
	for i := 0; i < 64; i++ {
		deltas = append(deltas, f.tick(t0, 20).Clone())
	}
	now := t0
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		now = now.Add(time.Second)
		s.AddHistogram(now, time.Second, &deltas[i%len(deltas)])
	}
}

func BenchmarkStackStatsHour(b *testing.B) {
	s := NewStack([]time.Duration{time.Minute, 5 * time.Minute, 15 * time.Minute, time.Hour}, 20)
	f := newFeeder(14)
	now := t0
	for i := 0; i < 3600; i++ {
		now = now.Add(time.Second)
		s.AddHistogram(now, time.Second, f.tick(now, 20))
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = s.Stats(now, 3)
	}
}

// BenchmarkStackMemory reports the memory of the default windows (1m, 5m,
// 15m, 1h at 20 slots) after an hour: one counter, and one histogram
// taking 20 lognormal latencies a second (σ = 0.6, about 200 populated
// buckets a minute). The heap figure counts everything the Stack
// allocated and still holds.
//
//	go test -run '^$' -bench BenchmarkStackMemory -benchtime 1x ./window/
func BenchmarkStackMemory(b *testing.B) {
	lengths := []time.Duration{time.Minute, 5 * time.Minute, 15 * time.Minute, time.Hour}
	for range b.N {
		f := newFeeder(15)
		var deltas []metric.HistogramValue
		for range 600 {
			deltas = append(deltas, f.tick(t0, 20).Clone())
		}
		before := heapInUse()
		stacks := make([]*Stack, 50)
		for i := range stacks {
			stacks[i] = NewStack(lengths, 20)
		}
		counters := make([]*Stack, 50)
		for i := range counters {
			counters[i] = NewStack(lengths, 20)
		}
		now := t0
		for s := 0; s < 3600; s++ {
			now = now.Add(time.Second)
			for i, st := range stacks {
				st.AddHistogram(now, time.Second, &deltas[(s+i*7)%len(deltas)])
			}
			for _, st := range counters {
				st.AddCounter(now, time.Second, 3)
			}
		}
		after := heapInUse()
		est := 0
		for _, st := range stacks {
			est += st.MemBytes()
		}
		b.ReportMetric(float64(est)/50/1e3, "KB/histogram-estimated")
		b.ReportMetric(float64(counters[0].MemBytes())/1e3, "KB/counter-estimated")
		b.ReportMetric(float64(after-before)/100/1e3, "KB/series-heap-mixed-half-histograms")
		runtime.KeepAlive(stacks)
		runtime.KeepAlive(counters)
	}
}

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// TestStackPhase: a shifted stack holds what a stack of rings shifted the
// same way would: over one whole coarse slot, every phase gives the same
// windows once they are full, slot for slot, just ending elsewhere.
func TestStackPhase(t *testing.T) {
	t.Parallel()
	lengths := []time.Duration{time.Minute, 5 * time.Minute, 15 * time.Minute, time.Hour}
	for _, phase := range []time.Duration{0, 3 * time.Second, 42 * time.Second, 179 * time.Second, -time.Second, 7200 * time.Second} {
		s := NewStack(lengths, 20)
		s.SetPhase(phase)
		if p := s.Phase(); p < 0 || p >= 180*time.Second || p%(3*time.Second) != 0 {
			t.Fatalf("phase %v became %v", phase, p)
		}
		now := t0
		total := 0.0
		for i := 0; i < 7200; i++ {
			now = now.Add(time.Second)
			s.AddCounter(now, time.Second, 1)
			total++
			if i%311 != 0 {
				continue
			}
			for k, l := range lengths {
				st := s.Stats(now, k)
				lo := float64(min(i+1, int(l/time.Second)*19/20))
				if st.Count < lo || st.Count > float64(min(i+1, int(l/time.Second))) {
					t.Fatalf("phase %v tick %d window %v: count %v", phase, i, l, st.Count)
				}
			}
		}
	}
}
