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
		{Name: "utilization", Observed: 0.5, Unit: "ratio", Target: 0.7, Limit: 1, Weight: 1, Advice: "raise MaxOpenConns"},
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

// TestCombineOrdersByImpact is an open breaker next to a checkout error
// ratio a little over budget: the breaker's advice leads the overall
// recommendations, whatever order the components came in.
func TestCombineOrdersByImpact(t *testing.T) {
	slo := New("slo", []Factor{
		{Name: "checkout errors", Unit: "ratio", Observed: 0.024, Target: 0.01, Limit: 0.05, Weight: 1, Advice: "checkout failed 2.4%"},
		{Name: "checkout p99", Unit: "seconds", Observed: 0.1, Target: 0.5, Limit: 2, Weight: 1},
	})
	brk := New("breaker", []Factor{
		{Name: "state", Observed: 1, Target: 0, Limit: 1, Weight: 3, Advice: "the payments circuit is open"},
		{Name: "failure_rate", Unit: "ratio", Observed: 0.3, Target: 0.25, Limit: 0.5, Weight: 2, Advice: "payments fail 30%"},
	})
	nested := Score{Component: "nested", Value: 70, Status: Warn, Recommendations: []string{"hand-built advice"}}
	s := Combine("overall", []Score{slo, nested, brk}, nil)
	want := []string{"the payments circuit is open", "checkout failed 2.4%", "hand-built advice", "payments fail 30%"}
	if fmt.Sprint(s.Recommendations) != fmt.Sprint(want) {
		t.Fatalf("recommendations %q, want %q", s.Recommendations, want)
	}
}

// TestOneRoundingOneShape: factor scores are rounded to 0.1 where they are
// computed, and a score encodes the same JSON wherever it is served, with
// null for what is not a number.
func TestOneRoundingOneShape(t *testing.T) {
	s := New("c", []Factor{
		{Name: "a", Unit: "ratio", Observed: 0.123456, Target: 0.1, Limit: 0.2, Weight: 1, Advice: "a"},
		{Name: "b", Observed: math.NaN(), Target: math.Inf(1), Weight: 1},
	})
	if s.Factors[0].Score != 76.5 {
		t.Fatalf("factor score %v, want 76.5 (76.544 rounded)", s.Factors[0].Score)
	}
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"component":"c","score":76.5,"status":"warn","factors":[` +
		`{"name":"a","observed":0.123456,"unit":"ratio","target":0.1,"limit":0.2,"weight":1,"score":76.5,"advice":"a"},` +
		`{"name":"b","observed":null,"unit":"","target":null,"limit":0,"weight":1,"score":100,"no_data":true}],` +
		`"recommendations":["a"]}`
	if string(b) != want {
		t.Fatalf("JSON\n%s\nwant\n%s", b, want)
	}
	if b, _ := json.Marshal(Score{}); string(b) != `{"component":"","score":0,"status":"pass","factors":[],"recommendations":[]}` {
		t.Fatalf("zero score %s", b)
	}
}
