package demo

import (
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/bizra/vitals/internal/httpx"
	"github.com/bizra/vitals/metric"
)

// MinTokenBytes is the shortest bearer token the demo accepts: a shorter
// one could be guessed by a client allowed to try as fast as the listener
// answers.
const MinTokenBytes = 16

// adminAuth guards the admin listener: every request needs the admin
// token, compared over digests (neither its bytes nor its length leak
// through timing). Rejected attempts are counted and logged with the
// remote address (at most one log line a second, with the number left
// out); accepted actions are logged with it too.
type adminAuth struct {
	tok      *httpx.Token
	next     http.Handler
	log      *slog.Logger
	rejected *metric.Counter

	mu         sync.Mutex
	lastLog    time.Time
	unreported int
}

func newAdminAuth(token string, next http.Handler, reg *metric.Registry, log *slog.Logger) *adminAuth {
	return &adminAuth{tok: httpx.NewToken(token), next: next, log: log,
		rejected: reg.Counter(metric.Opts{Name: "vitals_demo_admin_rejected_total",
			Help: "Admin listener requests refused for a missing or wrong bearer token."})}
}

func (a *adminAuth) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !a.tok.Enabled() {
		a.reject(r, "no admin token configured")
		httpx.WriteError(w, r, http.StatusForbidden, "admin actions are disabled: start the demo with VITALS_ADMIN_TOKEN set")
		return
	}
	if !a.tok.Allow(r) {
		a.reject(r, "missing or wrong bearer token")
		httpx.Unauthorized(w, r)
		return
	}
	lv := slog.LevelInfo
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		lv = slog.LevelDebug // reads (API polling) would flood the log
	}
	a.log.Log(r.Context(), lv, "admin: request accepted", "remote", r.RemoteAddr, "method", r.Method, "path", r.URL.Path)
	a.next.ServeHTTP(w, r)
}

func (a *adminAuth) reject(r *http.Request, why string) {
	a.rejected.Inc()
	now := time.Now()
	a.mu.Lock()
	if now.Sub(a.lastLog) < time.Second {
		a.unreported++
		a.mu.Unlock()
		return
	}
	n := a.unreported
	a.lastLog, a.unreported = now, 0
	a.mu.Unlock()
	a.log.Warn("admin: request rejected", "remote", r.RemoteAddr, "method", r.Method, "path", r.URL.Path,
		"reason", why, "rejected_unlogged_before", n)
}

// requireToken serves next only to requests carrying tok; with no token
// configured it serves every request.
func requireToken(tok *httpx.Token, next http.Handler) http.Handler {
	if !tok.Enabled() {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !tok.Allow(r) {
			httpx.Unauthorized(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}
