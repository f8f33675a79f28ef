package history

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"
)

// TestQueryCache: an identical query (the same plan: from and to may
// differ within a step) is answered from the cache until the next step is
// finished; concurrent identical queries compute once; answers are
// copies.
func TestQueryCache(t *testing.T) {
	r := newRig(t0.Add(-10 * time.Second))
	st := openStore(t, r.mon, t.TempDir(), nil)
	defer st.Close()
	r.minutes(120)
	if err := st.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	hits := func() float64 { return counterValue(t, r.mon.Registry(), "vitals_history_query_cache_hits_total") }
	req := QueryRequest{Series: "test_latency_seconds", Stat: StatP99, From: t0, To: t0.Add(2 * time.Hour), Step: 10 * time.Minute}
	first, err := st.Query(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	req2 := req
	req2.From, req2.To = t0.Add(3*time.Minute), t0.Add(2*time.Hour+20*time.Second) // same plan
	second, err := st.Query(context.Background(), req2)
	if err != nil || hits() != 1 || !slices.Equal(first.Points, second.Points) || !second.To.Equal(req2.To) {
		t.Fatalf("second query: %v, %v hits, to %v", err, hits(), second.To)
	}
	second.Points[0].V = -1
	if third, _ := st.Query(context.Background(), req); third.Points[0].V == -1 {
		t.Fatal("a caller's change reached the cache")
	}
	// 50 at once: one computes, the others wait for it.
	r.minutes(1) // a new step: the cache starts over
	if err := st.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	before := hits()
	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := st.Query(context.Background(), req); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if got := hits() - before; got != 49 {
		t.Fatalf("50 concurrent queries after a new step: %v answered from the cache, want 49", got)
	}
}

// TestQueryRecordBound: a query that would hold more than MaxQueryRecords
// records fails instead of growing without bound.
func TestQueryRecordBound(t *testing.T) {
	r := newRig(t0.Add(-10 * time.Second))
	st := openStore(t, r.mon, t.TempDir(), func(o *Options) { o.MaxQueryRecords = 1000 })
	defer st.Close()
	r.minutes(1100)
	if err := st.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	_, err := st.Query(context.Background(), QueryRequest{Series: "test_requests_total", Stat: StatCount, From: t0, To: t0.Add(20 * time.Hour), Step: time.Minute})
	if !errors.Is(err, ErrQueryTooLarge) {
		t.Fatalf("%v", err)
	}
	if _, err := st.Query(context.Background(), QueryRequest{Series: "test_requests_total", Stat: StatCount, From: t0, To: t0.Add(10 * time.Hour), Step: time.Minute}); err != nil {
		t.Fatal(err)
	}
}
