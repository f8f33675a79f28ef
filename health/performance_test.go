package health

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/bizra/vitals/score"
)

func TestScorerPanicsAndBadValues(t *testing.T) {
	t.Parallel()
	var logs logBuffer
	f := newFixture(t, &Options{Logger: newTextLogger(&logs)})
	must(f.e.AddScorer("bad", ScorerFunc(func() score.Score { panic("token=abc leaked") })))
	must(f.e.AddScorer("nan", ScorerFunc(func() score.Score { return score.Score{Value: math.NaN()} })))
	sub := f.e.Subscribe(8)
	defer sub.Close()
	r := f.e.RefreshScores()
	if r.Components[2].Status != score.Fail || r.Components[2].Value != 0 || strings.Contains(r.Components[2].Recommendations[0], "abc") {
		t.Fatalf("panicking scorer %+v", r.Components[2])
	}
	if r.Components[3].Status != score.Fail || r.Components[3].Value != 0 || r.Components[3].Component != "nan" {
		t.Fatalf("NaN scorer %+v", r.Components[3])
	}
	if strings.Contains(logs.String(), "abc") || !strings.Contains(logs.String(), "scorer panicked") {
		t.Fatalf("log %s", logs.String())
	}
	if p, _ := f.m.Collect().Lookup("vitals_health_score", "bad"); p == nil || p.Value != 0 {
		t.Fatalf("score gauge %v", p)
	}
	// Cached: a second read within ScoreInterval does not recompute.
	if again := f.e.Performance(); again.Time != r.Time {
		t.Fatal("Performance recomputed a fresh report")
	}
	f.clk.Advance(21 * time.Second)
	if again := f.e.Performance(); !again.Time.After(r.Time) {
		t.Fatal("Performance kept a stale report")
	}
}

// TestPerformanceOutputIsTheWorst is an open breaker next to a checkout
// error ratio a little over budget, added in that order after the SLO:
// the overall output and the first recommendation name the breaker.
func TestPerformanceOutputIsTheWorst(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	must(f.e.AddScorer("checkout", ScorerFunc(func() score.Score {
		return score.New("", []score.Factor{{Name: "errors", Unit: "ratio", Observed: 0.024, Target: 0.01, Limit: 0.05, Weight: 1,
			Advice: "checkout failed 2.4% of calls"}})
	})))
	must(f.e.AddScorer("breaker:payments", ScorerFunc(func() score.Score {
		return score.New("", []score.Factor{{Name: "state", Observed: 1, Target: 0, Limit: 1, Weight: 3,
			Advice: "the payments circuit is open"}})
	})))
	rep := f.e.RefreshScores()
	if len(rep.Overall.Recommendations) < 2 || rep.Overall.Recommendations[0] != "the payments circuit is open" ||
		rep.Overall.Recommendations[1] != "checkout failed 2.4% of calls" {
		t.Fatalf("recommendations %q", rep.Overall.Recommendations)
	}
	w := serve(f.e.Handler(), "GET", "/health/performance", nil)
	var doc struct{ Output string }
	if err := json.Unmarshal(w.Body.Bytes(), &doc); err != nil || doc.Output != "the payments circuit is open" {
		t.Fatalf("output %q (%v): %s", doc.Output, err, w.Body)
	}
}
