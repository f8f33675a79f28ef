package ottermon

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/maypok86/otter/v2"
	"go.uber.org/goleak"

	"github.com/bizra/vitals"
	"github.com/bizra/vitals/cache"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakeClock drives otter's expiry; a nil Tick channel means no periodic
// clean-up goroutine.
type fakeClock struct{ ns atomic.Int64 }

func (c *fakeClock) NowNano() int64                      { return c.ns.Load() }
func (c *fakeClock) Tick(time.Duration) <-chan time.Time { return nil }
func (c *fakeClock) advance(d time.Duration)             { c.ns.Add(int64(d)) }

func TestCountsAndCauses(t *testing.T) {
	m := vitals.New(nil)
	mon := cache.New(m, "sessions", nil)
	clk := &fakeClock{}
	var userDeletions atomic.Int64
	o := &otter.Options[string, string]{
		MaximumSize:      5,
		ExpiryCalculator: otter.ExpiryWriting[string, string](time.Minute),
		Executor:         func(fn func()) { fn() }, // maintenance inline: deterministic
		Clock:            clk,
		OnAtomicDeletion: func(otter.DeletionEvent[string, string]) { userDeletions.Add(1) },
	}
	Instrument(mon, o, nil)
	oc, err := otter.New(o)
	if err != nil {
		t.Fatal(err)
	}
	defer oc.StopAllGoroutines()
	Bind(mon, oc, &Options{WeightIsBytes: true}) // not weighted: no memory gauge

	oc.Set("a", "1")
	oc.Set("a", "2") // replaced
	oc.Set("b", "1")
	oc.Invalidate("b") // explicit
	oc.GetIfPresent("a")
	oc.GetIfPresent("zz")
	if _, err := oc.Get(context.Background(), "loaded", otter.LoaderFunc[string, string](func(context.Context, string) (string, error) {
		return "v", nil
	})); err != nil {
		t.Fatal(err)
	}
	if _, err := oc.Get(context.Background(), "broken", otter.LoaderFunc[string, string](func(context.Context, string) (string, error) {
		return "", errors.New("origin down")
	})); err == nil {
		t.Fatal("failed load succeeded")
	}
	clk.advance(2 * time.Minute)
	oc.CleanUp() // "a" and "loaded" expire
	for _, k := range []string{"c", "d", "e", "f", "g", "h", "i", "j"} {
		oc.Set(k, "x")
	}
	oc.CleanUp() // over MaximumSize: evicted for size

	s := m.Collect()
	ts := mon.Counts(cache.L1)
	if ts.Hits != 1 || ts.Misses != 3 {
		t.Fatalf("hits %d misses %d, want 1 and 3 (two misses loaded)", ts.Hits, ts.Misses)
	}
	if ts.EvictionsBy(cache.CauseReplaced) != 1 || ts.EvictionsBy(cache.CauseExplicit) != 1 ||
		ts.EvictionsBy(cache.CauseExpired) != 2 || ts.EvictionsBy(cache.CauseSize) != 3 {
		t.Fatalf("evictions by cause %v", ts.Evictions)
	}
	if userDeletions.Load() != 7 {
		t.Fatalf("the user's OnAtomicDeletion saw %d deletions, want 7", userDeletions.Load())
	}
	p, ok := s.Lookup("vitals_cache_entries", "sessions", "l1")
	if !ok || p.Value != 5 {
		t.Fatalf("entries %v %v", p, ok)
	}
	if _, ok := s.Lookup("vitals_cache_memory_bytes", "sessions", "l1"); ok {
		t.Fatal("memory exported for an unweighted cache")
	}
	st := oc.Stats() // otter's own call answers from the monitor
	if st.Hits != 1 || st.Misses != 3 || st.LoadSuccesses != 1 || st.LoadFailures != 1 || st.Evictions != 5 || st.TotalLoadTime < 0 {
		t.Fatalf("otter Stats %+v", st)
	}
}

func TestSkipLookupsAndWeight(t *testing.T) {
	m := vitals.New(nil)
	mon := cache.New(m, "pages", &cache.Options{Tiers: 2})
	o := &otter.Options[string, []byte]{MaximumWeight: 1 << 20, Weigher: func(_ string, v []byte) uint32 { return uint32(len(v)) },
		Executor: func(fn func()) { fn() }}
	Instrument(mon, o, &Options{SkipLookups: true, Tier: cache.L2})
	oc, err := otter.New(o)
	if err != nil {
		t.Fatal(err)
	}
	defer oc.StopAllGoroutines()
	Bind(mon, oc, &Options{Tier: cache.L2, WeightIsBytes: true})
	oc.Set("k", make([]byte, 300))
	oc.GetIfPresent("k")
	oc.GetIfPresent("nope")
	if ts := mon.Counts(cache.L2); ts.Hits != 0 || ts.Misses != 0 {
		t.Fatalf("skipped lookups counted: %+v", ts)
	}
	s := m.Collect()
	if p, ok := s.Lookup("vitals_cache_memory_bytes", "pages", "l2"); !ok || p.Value != 300 {
		t.Fatalf("memory %v %v", p, ok)
	}
	if CauseOf(otter.DeletionCause(99)) != cache.CauseSize || CauseOf(otter.CauseOverflow) != cache.CauseSize {
		t.Fatal("CauseOf")
	}
	NewRecorder(mon, nil).RecordEviction(3) // no-op by design
}

func TestRecorderNeverAllocates(t *testing.T) {
	mon := cache.New(vitals.New(nil), "x", nil)
	r := NewRecorder(mon, nil)
	if a := testing.AllocsPerRun(1000, func() {
		r.RecordHits(1)
		r.RecordMisses(1)
	}); a != 0 {
		t.Fatalf("allocs %v", a)
	}
}
