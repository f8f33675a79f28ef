package stream

import (
	"strings"
	"testing"

	"github.com/bizra/vitals/metric"
)

func TestParseTopic(t *testing.T) {
	r := metric.NewRegistry()
	hits := r.CounterVec(metric.Opts{Name: "vitals_cache_hits_total", Labels: []string{"cache", "tier"}, Help: "h"})
	l1 := hits.With("sessions", "l1")
	_ = l1
	fam := r.Family("vitals_cache_hits_total")
	series := func(vals ...string) *metric.Series {
		hits.With(vals...)
		for _, s := range fam.Series() {
			if strings.Join(s.Values, ",") == strings.Join(vals, ",") {
				return s
			}
		}
		t.Fatal("no series")
		return nil
	}
	sl1, sl2 := series("sessions", "l1"), series("carts", "l2")
	cases := []struct {
		topic, canon string
		l1, l2       bool
	}{
		{"cache", "cache", true, true},
		{"vitals_cache_hits_total", "vitals_cache_hits_total", true, true},
		{"vitals_cache_*", "vitals_cache_*", true, true},
		{"*hits*", "*hits*", true, true},
		{`vitals_cache_hits_total{tier="l1"}`, `vitals_cache_hits_total{tier="l1"}`, true, false},
		{`vitals_cache_hits_total{ tier != "l1" , }`, `vitals_cache_hits_total{tier!="l1"}`, false, true},
		{`vitals_cache_hits_total{tier=~"l.",cache!~"cart.*"}`, `vitals_cache_hits_total{cache!~"cart.*",tier=~"l."}`, true, false},
		{`vitals_cache_hits_total{missing=""}`, `vitals_cache_hits_total{missing=""}`, true, true},
		{"performance", "performance", false, false},
	}
	for _, tc := range cases {
		tp, err := ParseTopic(tc.topic)
		if err != nil {
			t.Errorf("%s: %v", tc.topic, err)
			continue
		}
		if tp.String() != tc.canon {
			t.Errorf("%s: canonical %s, want %s", tc.topic, tp.String(), tc.canon)
		}
		fm := tp.matchFamily(fam)
		if got := fm && tp.matchSeries(fam, sl1); got != tc.l1 {
			t.Errorf("%s: l1 match %v", tc.topic, got)
		}
		if got := fm && tp.matchSeries(fam, sl2); got != tc.l2 {
			t.Errorf("%s: l2 match %v", tc.topic, got)
		}
	}
	for _, bad := range []string{"", "{a=\"b\"}", "9x", "x{", "x{a}", "x{a=b}", `x{a="b"`, `x{a="b"}y`, `x{a=~"("}`,
		`x{1a="b"}`, strings.Repeat("a", MaxTopicLen+1), `x{a="1",b="1",c="1",d="1",e="1",f="1",g="1",h="1",i="1"}`} {
		if _, err := ParseTopic(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

func TestGlobMatch(t *testing.T) {
	for _, tc := range []struct {
		p, n string
		ok   bool
	}{
		{"a*", "abc", true}, {"*c", "abc", true}, {"a*c", "abc", true}, {"a*c", "ac", true},
		{"a*b*c", "aXbYc", true}, {"a*b*c", "acb", false}, {"*", "", true}, {"ab", "abc", false},
		{"a*a", "a", false}, {"**", "x", true},
	} {
		if got := globMatch(tc.p, tc.n); got != tc.ok {
			t.Errorf("globMatch(%q, %q) = %v", tc.p, tc.n, got)
		}
	}
}

func FuzzParseTopic(f *testing.F) {
	for _, s := range []string{"cache", `a{b="c"}`, `x_*{l=~"a|b",m!~".*"}`, "x{", `a{b='c'}`, "a{b=`c`}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tp, err := ParseTopic(s)
		if err != nil {
			return
		}
		// The canonical form parses to itself.
		again, err := ParseTopic(tp.String())
		if err != nil || again.String() != tp.String() {
			t.Fatalf("%q -> %q -> %q, %v", s, tp.String(), again.String(), err)
		}
	})
}

func FuzzParseRequest(f *testing.F) {
	for _, s := range []string{
		`{"type":"subscribe","id":"a","topics":["cache"],"interval_ms":100}`,
		`{"type":"unsubscribe","id":"a"}`, `{"type":"ping"}`, `{`, `[]`, `{"type":"subscribe","id":"a","topics":["x{"]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := parseRequest(b, 32)
		if err != nil {
			if _, ok := err.(*requestError); !ok {
				t.Fatalf("error of type %T", err)
			}
			return
		}
		if r.Type == "subscribe" && (len(r.Topics) == 0 || len(r.Topics) > 32 || r.ID == "") {
			t.Fatalf("accepted %s", b)
		}
	})
}
