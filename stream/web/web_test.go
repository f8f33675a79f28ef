package web

import (
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

func TestHandlerRoutes(t *testing.T) {
	mux := http.NewServeMux()
	NewHandler().Mount(mux)
	for _, c := range []struct {
		path string
		code int
		typ  string
	}{
		{"/", 200, "text/html; charset=utf-8"},
		{"/ui/app.js", 200, "text/javascript; charset=utf-8"},
		{"/ui/style.css", 200, "text/css; charset=utf-8"},
		{"/ui/", 404, ""}, // no directory listings
		{"/ui/missing.js", 404, ""},
		{"/index.html", 404, ""},   // not routed
		{"/ui/../go.mod", 404, ""}, // cleaned to /go.mod: not routed
	} {
		t.Run(c.path, func(t *testing.T) {
			rec := httptest.NewRecorder()
			mux.ServeHTTP(rec, httptest.NewRequest("GET", c.path, nil))
			if rec.Code != c.code && (c.code != 404 || rec.Code/100 != 3) { // the mux may redirect a path it cleans
				t.Fatalf("GET %s: %d, want %d", c.path, rec.Code, c.code)
			}
			if c.code != 200 {
				return
			}
			if got := rec.Header().Get("Content-Type"); got != c.typ {
				t.Errorf("Content-Type %q, want %q", got, c.typ)
			}
			if rec.Header().Get("Content-Security-Policy") != CSP || rec.Header().Get("X-Content-Type-Options") != "nosniff" {
				t.Errorf("security headers missing: %v", rec.Header())
			}
		})
	}
	var zero Handler
	rec := httptest.NewRecorder()
	zero.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Code != 404 {
		t.Errorf("zero Handler: %d, want 404", rec.Code)
	}
}

// TestNoInlineCode: the page works under CSP without 'unsafe-inline':
// no inline script, style element, style attribute or event handler
// attribute, and nothing loaded from another origin.
func TestNoInlineCode(t *testing.T) {
	b, err := fs.ReadFile(assets, "assets/index.html")
	if err != nil {
		t.Fatal(err)
	}
	html := string(b)
	for _, tag := range regexp.MustCompile(`<script[^>]*>`).FindAllString(html, -1) {
		if !strings.Contains(tag, " src=") {
			t.Errorf("inline script: %s", tag)
		}
	}
	for _, re := range []string{`<style`, `\sstyle=`, `\son[a-z]+=`, `(?:src|href)="(?:https?:)?//`} {
		if m := regexp.MustCompile(re).FindString(html); m != "" {
			t.Errorf("index.html has %q (matches %s)", m, re)
		}
	}
	js, err := fs.ReadFile(assets, "assets/ui/app.js")
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"eval(", "new Function", "innerHTML", "http://", "https://"} {
		if strings.Contains(string(js), bad) {
			t.Errorf("app.js uses %q", bad)
		}
	}
}
