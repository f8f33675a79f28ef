package web

import (
	"embed"
	"io/fs"
	"net/http"
	"strings"
)

//go:embed assets
var assets embed.FS

// CSP is the Content-Security-Policy of every response: scripts, styles,
// fetches and the WebSocket from the page's own origin only, no inline
// code, no framing.
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; " +
	"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// Handler serves the dashboard. Create it with NewHandler; the zero value
// serves nothing.
type Handler struct {
	files http.Handler
}

// NewHandler returns the dashboard's handler.
func NewHandler() *Handler {
	sub, err := fs.Sub(assets, "assets")
	if err != nil {
		panic("web: embedded assets missing: " + err.Error()) // a build error, not a runtime one
	}
	return &Handler{files: http.FileServerFS(sub)}
}

// Mount registers GET / (the page) and GET /ui/ (its script and
// stylesheet) on mux.
func (h *Handler) Mount(mux *http.ServeMux) {
	mux.Handle("GET /{$}", h)
	mux.Handle("GET /ui/", h)
}

// ServeHTTP serves the page at / and its files under /ui/; anything else
// is 404.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", CSP)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("Cache-Control", "no-cache") // revalidate: a new binary may ship a new page
	p := r.URL.Path
	if h.files == nil || (p != "/" && !strings.HasPrefix(p, "/ui/")) || strings.HasSuffix(p, "/") && p != "/" {
		http.NotFound(w, r)
		return
	}
	h.files.ServeHTTP(w, r)
}
