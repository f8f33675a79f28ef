package cache

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/bizra/vitals"
	"github.com/bizra/vitals/score"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func newTest(t *testing.T, o *Options) (*vitals.Monitor, *vitals.ManualClock, *Cache) {
	t.Helper()
	clk := vitals.NewManualClock(t0)
	m := vitals.New(&vitals.Options{Clock: clk})
	return m, clk, New(m, "products", o)
}

func value(t *testing.T, s *vitals.Snapshot, name string, labels ...string) float64 {
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
	m, _, _ := newTest(t, &Options{Tiers: 2})
	s := m.Collect()
	for _, tier := range []string{"l1", "l2"} {
		for _, name := range []string{"vitals_cache_hits_total", "vitals_cache_misses_total", "vitals_cache_sets_total",
			"vitals_cache_errors_total", "vitals_cache_raw_bytes_total", "vitals_cache_stored_bytes_total"} {
			if v := value(t, s, name, "products", tier); v != 0 {
				t.Errorf("%s{%s} = %v, want 0", name, tier, v)
			}
		}
		for _, cause := range []string{"size", "expired", "explicit", "replaced"} {
			value(t, s, "vitals_cache_evictions_total", "products", tier, cause)
		}
	}
	for _, by := range []string{"l1", "l2", "origin"} {
		value(t, s, "vitals_cache_lookup_duration_seconds", "products", by)
	}
	value(t, s, "vitals_cache_loads_total", "products", "success")
	value(t, s, "vitals_cache_loads_total", "products", "failure")
	if v := value(t, s, "vitals_cache_score", "products"); v != 100 {
		t.Errorf("score with no data = %v, want 100", v)
	}
	for _, f := range factorNames {
		value(t, s, "vitals_cache_score_factor", "products", f)
	}
	// Sizes are not known until bound: not exported, rather than a false 0.
	if _, ok := s.Lookup("vitals_cache_entries", "products", "l1"); ok {
		t.Error("vitals_cache_entries exported before SetSizeFuncs")
	}
}

func TestOneTierHasNoL2Series(t *testing.T) {
	m, _, c := newTest(t, nil)
	lk := c.Begin()
	lk.End(L2) // a one-tier cache told about L2 must not crash or export it
	c.Set(L2, 10, 5)
	s := m.Collect()
	if _, ok := s.Lookup("vitals_cache_hits_total", "products", "l2"); ok {
		t.Fatal("one-tier cache exports l2 series")
	}
	if _, ok := s.Lookup("vitals_cache_lookup_duration_seconds", "products", "l2"); ok {
		t.Fatal("one-tier cache exports l2 latency")
	}
	if v := value(t, s, "vitals_cache_misses_total", "products", "l1"); v != 1 {
		t.Fatalf("l1 misses = %v, want 1", v)
	}
}

func TestEndCountsEveryTierOnTheWay(t *testing.T) {
	m, clk, c := newTest(t, &Options{Tiers: 2, LatencySampleEvery: 1})
	m.Collect()
	clk.Advance(time.Second)
	for range 6 {
		c.Begin().End(L1)
	}
	for range 3 {
		c.Begin().End(L2)
	}
	c.Begin().End(Origin)
	c.Begin().End(Tier(9)) // unknown: an origin answer
	s := m.Collect()
	want := map[string]float64{"hits/l1": 6, "misses/l1": 5, "hits/l2": 3, "misses/l2": 2}
	for k, w := range want {
		name, tier, _ := strings.Cut(k, "/")
		if v := value(t, s, "vitals_cache_"+name+"_total", "products", tier); v != w {
			t.Errorf("%s{%s} = %v, want %v", name, tier, v, w)
		}
	}
	for by, w := range map[string]float64{"l1": 6, "l2": 3, "origin": 2} {
		if v := value(t, s, "vitals_cache_lookup_duration_seconds", "products", by); v != w {
			t.Errorf("timed lookups answered by %s = %v, want %v", by, v, w)
		}
	}
	st := c.Stats()
	if st.Lookups != 11 || math.Abs(st.HitRatio-9.0/11) > 1e-9 || math.Abs(st.LifetimeHitRatio-9.0/11) > 1e-9 {
		t.Fatalf("lookups %v hit ratio %v lifetime %v, want 11, 9/11", st.Lookups, st.HitRatio, st.LifetimeHitRatio)
	}
	if st.Tier[1].HitRatio != 0.6 || st.Tier[0].HitRatio != 6.0/11 {
		t.Fatalf("per-tier hit ratios %v %v", st.Tier[0].HitRatio, st.Tier[1].HitRatio)
	}
	if st.LookupRate != 11 { // 11 lookups in the one second covered
		t.Fatalf("lookup rate %v, want 11/s", st.LookupRate)
	}
}

