package health

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/bizra/vitals/internal/httpx"
)

// FuzzProbeQuery feeds arbitrary paths and query strings to the health
// handler: every answer is 200, 503, 400 or 404 with the right content
// type and a well-formed body; never 500, never a panic.
func FuzzProbeQuery(f *testing.F) {
	for _, s := range [][2]string{
		{"/readyz", ""},
		{"/readyz", "verbose"},
		{"/livez", "verbose=true&exclude=collector"},
		{"/health/ready", "exclude=a,b,,c&exclude=d"},
		{"/readyz/pool", "verbose=0"},
		{"/health/performance", "verbose"},
		{"/readyz", "exclude=%zz"},
		{"/readyz", "verbose=%"},
		{"/readyz", "exclude=" + strings.Repeat("x,", 120)},
		{"/livez/", ";;&&=="},
		{"/health/live/\x00", "exclude=\xff"},
	} {
		f.Add(s[0], s[1])
	}
	fx := newFixture(f, nil)
	must(fx.e.AddCheck(Check{Name: "pool", Func: func(context.Context) Result { return Failf("x") }}))
	fx.step(0)
	h := fx.e.Handler()
	f.Fuzz(func(t *testing.T, path, rawQuery string) {
		if q, err := parseProbeQuery(rawQuery); err == nil {
			for _, x := range q.exclude {
				if !validName(x) {
					t.Fatalf("accepted exclude %q", x)
				}
			}
			if len(q.exclude) > maxExcludes {
				t.Fatalf("%d excludes", len(q.exclude))
			}
		}
		r := httptest.NewRequest("GET", "/", nil)
		r.URL = &url.URL{Path: path, RawQuery: rawQuery}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		ct := w.Header().Get("Content-Type")
		switch w.Code {
		case http.StatusOK, http.StatusServiceUnavailable:
			if ct == ContentTypeText {
				return
			}
			if ct != ContentTypeHealthJSON || !json.Valid(w.Body.Bytes()) {
				t.Fatalf("%q?%q: %d %s %q", path, rawQuery, w.Code, ct, w.Body)
			}
		case http.StatusBadRequest, http.StatusNotFound:
			var e struct{ Error string }
			if ct != httpx.ContentTypeJSON || json.Unmarshal(w.Body.Bytes(), &e) != nil || e.Error == "" {
				t.Fatalf("%q?%q: %d %s %q", path, rawQuery, w.Code, ct, w.Body)
			}
		default:
			t.Fatalf("%q?%q: status %d", path, rawQuery, w.Code)
		}
		if w.Header().Get("Cache-Control") != "no-store" {
			t.Fatal("no Cache-Control")
		}
	})
}
