package vitalshttp_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/bizra/vitals/vitalshttp"
)

func TestHostGuard(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	cases := []struct {
		listen, host string
		want         int
	}{
		{"127.0.0.1:9911", "127.0.0.1:9911", 204},
		{"127.0.0.1:9911", "localhost:9911", 204},
		{"127.0.0.1:9911", "LOCALHOST.", 204},
		{"127.0.0.1:9911", "app.localhost:9911", 204},
		{"127.0.0.1:9911", "127.0.0.2", 204},
		{"127.0.0.1:9911", "[::1]:9911", 204},
		{"127.0.0.1:9911", "proxy.internal", 204}, // in Hosts
		{"127.0.0.1:9911", "attacker.example:9911", 421},
		{"127.0.0.1:9911", "attacker.example", 421},
		{"127.0.0.1:9911", "localhost.attacker.example", 421},
		{"127.0.0.1:9911", "10.0.0.5:9911", 421},
		{"[::1]:9911", "evil.test", 421},
		{"localhost:9911", "evil.test", 421},
		{"localhost:9911", "localhost:9911", 204},
		{":9911", "evil.test", 204},       // all interfaces: not guarded
		{"0.0.0.0:9911", "anything", 204}, // all interfaces: not guarded
		{"192.0.2.10:9911", "svc.example", 204},
	}
	for _, c := range cases {
		h := vitalshttp.HostGuard(ok, c.listen, &vitalshttp.HostGuardOptions{Hosts: []string{"Proxy.Internal"}})
		r := httptest.NewRequest("GET", "/metrics", nil)
		r.Host = c.host
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != c.want {
			t.Errorf("listen %s, Host %q: %d, want %d", c.listen, c.host, w.Code, c.want)
		}
		if w.Code == 421 && (!strings.HasPrefix(w.Header().Get("Content-Type"), "application/json") || !strings.Contains(w.Body.String(), `"error"`)) {
			t.Errorf("421 is not a JSON error: %q %s", w.Header().Get("Content-Type"), w.Body.String())
		}
	}
}

// A service on loopback refuses requests that name another host, as a
// DNS-rebinding web page's requests do.
func ExampleHostGuard() {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "up 1") })
	h := vitalshttp.HostGuard(mux, "127.0.0.1:9911", nil)

	for _, host := range []string{"localhost:9911", "rebind.attacker.example:9911"} {
		r := httptest.NewRequest("GET", "/metrics", nil)
		r.Host = host
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		fmt.Println(host, w.Code)
	}
	// Output:
	// localhost:9911 200
	// rebind.attacker.example:9911 421
}

// FuzzHostGuard: any Host header is either served or refused with 421,
// never a panic, and a foreign name is never served on loopback.
func FuzzHostGuard(f *testing.F) {
	for _, s := range []string{"localhost", "127.0.0.1:1", "[::1]:80", "[::1", "a.localhost.", "evil.example", "", ":", "[]", "127.0.0.1.nip.io", "%00"} {
		f.Add(s)
	}
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	h := vitalshttp.HostGuard(ok, "127.0.0.1:9911", nil)
	f.Fuzz(func(t *testing.T, host string) {
		r := httptest.NewRequest("GET", "/", nil)
		r.Host = host
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != 204 && w.Code != 421 {
			t.Fatalf("Host %q: %d", host, w.Code)
		}
		if w.Code == 204 && strings.Contains(strings.ToLower(host), "example") && !strings.Contains(strings.ToLower(host), "localhost") {
			t.Fatalf("Host %q served on loopback", host)
		}
	})
}
