package web_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/bizra/vitals/stream/web"
)

// The page is mounted at the root of the mux that serves the stream and
// the history API; it reads them at relative paths.
func ExampleHandler_Mount() {
	mux := http.NewServeMux()
	web.NewHandler().Mount(mux) // GET /, GET /ui/...
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	fmt.Println(rec.Code, rec.Header().Get("Content-Type"))
	fmt.Println(rec.Header().Get("Content-Security-Policy") == web.CSP)
	// Output:
	// 200 text/html; charset=utf-8
	// true
}