func TestSampledTiming(t *testing.T) {
	m, _, c := newTest(t, &Options{LatencySampleEvery: 5}) // rounds up to 8
	const n = 80000
	for range n {
		c.Begin().End(L1)
	}
	s := m.Collect()
	timed := value(t, s, "vitals_cache_lookup_duration_seconds", "products", "l1")
	if timed < n/8*0.8 || timed > n/8*1.2 {
		t.Fatalf("%v of %d lookups timed, want about 1 in 8", timed, n)
	}
	if v := value(t, s, "vitals_cache_hits_total", "products", "l1"); v != n {
		t.Fatalf("hits %v, want every lookup counted (%d)", v, n)
	}
}

func TestBytesEvictionsSizesAndScore(t *testing.T) {
	m, clk, c := newTest(t, &Options{Tiers: 2})
	m.Collect()
	entries := 42.0
	c.SetSizeFuncs(L1, func() float64 { return entries }, func() float64 { return 4096 })
	c.SetSizeFuncs(Origin, func() float64 { return 1 }, nil) // not a tier: ignored
	c.Set(L2, 1000, 250)
	c.Set(L2, 1000, 250)
	c.Set(L1, 100, 100)
	c.Evict(L1, CauseSize)
	c.Evict(L1, CauseExpired)
	c.Evict(L1, Cause(200)) // unknown: ignored
	c.Error(L2)
	c.ObserveLoad(3*time.Millisecond, nil)
	c.ObserveLoad(time.Millisecond, errString("down"))
	for range 10 {
		c.Begin().End(Origin)
	}
	clk.Advance(time.Second)
	s := m.Collect()
	if v := value(t, s, "vitals_cache_entries", "products", "l1"); v != 42 {
		t.Fatalf("entries %v", v)
	}
	if v := value(t, s, "vitals_cache_memory_bytes", "products", "l1"); v != 4096 {
		t.Fatalf("memory %v", v)
	}
	if v := value(t, s, "vitals_cache_loads_total", "products", "failure"); v != 1 {
		t.Fatalf("failed loads %v", v)
	}
	st := c.Stats()
	l2 := st.Tier[1]
	if l2.RawBytes != 2000 || l2.StoredBytes != 500 || l2.CompressionRatio != 4 || l2.Sets != 2 {
		t.Fatalf("l2 bytes: %+v", l2)
	}
	if st.Tier[0].EvictionsBy(CauseSize) != 1 || st.Tier[0].EvictionsBy(CauseExpired) != 1 || st.Tier[0].EvictionsBy(Cause(9)) != 0 {
		t.Fatalf("evictions %v", st.Tier[0].Evictions)
	}
	if st.Tier[0].Entries != 42 || !math.IsNaN(st.Tier[1].Entries) {
		t.Fatalf("entries l1 %v l2 %v", st.Tier[0].Entries, st.Tier[1].Entries)
	}
	if st.Loads != 2 || st.LoadFailures != 1 {
		t.Fatalf("loads %v failures %v", st.Loads, st.LoadFailures)
	}
	// Every lookup went to the origin: the hit ratio factor is at 0 and
	// caps the score below fail.
	sc := c.Score()
	if sc.Status != score.Fail || sc.Factors[factorHitRatio].Score != 0 || len(sc.Recommendations) == 0 {
		t.Fatalf("score %+v", sc)
	}
	if v := value(t, m.Collect(), "vitals_cache_score_factor", "products", "hit_ratio"); v != 0 {
		t.Fatalf("hit_ratio factor metric %v", v)
	}
	// The window forgets: a minute later with only hits, the score recovers.
	clk.Advance(2 * time.Minute)
	for range 100 {
		c.Begin().End(L1)
	}
	m.Collect()
	if sc := c.Score(); sc.Value != 100 {
		t.Fatalf("score after recovery %+v", sc)
	}
}

