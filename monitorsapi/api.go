package monitorsapi

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/bizra/vitals"
	"github.com/bizra/vitals/breaker"
	"github.com/bizra/vitals/cache"
	"github.com/bizra/vitals/dbpool"
	"github.com/bizra/vitals/internal/httpx"
)

// The paths Mount mounts the handlers on.
const (
	PathDatabase       = "/metrics/database"
	PathCache          = "/metrics/cache"
	PathCircuitBreaker = "/metrics/circuit-breaker"
)

// maxNameLen bounds the name parameter: monitor names are label values,
// short by design.
const maxNameLen = 200

// API serves the cache, database-pool and circuit-breaker monitors as
// JSON. Add monitors with AddPool, AddCache and AddBreaker (before or
// after serving starts); mount the handlers with Mount or one by one.
//
// Every handler serves GET and HEAD (405 otherwise) and accepts two query
// parameters: name, to return only the monitor of that name (404 when
// there is none), and pretty (empty, true, 1, false or 0) to indent the
// output. Anything else, a malformed query string, or a name that is not
// UTF-8 or longer than 200 bytes gets 400. Errors are JSON too:
// {"error": "..."}. The handlers start no goroutines, read monitors'
// stats by value, and are safe for concurrent use.
type API struct {
	m *vitals.Monitor

	mu       sync.RWMutex
	pools    []*dbpool.Pool
	caches   []*cache.Cache
	breakers []*breaker.Breaker
}

// New returns an API whose responses are stamped with m's clock.
func New(m *vitals.Monitor) *API { return &API{m: m} }

// AddPool adds a database pool monitor (sqlmon's and pgxpoolmon's
// Monitor()).
func (a *API) AddPool(p *dbpool.Pool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.pools = append(a.pools, p)
}

// AddCache adds a cache monitor.
func (a *API) AddCache(c *cache.Cache) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.caches = append(a.caches, c)
}

// AddBreaker adds a circuit breaker monitor (gobreakermon's Monitor()).
func (a *API) AddBreaker(b *breaker.Breaker) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.breakers = append(a.breakers, b)
}

// Mount mounts the three handlers on mux at PathDatabase, PathCache and
// PathCircuitBreaker, and a JSON 404 for any path below them. The
// patterns carry no method: the handlers answer other methods with a
// JSON 405 themselves, where the mux's would be text.
func (a *API) Mount(mux *http.ServeMux) {
	for _, r := range []struct {
		path string
		h    http.Handler
	}{{PathDatabase, a.Database()}, {PathCache, a.Cache()}, {PathCircuitBreaker, a.CircuitBreaker()}} {
		mux.Handle(r.path, r.h)
		mux.Handle(r.path+"/", http.HandlerFunc(httpx.NotFound))
	}
}

// Database returns the handler of GET /metrics/database.
func (a *API) Database() http.Handler {
	return a.handler("pools", func(name string) (any, bool) {
		a.mu.RLock()
		pools := append([]*dbpool.Pool(nil), a.pools...)
		a.mu.RUnlock()
		out := []poolJSON{}
		for _, p := range pools {
			if name == "" || p.Name() == name {
				out = append(out, poolOf(p.Stats()))
			}
		}
		return out, name == "" || len(out) > 0
	})
}

// Cache returns the handler of GET /metrics/cache.
func (a *API) Cache() http.Handler {
	return a.handler("caches", func(name string) (any, bool) {
		a.mu.RLock()
		caches := append([]*cache.Cache(nil), a.caches...)
		a.mu.RUnlock()
		out := []cacheJSON{}
		for _, c := range caches {
			if name == "" || c.Name() == name {
				out = append(out, cacheOf(c.Stats()))
			}
		}
		return out, name == "" || len(out) > 0
	})
}

// CircuitBreaker returns the handler of GET /metrics/circuit-breaker.
func (a *API) CircuitBreaker() http.Handler {
	return a.handler("breakers", func(name string) (any, bool) {
		a.mu.RLock()
		breakers := append([]*breaker.Breaker(nil), a.breakers...)
		a.mu.RUnlock()
		out := []breakerJSON{}
		for _, b := range breakers {
			if name == "" || b.Name() == name {
				out = append(out, breakerOf(b.Stats()))
			}
		}
		return out, name == "" || len(out) > 0
	})
}

type request struct {
	name   string
	pretty bool
}

// parseQuery validates the query string: only name and pretty, each at
// most once.
func parseQuery(raw string) (request, error) {
	var r request
	if len(raw) > 4096 {
		return r, errors.New("query string longer than 4096 bytes")
	}
	q, err := url.ParseQuery(raw)
	if err != nil {
		return r, errors.New("malformed query string")
	}
	for k, vs := range q {
		if len(vs) > 1 {
			return r, errors.New("parameter " + quote(k) + " given more than once")
		}
		v := vs[0]
		switch k {
		case "name":
			if v == "" || len(v) > maxNameLen || !utf8.ValidString(v) {
				return r, errors.New("name must be 1 to 200 bytes of UTF-8")
			}
			r.name = v
		case "pretty":
			switch strings.ToLower(v) {
			case "", "1", "true":
				r.pretty = true
			case "0", "false":
			default:
				return r, errors.New("pretty must be empty, true, 1, false or 0")
			}
		default:
			return r, errors.New("unknown parameter " + quote(k) + ": only name and pretty are accepted")
		}
	}
	return r, nil
}

// quote shows a parameter name in an error without echoing arbitrary
// bytes back: invalid UTF-8 is replaced and long names are cut.
func quote(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) > 64 {
		s = s[:64] + "..."
	}
	b, _ := json.Marshal(s)
	return string(b)
}

type handler struct {
	a    *API
	key  string
	list func(name string) (any, bool)
}

func (a *API) handler(key string, list func(string) (any, bool)) http.Handler {
	return &handler{a: a, key: key, list: list}
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		httpx.WriteError(w, r, http.StatusMethodNotAllowed, "method "+quote(r.Method)+" not allowed: use GET")
		return
	}
	req, err := parseQuery(r.URL.RawQuery)
	if err != nil {
		httpx.WriteError(w, r, http.StatusBadRequest, err.Error())
		return
	}
	items, found := h.list(req.name)
	if !found {
		httpx.WriteError(w, r, http.StatusNotFound, "no monitor named "+quote(req.name))
		return
	}
	body := map[string]any{"time": h.a.m.Clock().Now().UTC().Format(time.RFC3339Nano), h.key: items}
	writeJSON(w, r, http.StatusOK, body, req.pretty)
}

// writeJSON writes v, indented when pretty is set.
func writeJSON(w http.ResponseWriter, r *http.Request, status int, v any, pretty bool) {
	if !pretty {
		httpx.WriteJSON(w, r, status, v)
		return
	}
	body, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		httpx.WriteError(w, r, http.StatusInternalServerError, "the response could not be encoded")
		return
	}
	httpx.WriteBody(w, r, status, httpx.ContentTypeJSON, append(body, '\n'))
}
