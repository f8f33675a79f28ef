package httpx

import (
	"encoding/json"
	"math"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestWriteError(t *testing.T) {
	rec := httptest.NewRecorder()
	WriteError(rec, httptest.NewRequest("GET", "/x", nil), 400, `bad "step"`)
	if rec.Code != 400 || rec.Header().Get("Content-Type") != ContentTypeJSON {
		t.Fatalf("code %d, type %q", rec.Code, rec.Header().Get("Content-Type"))
	}
	var got map[string]string
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || got["error"] != `bad "step"` {
		t.Fatalf("body %q: %v", rec.Body, err)
	}
}

func TestWriteJSONHeadAndEncodeFailure(t *testing.T) {
	rec := httptest.NewRecorder()
	WriteJSON(rec, httptest.NewRequest("HEAD", "/x", nil), 200, map[string]int{"a": 1})
	if rec.Code != 200 || rec.Body.Len() != 0 || rec.Header().Get("Content-Length") == "0" {
		t.Fatalf("HEAD: code %d, body %q, length %q", rec.Code, rec.Body, rec.Header().Get("Content-Length"))
	}
	rec = httptest.NewRecorder()
	WriteJSON(rec, httptest.NewRequest("GET", "/x", nil), 200, math.NaN())
	if rec.Code != 500 {
		t.Fatalf("NaN body: code %d, want 500", rec.Code)
	}
}

func TestFinite(t *testing.T) {
	if Finite(math.NaN()) != nil || Finite(math.Inf(1)) != nil || *Finite(2) != 2 {
		t.Fatal("Finite")
	}
	if ZeroNaN(math.Inf(-1)) != 0 || ZeroNaN(3) != 3 {
		t.Fatal("ZeroNaN")
	}
}

func TestToken(t *testing.T) {
	req := func(h string) *http.Request {
		r := httptest.NewRequest("GET", "/", nil)
		if h != "" {
			r.Header.Set("Authorization", h)
		}
		return r
	}
	var none *Token
	if !none.Allow(req("")) || !NewToken("").Allow(req("")) {
		t.Fatal("no token configured must allow")
	}
	tok := NewToken("0123456789abcdef-secret")
	for _, tc := range []struct {
		h    string
		want bool
	}{
		{"Bearer 0123456789abcdef-secret", true},
		{"bearer  0123456789abcdef-secret ", true},
		{"Bearer 0123456789abcdef-secreT", false},
		{"Bearer 0123", false},
		{"Basic 0123456789abcdef-secret", false},
		{"", false},
	} {
		if got := tok.Allow(req(tc.h)); got != tc.want {
			t.Errorf("Allow(%q) = %v, want %v", tc.h, got, tc.want)
		}
	}
}