type errString string

func (e errString) Error() string { return string(e) }

func TestRecordingNeverAllocates(t *testing.T) {
	_, _, c := newTest(t, &Options{Tiers: 2, LatencySampleEvery: 2})
	for range 100 { // warm histogram shards
		c.Begin().End(L1)
		c.Begin().End(L2)
		c.Begin().End(Origin)
	}
	allocs := testing.AllocsPerRun(1000, func() {
		lk := c.Begin()
		lk.End(L1)
		c.Begin().End(L2)
		c.Begin().End(Origin)
		c.Hit(L1)
		c.Miss(L2)
		c.Set(L2, 100, 40)
		c.Evict(L1, CauseReplaced)
		c.Error(L2)
	})
	if allocs != 0 {
		t.Fatalf("recording allocates %v times per run, want 0", allocs)
	}
}

func TestStringsAndNamePanics(t *testing.T) {
	if L1.String() != "l1" || L2.String() != "l2" || Origin.String() != "origin" {
		t.Fatal("tier strings")
	}
	if CauseReplaced.String() != "replaced" || Cause(99).String() != "unknown" {
		t.Fatal("cause strings")
	}
	defer func() {
		if recover() == nil {
			t.Fatal("New with an empty name did not panic")
		}
	}()
	New(vitals.New(nil), "", nil)
}

// TestErrorRatioIsARatio is an L2 that is down: every lookup misses both
// tiers with an error, and the write back after the origin load fails too.
// Two errors per lookup are still every tier operation failing: 100%,
// never "fail 200% of lookups".
func TestErrorRatioIsARatio(t *testing.T) {
	m, clk, c := newTest(t, &Options{Tiers: 2, LatencySampleEvery: 1})
	m.Collect()
	clk.Advance(time.Second)
	for range 10 {
		c.Begin().End(Origin)
		c.Error(L2) // GET failed
		c.Set(L1, 10, 10)
		c.Set(L2, 10, 10)
		c.Error(L2) // SET failed
	}
	m.Collect()
	st := c.Stats()
	// L1: 10 lookups + 10 sets, no error; L2: 10 lookups + 10 sets, 20 errors.
	if st.ErrorRate != 0.5 || st.Tier[1].ErrorRate != 1 || st.Tier[0].ErrorRate != 0 {
		t.Fatalf("error ratios: overall %v, l1 %v, l2 %v", st.ErrorRate, st.Tier[0].ErrorRate, st.Tier[1].ErrorRate)
	}
	f := st.Score.Factors[factorErrorRate]
	if f.Observed != 0.5 || f.Score != 0 || !strings.HasPrefix(f.Advice, "50.0% of operations") {
		t.Fatalf("error factor %+v", f)
	}
	// Errors counted for operations recorded nowhere else still give a ratio.
	for range 50 {
		c.Error(L2)
	}
	clk.Advance(time.Second)
	m.Collect()
	if st := c.Stats(); st.ErrorRate > 1 || st.Tier[1].ErrorRate > 1 {
		t.Fatalf("ratio above 1: %v %v", st.ErrorRate, st.Tier[1].ErrorRate)
	}
}
