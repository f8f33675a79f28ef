package metric

import (
	"errors"
	"strings"
	"testing"
)

func TestValidateName(t *testing.T) {
	for _, ok := range []string{"a", "_a", "a:b", "http_requests_total", "A9_:"} {
		if err := ValidateName(ok); err != nil {
			t.Errorf("ValidateName(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"", "9a", "a-b", "a b", "é", "a\n", strings.Repeat("a", 201)} {
		if err := ValidateName(bad); !errors.Is(err, ErrInvalidName) {
			t.Errorf("ValidateName(%q) = %v, want ErrInvalidName", bad, err)
		}
	}
	for _, bad := range []string{"", "__name__", "le", "quantile", "a:b", "1a", strings.Repeat("a", 101)} {
		if err := ValidateLabelName(bad); !errors.Is(err, ErrInvalidName) {
			t.Errorf("ValidateLabelName(%q) = %v, want ErrInvalidName", bad, err)
		}
	}
}

// FuzzValidateName checks that validation never panics and that every
// accepted name is plain ASCII a Prometheus server accepts unquoted.
func FuzzValidateName(f *testing.F) {
	for _, s := range []string{"http_requests_total", "a:b", "9", "", "é", "__x", "le"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if ValidateName(s) == nil {
			for i := 0; i < len(s); i++ {
				c := s[i]
				if !(c == '_' || c == ':' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9') {
					t.Fatalf("accepted %q", s)
				}
			}
			if s == "" {
				t.Fatal("accepted empty name")
			}
		}
		if ValidateLabelName(s) == nil && (strings.HasPrefix(s, "__") || strings.Contains(s, ":") || s == "le") {
			t.Fatalf("accepted label %q", s)
		}
	})
}

// FuzzLabelValues checks that any label values, valid UTF-8 or not, give a
// series whose rendered labels parse back to the same (sanitised) values.
func FuzzLabelValues(f *testing.F) {
	f.Add("GET", "/users")
	f.Add("a\"b\\c\nd", "\xff\xfe")
	f.Add("", "")
	f.Fuzz(func(t *testing.T, a, b string) {
		reg := NewRegistry()
		v := reg.CounterVec(Opts{Name: "x_total", Help: "x", Labels: []string{"a", "b"}, MaxSeries: 10})
		c := v.With(a, b)
		c.Inc()
		if v.With(a, b) != c {
			t.Fatal("same values gave another series")
		}
		s := v.Family().Series()[0]
		for _, val := range s.Values {
			if !utf8Valid(val) {
				t.Fatalf("invalid UTF-8 kept: %q", val)
			}
		}
	})
}

func utf8Valid(s string) bool { return strings.ToValidUTF8(s, "") == s }
