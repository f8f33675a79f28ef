package top

import (
	"strings"
	"testing"
	"time"
)

// FuzzRender feeds names from the service (outside input) and screen
// sizes: no line is wider than the screen or carries a control character.
func FuzzRender(f *testing.F) {
	f.Add("checkout", "l1", uint8(80), uint8(24), "che")
	f.Add("\x1b[2J\x1b]0;x\x07", "\xff", uint8(1), uint8(1), "")
	f.Add("宽字符宽字符", "e\u0301", uint8(13), uint8(5), "宽")
	f.Fuzz(func(t *testing.T, name, tier string, w, h uint8, filter string) {
		snap := Snapshot{Time: time.Unix(1, 0),
			Ops:      []Op{{Name: name, Rate: 1, P50: 0.1, P99: 0.2, Errs: 0}},
			Pools:    []Pool{{Name: name}},
			Caches:   []Tier{{Cache: name, Tier: tier}},
			Breakers: []Breaker{{Name: name, State: tier}},
			Alerts:   []Alert{{Name: name, Summary: tier, State: "firing"}},
		}
		lines := Render(snap, View{Filter: filter, Target: name}, int(w), int(h))
		if len(lines) != int(h) && w > 0 {
			t.Fatalf("%d lines, want %d", len(lines), h)
		}
		for _, l := range lines {
			if textWidth(l.Text) > int(w) || strings.ContainsAny(l.Text, "\x1b\x07\x00") {
				t.Fatalf("line %q at width %d", l.Text, w)
			}
		}
	})
}

// FuzzParseKeys feeds terminal input: every byte sequence parses and
// leaves the view usable.
func FuzzParseKeys(f *testing.F) {
	for _, s := range []string{"q", "/abc\r", "\x1b[A", "\x1b", "\x1b[", "\xff\xfe", "é\x7f"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var v View
		for _, k := range ParseKeys(b) {
			v.Handle(k)
		}
		if len(v.Filter) > maxFilter+4 {
			t.Fatalf("filter grew to %d bytes", len(v.Filter))
		}
	})
}
