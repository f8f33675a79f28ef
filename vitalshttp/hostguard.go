package vitalshttp

import (
	"net"
	"net/http"
	"strings"

	"github.com/bizra/vitals/internal/httpx"
)

// HostGuardOptions configures HostGuard. nil means the defaults.
type HostGuardOptions struct {
	// Hosts are further Host header names to accept on a loopback
	// listener, without a port, such as the name a reverse proxy on the
	// same machine sends. Default none: only localhost, *.localhost and
	// loopback IP addresses.
	Hosts []string
}

// HostGuard protects a handler served on a loopback address from DNS
// rebinding: a web page whose own domain the attacker re-points at
// 127.0.0.1 can otherwise make the browser read /metrics, the JSON APIs
// or the health reports of a service on the visitor's machine, since the
// browser sees one origin throughout. Such requests carry the attacker's
// name in their Host header; HostGuard answers them 421 Misdirected
// Request with a JSON error and passes only requests whose Host is
// localhost, a name under .localhost, a loopback IP address (any port),
// one of opts.Hosts, or empty (HTTP/1.0).
//
// addr is the address the handler listens on (the http.Server's Addr or
// the listener's Addr().String()). When its host is not loopback (":9911",
// "0.0.0.0:9911", a public address), HostGuard returns h unchanged: a
// service reachable from the network is protected by its network rules
// and tokens, and its clients use names HostGuard cannot know.
//
//	ln, _ := net.Listen("tcp", "127.0.0.1:9911")
//	srv := &http.Server{Handler: vitalshttp.HostGuard(mux, ln.Addr().String(), nil), ...}
func HostGuard(h http.Handler, addr string, opts *HostGuardOptions) http.Handler {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	if !isLoopbackName(host) {
		return h
	}
	extra := map[string]bool{}
	if opts != nil {
		for _, n := range opts.Hosts {
			extra[normalizeHost(n)] = true
		}
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Host == "" {
			h.ServeHTTP(w, r)
			return
		}
		name, _, err := net.SplitHostPort(r.Host)
		if err != nil {
			name = r.Host
		}
		name = normalizeHost(name)
		if isLoopbackName(name) || extra[name] {
			h.ServeHTTP(w, r)
			return
		}
		httpx.WriteError(w, r, http.StatusMisdirectedRequest,
			"this service listens on a loopback address and answers only Host: localhost or a loopback IP address (DNS rebinding protection)")
	})
}

func normalizeHost(h string) string {
	h = strings.TrimSuffix(strings.ToLower(h), ".")
	return strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
}

// isLoopbackName reports whether host is localhost, a name under
// .localhost (RFC 6761: browsers resolve them to loopback themselves) or
// a loopback IP address.
func isLoopbackName(host string) bool {
	host = normalizeHost(host)
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
