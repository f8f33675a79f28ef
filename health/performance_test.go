package health

import (
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
