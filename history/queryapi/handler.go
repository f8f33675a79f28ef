package queryapi

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/bizra/vitals"
	"github.com/bizra/vitals/aggregate"
	"github.com/bizra/vitals/history"
	"github.com/bizra/vitals/internal/httpx"
	"github.com/bizra/vitals/metric"
	"github.com/bizra/vitals/window"
)

// Options configures the API. The zero value (or nil) gives the defaults
// written on each field.
type Options struct {
	// Clock is "now" for query_range's defaults (to=now) and for
	// now-relative times. nil: the system clock.
	Clock vitals.Clock
	// Timeout bounds one query once it runs. 0: 10 seconds.
	Timeout time.Duration
	// MaxInFlight is how many query_range requests compute at once; the
	// others wait in a queue. Queries are the API's expensive part (a
	// 90-day one reads about 5,000 frames), and the service they run in
	// must keep its own latency: with the default on 2 cores, 50
	// concurrent 90-day queries leave the service's p99 within 20% of
	// idle (BenchmarkServiceUnderQueries, docs/HISTORY.md).
	// 0: GOMAXPROCS/4, at least 1.
	MaxInFlight int
	// MaxQueue is how many query_range requests may wait for a slot;
	// past it a request gets 503 with Retry-After at once. 0: 64.
	MaxQueue int
	// QueueTimeout is how long a request waits for a slot before a 503
	// with Retry-After. 0: 5 seconds.
	QueueTimeout time.Duration
	// QueryShare is the share of its slot's time a query may spend
	// computing: after a query that took d, its slot stays closed for
	// d×(1/QueryShare−1), so that a queue of expensive queries uses at
	// most this share of a core per slot and the service keeps the rest.
	// Answers served from the history's cache take microseconds and are
	// hardly slowed. 0: 0.25; 1 turns pacing off.
	QueryShare float64
	// Logger receives unexpected errors (a failing disk), never user
	// input. nil: slog.Default().
	Logger *slog.Logger
	// Registry receives the API's self-metric
	// vitals_history_query_rejected_total{reason}: query_range requests
	// answered 503 (or abandoned) instead of computed, by reason
	// ("queue_full", "queue_timeout", "client_gone", "query_timeout").
	// Every reason's series exists from the start at 0. Several APIs on
	// one registry share the family. nil: counted but not exported.
	Registry *metric.Registry
}

// QueryRejectedName is the self-metric family counting query_range
// requests turned away: an operator alerts on its rate to see that the
// admission limits (MaxInFlight, MaxQueue, QueueTimeout) or the query
// Timeout are refusing work.
const QueryRejectedName = "vitals_history_query_rejected_total"

// Reasons of QueryRejectedName.
const (
	// RejectQueueFull: MaxQueue requests were already waiting; 503 at once.
	RejectQueueFull = "queue_full"
	// RejectQueueTimeout: the request waited QueueTimeout without a slot; 503.
	RejectQueueTimeout = "queue_timeout"
	// RejectClientGone: the client went away while its request waited.
	RejectClientGone = "client_gone"
	// RejectQueryTimeout: the query ran past Timeout; 503.
	RejectQueryTimeout = "query_timeout"
)

var rejectedOpts = metric.Opts{Name: QueryRejectedName,
	Help:   "History queries (query_range) answered 503 or abandoned instead of computed, by reason: queue_full, queue_timeout, client_gone, query_timeout.",
	Labels: []string{"reason"}}

// rejected holds the handles of QueryRejectedName, one per reason.
type rejected struct {
	queueFull, queueTimeout, clientGone, queryTimeout *metric.Counter
}

func newRejected(reg *metric.Registry) rejected {
	if reg == nil {
		reg = metric.NewRegistry() // private: counted, not exported
	}
	v := reg.CounterVec(rejectedOpts)
	return rejected{queueFull: v.With(RejectQueueFull), queueTimeout: v.With(RejectQueueTimeout),
		clientGone: v.With(RejectClientGone), queryTimeout: v.With(RejectQueryTimeout)}
}

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

// maxQuery bounds a request's query string.
const maxQuery = 8192

// The API's routes, under Prefix.
const (
	Prefix         = "/api/v1/"
	PathWindow     = "/api/v1/window"
	PathSeries     = "/api/v1/series"
	PathQueryRange = "/api/v1/query_range"
)

