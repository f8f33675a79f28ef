package queryapi

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

// FuzzParseRange: any query string is parsed into a valid request or an
// error, never a panic, and a valid request has from <= to.
func FuzzParseRange(f *testing.F) {
	for _, s := range []string{
		"series=x&stat=p99",
		"series=x&stat=p99&from=2026-03-01T00:00:00Z&to=2026-03-02T00:00:00Z&step=5m",
		"series=x&stat=rate&from=1772323200&to=1772409600.5&step=300",
		"series=x&stat=avg&from=now-6h&to=now&step=1h30m",
		"series=x&stat=max&from=-1&step=1e309",
		"series=a%7Bb%3D%22c%22%7D&stat=count&step=0.001",
	} {
		f.Add(s)
	}
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		req, err := parseRange(q, now)
		if err != nil {
			if _, ok := err.(*paramError); !ok {
				t.Fatalf("%q: error of type %T: %v", raw, err, err)
			}
			return
		}
		if req.From.After(req.To) || req.Series == "" || req.Step < 0 || req.Stat == 0 {
			t.Fatalf("%q: accepted %+v", raw, req)
		}
	})
}

// FuzzHandler sends arbitrary query strings to every endpoint: the answer
// is always JSON with a status of 200, 400 or 404, never a 500 or a panic.
func FuzzHandler(f *testing.F) {
	fx := newFixture(f)
	for _, s := range []string{
		"series=http_requests_total&window=5m",
		"series=" + url.QueryEscape(histKey) + "&stat=p999&from=now-1d&step=1m",
		"series=queue_depth&stat=last&from=0&to=1e10&step=1",
		"series=%ff%fe&stat=%00",
		"window=1h&window=5m",
	} {
		f.Add("/api/v1/window", s)
		f.Add("/api/v1/query_range", s)
	}
	f.Add("/api/v1/series", "")
	f.Fuzz(func(t *testing.T, path, raw string) {
		switch path {
		case "/api/v1/window", "/api/v1/query_range", "/api/v1/series":
		default:
			path = "/api/v1/query_range"
		}
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.URL.Path = path
		req.URL.RawQuery = raw
		rec := httptest.NewRecorder()
		fx.h.ServeHTTP(rec, req)
		switch rec.Code {
		case 200, 400, 404:
		default:
			t.Fatalf("%s?%s: status %d: %s", path, raw, rec.Code, rec.Body)
		}
		if !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("%s?%s: invalid JSON: %s", path, raw, rec.Body)
		}
	})
}

// FuzzParseDuration: any string is a duration or an error, never a panic;
// a duration is never negative, and one without days or weeks reads as Go
// reads it.
func FuzzParseDuration(f *testing.F) {
	for _, s := range []string{"90d", "2w", "1d12h", "1.5h", "300ms", "0", "5µs", "1e3s", ".5d", "9223372036854775807ns"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := parseDuration(s)
		if err != nil {
			return
		}
		if d < 0 {
			t.Fatalf("%q: negative %v", s, d)
		}
		if !strings.ContainsAny(s, "dw") {
			if g, gerr := time.ParseDuration(s); gerr == nil && g >= 0 && absDiff(g, d) > time.Microsecond+g/1e9 {
				t.Fatalf("%q: %v, Go reads %v", s, d, g)
			}
		}
	})
}

func absDiff(a, b time.Duration) time.Duration {
	if a > b {
		return a - b
	}
	return b - a
}
