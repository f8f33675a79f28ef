package score

import (
	"encoding/json"
	"fmt"
	"math"
	"testing"
)

func TestLinear(t *testing.T) {
	cases := []struct{ obs, target, limit, want float64 }{
		{0, 0.05, 0.5, 100},
		{0.05, 0.05, 0.5, 100},
		{0.275, 0.05, 0.5, 50},
		{0.5, 0.05, 0.5, 0},
		{9, 0.05, 0.5, 0},
		{0.95, 0.9, 0.5, 100}, // hit ratio: higher is better
		{0.7, 0.9, 0.5, 50},
		{0.1, 0.9, 0.5, 0},
		{math.NaN(), 0, 1, 0},
		{1, 2, 2, 100},
		{2, 2, 2, 0},
	}
	for _, c := range cases {
		if got := Linear(c.obs, c.target, c.limit); math.Abs(got-c.want) > 1e-9 {
			t.Errorf("Linear(%v, %v, %v) = %v, want %v", c.obs, c.target, c.limit, got, c.want)
		}
	}
}

func TestNewExplains(t *testing.T) {
	s := New("db", []Factor{
		{Name: "utilisation", Observed: 0.5, Unit: "ratio", Target: 0.7, Limit: 1, Weight: 1, Advice: "raise MaxOpenConns"},
		{Name: "wait_p99", Observed: 0.275, Unit: "seconds", Target: 0.05, Limit: 0.5, Weight: 1, Advice: "pool wait p99 is high"},
		{Name: "errors", Observed: math.NaN(), Weight: 1, Advice: "never shown"},
	})
	if s.Value != 75 || s.Status != Warn {
		t.Fatalf("score %v %v, want 75 warn", s.Value, s.Status)
	}
	if len(s.Recommendations) != 1 || s.Recommendations[0] != "pool wait p99 is high" {
		t.Fatalf("recommendations %v", s.Recommendations)
	}
	if !s.Factors[2].NoData {
		t.Fatal("NaN factor not marked NoData")
	}
	if _, err := json.Marshal(s); err != nil {
		t.Fatalf("a score with a NoData factor does not encode: %v", err)
	}
	// One exhausted factor fails the component.
	s = New("db", []Factor{
		{Name: "a", Observed: 1, Target: 0.7, Limit: 1, Weight: 1},
		{Name: "b", Observed: 0, Target: 0.7, Limit: 1, Weight: 5},
	})
	if s.Status != Fail {
		t.Fatalf("exhausted factor did not fail: %v %v", s.Value, s.Status)
	}
	if s := New("idle", nil); s.Value != 100 || s.Status != Pass {
		t.Fatalf("empty component %v %v", s.Value, s.Status)
	}
}

func TestCombine(t *testing.T) {
	a := Score{Component: "db", Value: 40, Status: Fail, Recommendations: []string{"fix db"}}
	b := Score{Component: "cache", Value: 100, Status: Pass}
	s := Combine("system", []Score{a, b}, map[string]float64{"db": 3})
	if s.Value != 55 || s.Status != Fail || len(s.Recommendations) != 1 {
		t.Fatalf("combined %+v", s)
	}
	s = Combine("system", []Score{a, b}, map[string]float64{"db": 0})
	if s.Value != 100 || s.Status != Pass {
		t.Fatalf("a component weighted 0 decided the result: %+v", s)
	}
}

func ExampleNew() {
	s := New("db", []Factor{{Name: "wait_p99", Unit: "seconds", Observed: 0.12, Target: 0.05, Limit: 0.25, Weight: 2,
		Advice: "pool wait p99 is " + FormatSeconds(0.12) + " against a 50 ms target: raise MaxOpenConns or shorten transactions"}})
	fmt.Println(s.Value, s.Status)
	fmt.Println(s.Recommendations[0])
	// Output:
	// 65 warn
	// pool wait p99 is 120 ms against a 50 ms target: raise MaxOpenConns or shorten transactions
}

func TestNeedsAdvice(t *testing.T) {
	cases := []struct {
		f    Factor
		want bool
	}{
		{Factor{Observed: 0.01, Target: 0.05, Limit: 0.5}, false},
		{Factor{Observed: 0.2, Target: 0.05, Limit: 0.5}, true},
		{Factor{Observed: math.NaN(), Target: 0.05, Limit: 0.5}, false},
		{Factor{Observed: 0.2, Target: 0.05, Limit: 0.5, NoData: true}, false},
	}
	for _, c := range cases {
		if got := c.f.NeedsAdvice(); got != c.want {
			t.Errorf("%+v: NeedsAdvice %v, want %v", c.f, got, c.want)
		}
	}
	if f := (Factor{Observed: math.NaN(), Advice: "stale"}).Rate(); f.Advice != "" {
		t.Fatalf("a NoData factor kept its advice %q", f.Advice)
	}
}