// API serves the rolling windows of an Aggregator and the history of a
// Store as JSON:
//
//	GET /api/v1/window?series=<key>[&window=5m]
//	GET /api/v1/series
//	GET /api/v1/query_range?series=<key>&stat=p99[&from=…][&to=…][&step=…]
//
// Mount registers these routes on a mux; the API is also an http.Handler
// for the whole /api/v1/ prefix. Bad parameters, unknown parameters and
// parameters given without a value get 400 with {"error": "..."} saying
// what is wrong; nothing a client sends yields a 500 or a panic. Unknown
// paths under /api/v1/ get a JSON 404, methods other than GET and HEAD a
// JSON 405. query_range is admitted MaxInFlight at a time, with a queue;
// past it, 503 with Retry-After.
//
// Its methods are safe for concurrent use.
type API struct {
	h   *handler
	srv http.Handler
}

// New returns the API over agg and st. Either may be nil; their endpoints
// then answer 404.
func New(agg *aggregate.Aggregator, st *history.Store, opts *Options) *API {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Clock == nil {
		o.Clock = systemClock{}
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	if o.MaxInFlight <= 0 {
		o.MaxInFlight = max(1, runtime.GOMAXPROCS(0)/4)
	}
	if o.MaxQueue <= 0 {
		o.MaxQueue = 64
	}
	if o.QueueTimeout <= 0 {
		o.QueueTimeout = 5 * time.Second
	}
	if o.QueryShare <= 0 || o.QueryShare > 1 {
		o.QueryShare = 0.25
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	h := &handler{agg: agg, st: st, o: o, rejected: newRejected(o.Registry),
		slots: make(chan struct{}, o.MaxInFlight), queue: make(chan struct{}, o.MaxQueue)}
	mux := http.NewServeMux()
	mux.HandleFunc(PathWindow, h.window)
	mux.HandleFunc(PathSeries, h.series)
	mux.HandleFunc(PathQueryRange, h.queryRange)
	mux.HandleFunc("/", httpx.NotFound)
	return &API{h: h, srv: h.guard(mux)}
}

// ServeHTTP serves every path under /api/v1/.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) { a.srv.ServeHTTP(w, r) }

// Mount registers the API's routes on mux: GET (and HEAD) on each
// endpoint, a JSON 405 for other methods on them, and a JSON 404 for
// unknown paths under /api/v1/ unless mux already has a handler for that
// prefix (another vitals API mounted first).
func (a *API) Mount(mux *http.ServeMux) {
	for _, p := range []string{PathWindow, PathSeries, PathQueryRange} {
		mux.Handle("GET "+p, a)
		mux.Handle(p, a) // other methods: a JSON 405
	}
	probe := &http.Request{Method: http.MethodGet, URL: &url.URL{Path: Prefix + "vitals-probe"}, Host: "localhost"}
	if _, pattern := mux.Handler(probe); pattern != Prefix {
		mux.Handle(Prefix, a)
	}
}

type handler struct {
	agg      *aggregate.Aggregator
	st       *history.Store
	o        Options
	rejected rejected
	slots    chan struct{} // a query_range computing
	queue    chan struct{} // a query_range waiting for a slot
}

// guard applies what every endpoint shares: methods, query length, and a
// last-resort recover so that a bug answers 500 to one request instead of
// killing the process (and is logged).
func (h *handler) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				h.o.Logger.Error("vitals/history/queryapi: handler panicked", "path", r.URL.Path, "panic", v)
				httpx.WriteError(w, r, http.StatusInternalServerError, "internal error")
			}
		}()
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			httpx.WriteError(w, r, http.StatusMethodNotAllowed, "method "+quote(r.Method)+" not allowed: use GET")
			return
		}
		if len(r.URL.RawQuery) > maxQuery {
			httpx.WriteError(w, r, http.StatusBadRequest, "query string longer than "+strconv.Itoa(maxQuery)+" bytes")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// admit waits for a query slot: at once when one is free, else in the
// queue for up to QueueTimeout. ok is false when the queue is full, the
// wait timed out or the client left; each is counted in
// QueryRejectedName.
func (h *handler) admit(r *http.Request) (release func(), ok bool) {
	release = func() { <-h.slots }
	select {
	case h.slots <- struct{}{}:
		return release, true
	default:
	}
	select {
	case h.queue <- struct{}{}:
	default:
		h.rejected.queueFull.Inc()
		return nil, false
	}
	defer func() { <-h.queue }()
	t := time.NewTimer(h.o.QueueTimeout)
	defer t.Stop()
	select {
	case h.slots <- struct{}{}:
		return release, true
	case <-t.C:
		h.rejected.queueTimeout.Inc()
	case <-r.Context().Done():
		h.rejected.clientGone.Inc()
	}
	return nil, false
}

func (h *handler) window(w http.ResponseWriter, r *http.Request) {
	if h.agg == nil {
		httpx.WriteError(w, r, http.StatusNotFound, "rolling windows are not enabled")
		return
	}
	q, err := parseQuery(r, "series", "window")
	if err != nil {
		httpx.WriteError(w, r, http.StatusBadRequest, err.Error())
		return
	}
	series, err := single(q, "series", maxSeriesLen)
	if err == nil && series == "" {
		err = badParam("parameter series is required: a key from /api/v1/series")
	}
	if err != nil {
		httpx.WriteError(w, r, http.StatusBadRequest, err.Error())
		return
	}
	ws, err := single(q, "window", maxValueLen)
	var win time.Duration
	if err == nil {
		win, err = parseWindow(ws, h.agg.Windows())
	}
	if err != nil {
		httpx.WriteError(w, r, http.StatusBadRequest, err.Error())
		return
	}
	info, ok := h.agg.Lookup(series)
	all, ok2 := h.agg.StatsAll(series)
	if !ok || !ok2 {
		httpx.WriteError(w, r, http.StatusBadRequest, "unknown series "+quote(series)+": see /api/v1/series")
		return
	}
	b := make([]byte, 0, 2048)
	b = append(b, `{"series":`...)
	b = appendString(b, info.Key)
	b = append(b, `,"type":`...)
	b = appendString(b, info.Kind.String())
	b = append(b, `,"unit":`...)
	b = appendString(b, info.Unit)
	b = append(b, `,"time":`...)
	b = appendString(b, h.agg.Now().UTC().Format(time.RFC3339Nano))
	b = append(b, `,"windows":[`...)
	first := true
	for _, st := range all {
		if win != 0 && st.Window != win {
			continue
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = appendStats(b, &st)
	}
	b = append(b, "]}\n"...)
	httpx.WriteBody(w, r, http.StatusOK, httpx.ContentTypeJSON, b)
}

func appendStats(b []byte, st *window.Stats) []byte {
	b = append(b, `{"window":`...)
	b = appendString(b, shortDuration(st.Window))
	b = appendField(b, "window_seconds", st.Window.Seconds())
	b = appendField(b, "covered_seconds", st.Covered.Seconds())
	b = appendField(b, "samples", float64(st.Samples))
	for _, f := range []struct {
		name string
		v    float64
	}{{"count", st.Count}, {"sum", st.Sum}, {"rate", st.Rate}, {"min", st.Min}, {"max", st.Max}, {"avg", st.Avg},
		{"last", st.Last}, {"p50", st.P50}, {"p90", st.P90}, {"p95", st.P95}, {"p99", st.P99}, {"p999", st.P999}} {
		b = appendField(b, f.name, f.v)
	}
	return append(b, '}')
}

type seriesEntry struct {
	key, name, unit, help string
	kind                  metric.Kind
	windows, history      bool
	live                  bool
}

func (h *handler) series(w http.ResponseWriter, r *http.Request) {
	if _, err := parseQuery(r); err != nil {
		httpx.WriteError(w, r, http.StatusBadRequest, err.Error())
		return
	}
	byKey := map[string]*seriesEntry{}
	if h.agg != nil {
		for _, s := range h.agg.Series() {
			byKey[s.Key] = &seriesEntry{key: s.Key, name: s.Name, unit: s.Unit, help: s.Help, kind: s.Kind, windows: true, live: true}
		}
	}
	if h.st != nil {
		for _, s := range h.st.Series() {
			e := byKey[s.Key]
			if e == nil {
				e = &seriesEntry{key: s.Key, name: s.Name, unit: s.Unit, help: s.Help, kind: s.Kind}
				byKey[s.Key] = e
			}
			e.history = true
			e.live = e.live || s.Live
		}
	}
	list := make([]*seriesEntry, 0, len(byKey))
	for _, e := range byKey {
		list = append(list, e)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].key < list[j].key })
	b := make([]byte, 0, 128*len(list)+64)
	b = append(b, `{"series":[`...)
	for i, e := range list {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"key":`...)
		b = appendString(b, e.key)
		b = append(b, `,"name":`...)
		b = appendString(b, e.name)
		b = append(b, `,"type":`...)
		b = appendString(b, e.kind.String())
		b = append(b, `,"unit":`...)
		b = appendString(b, e.unit)
		b = append(b, `,"help":`...)
		b = appendString(b, e.help)
		b = append(b, `,"live":`...)
		b = strconv.AppendBool(b, e.live)
		b = append(b, `,"windows":`...)
		b = strconv.AppendBool(b, e.windows)
		b = append(b, `,"history":`...)
		b = strconv.AppendBool(b, e.history)
		b = append(b, '}')
	}
	b = append(b, "]}\n"...)
	httpx.WriteBody(w, r, http.StatusOK, httpx.ContentTypeJSON, b)
}

func (h *handler) queryRange(w http.ResponseWriter, r *http.Request) {
	if h.st == nil {
		httpx.WriteError(w, r, http.StatusNotFound, "history is not enabled")
		return
	}
	q, err := parseQuery(r, "series", "stat", "from", "to", "step")
	if err != nil {
		httpx.WriteError(w, r, http.StatusBadRequest, err.Error())
		return
	}
	req, err := parseRange(q, h.o.Clock.Now())
	if err != nil {
		httpx.WriteError(w, r, http.StatusBadRequest, err.Error())
		return
	}
	release, ok := h.admit(r)
	if !ok {
		w.Header().Set("Retry-After", "1")
		httpx.WriteError(w, r, http.StatusServiceUnavailable, "too many queries in flight: retry later")
		return
	}
	start := time.Now()
	defer func() {
		// Pace the slot (QueryShare): the answer is sent first, then the
		// slot rests in proportion to the time the query took.
		if rest := time.Duration(float64(time.Since(start)) * (1/h.o.QueryShare - 1)); rest > time.Millisecond {
			if f, ok := w.(http.Flusher); ok {
				f.Flush()
			}
			t := time.NewTimer(min(rest, 2*time.Second))
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
			}
		}
		release()
	}()
	ctx, cancel := context.WithTimeout(r.Context(), h.o.Timeout)
	defer cancel()
	res, err := h.st.Query(ctx, req)
	switch {
	case err == nil:
	case errors.Is(err, history.ErrUnknownSeries):
		httpx.WriteError(w, r, http.StatusBadRequest, "unknown series "+quote(req.Series)+": see /api/v1/series")
		return
	case errors.Is(err, history.ErrUnknownStat), errors.Is(err, history.ErrStatKind),
		errors.Is(err, history.ErrRange), errors.Is(err, history.ErrTooManyPoints), errors.Is(err, history.ErrQueryTooLarge):
		httpx.WriteError(w, r, http.StatusBadRequest, err.Error())
		return
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		if r.Context().Err() != nil {
			h.rejected.clientGone.Inc()
		} else {
			h.rejected.queryTimeout.Inc()
		}
		httpx.WriteError(w, r, http.StatusServiceUnavailable, "query did not finish within "+h.o.Timeout.String())
		return
	default:
		h.o.Logger.Error("vitals/history/queryapi: query failed", "series", req.Series, "err", err)
		httpx.WriteError(w, r, http.StatusServiceUnavailable, "history unavailable")
		return
	}
	b := make([]byte, 0, 256+24*len(res.Points))
	b = append(b, `{"series":`...)
	b = appendString(b, res.Series)
	b = append(b, `,"type":`...)
	b = appendString(b, res.Kind.String())
	b = append(b, `,"unit":`...)
	b = appendString(b, res.Unit)
	b = append(b, `,"stat":`...)
	b = appendString(b, res.Stat.String())
	b = append(b, `,"from":`...)
	b = appendString(b, res.From.UTC().Format(time.RFC3339))
	b = append(b, `,"to":`...)
	b = appendString(b, res.To.UTC().Format(time.RFC3339Nano))
	b = appendField(b, "step_seconds", res.Step.Seconds())
	b = appendField(b, "tier_seconds", res.Tier.Seconds())
	b = append(b, `,"points":[`...)
	for i, p := range res.Points {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '[')
		b = strconv.AppendInt(b, p.T.Unix(), 10)
		b = append(b, ',')
		b = appendFloat(b, p.V)
		b = append(b, ']')
	}
	b = append(b, "]}\n"...)
	httpx.WriteBody(w, r, http.StatusOK, httpx.ContentTypeJSON, b)
}

// parseQuery parses the query string strictly: a malformed one (bad
// percent-encoding, a semicolon) is an error rather than half-read, and so
// is a parameter the endpoint does not take (a typo such as "stats=" or
// "name[]=" must not be silently ignored). allowed lists the endpoint's
// parameters.
func parseQuery(r *http.Request, allowed ...string) (url.Values, error) {
	q, err := urlParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, badParam("malformed query string: %v", err)
	}
	for name := range q {
		if !slices.Contains(allowed, name) {
			if len(allowed) == 0 {
				return nil, badParam("unknown parameter %s: %s takes none", quote(name), r.URL.Path)
			}
			return nil, badParam("unknown parameter %s: %s takes %s", quote(name), r.URL.Path, strings.Join(allowed, ", "))
		}
	}
	return q, nil
}

func appendField(b []byte, name string, v float64) []byte {
	b = append(b, ',', '"')
	b = append(b, name...)
	b = append(b, '"', ':')
	return appendFloat(b, v)
}

// appendFloat writes v as a JSON number, or null for NaN and infinities
// (no data, or a statistic that does not apply).
func appendFloat(b []byte, v float64) []byte {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return append(b, "null"...)
	}
	return strconv.AppendFloat(b, v, 'g', -1, 64)
}
