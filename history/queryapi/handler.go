package queryapi

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"net/http"
	"sort"
	"strconv"
	"time"

	"github.com/bizra/vitals"
	"github.com/bizra/vitals/aggregate"
	"github.com/bizra/vitals/history"
	"github.com/bizra/vitals/metric"
	"github.com/bizra/vitals/window"
)

// Options configures the Handler. The zero value (or nil) gives the
// defaults written on each field.
type Options struct {
	// Clock is "now" for query_range's defaults (to=now) and for
	// now-relative times. nil: the system clock.
	Clock vitals.Clock
	// Timeout bounds one query. 0: 10 seconds.
	Timeout time.Duration
	// Logger receives unexpected errors (a failing disk), never user
	// input. nil: slog.Default().
	Logger *slog.Logger
}

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

// maxQuery bounds a request's query string.
const maxQuery = 8192

// Handler serves the rolling windows of agg and the history of st as
// JSON:
//
//	GET /api/v1/window?series=<key>[&window=5m]
//	GET /api/v1/series
//	GET /api/v1/query_range?series=<key>&stat=p99[&from=…][&to=…][&step=…]
//
// Mount it at /api/v1/ (it matches full paths). Either agg or st may be
// nil; their endpoints then answer 404. Bad parameters get 400 with
// {"error": "..."} saying what is wrong; nothing a client sends yields a
// 500 or a panic. Requests other than GET or HEAD get 405.
func Handler(agg *aggregate.Aggregator, st *history.Store, opts *Options) http.Handler {
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
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	h := &handler{agg: agg, st: st, o: o}
	mux := http.NewServeMux()
	mux.HandleFunc("/api/v1/window", h.window)
	mux.HandleFunc("/api/v1/series", h.series)
	mux.HandleFunc("/api/v1/query_range", h.queryRange)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no such endpoint: try /api/v1/window, /api/v1/series or /api/v1/query_range")
	})
	return h.guard(mux)
}

type handler struct {
	agg *aggregate.Aggregator
	st  *history.Store
	o   Options
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
				writeError(w, http.StatusInternalServerError, "internal error")
			}
		}()
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			writeError(w, http.StatusMethodNotAllowed, "method "+quote(r.Method)+" not allowed: use GET")
			return
		}
		if len(r.URL.RawQuery) > maxQuery {
			writeError(w, http.StatusBadRequest, "query string longer than "+strconv.Itoa(maxQuery)+" bytes")
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (h *handler) window(w http.ResponseWriter, r *http.Request) {
	if h.agg == nil {
		writeError(w, http.StatusNotFound, "rolling windows are not enabled")
		return
	}
	q, err := parseQuery(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	series, err := single(q, "series", maxSeriesLen)
	if err == nil && series == "" {
		err = badParam("parameter series is required: a key from /api/v1/series")
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	ws, err := single(q, "window", maxValueLen)
	var win time.Duration
	if err == nil {
		win, err = parseWindow(ws, h.agg.Windows())
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	info, ok := h.agg.Lookup(series)
	all, ok2 := h.agg.StatsAll(series)
	if !ok || !ok2 {
		writeError(w, http.StatusBadRequest, "unknown series "+quote(series)+": see /api/v1/series")
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
	writeJSON(w, http.StatusOK, b)
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
		writeError(w, http.StatusBadRequest, err.Error())
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
	writeJSON(w, http.StatusOK, b)
}

func (h *handler) queryRange(w http.ResponseWriter, r *http.Request) {
	if h.st == nil {
		writeError(w, http.StatusNotFound, "history is not enabled")
		return
	}
	q, err := parseQuery(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	req, err := parseRange(q, h.o.Clock.Now())
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), h.o.Timeout)
	defer cancel()
	res, err := h.st.Query(ctx, req)
	switch {
	case err == nil:
	case errors.Is(err, history.ErrUnknownSeries):
		writeError(w, http.StatusBadRequest, "unknown series "+quote(req.Series)+": see /api/v1/series")
		return
	case errors.Is(err, history.ErrUnknownStat), errors.Is(err, history.ErrStatKind),
		errors.Is(err, history.ErrRange), errors.Is(err, history.ErrTooManyPoints):
		writeError(w, http.StatusBadRequest, err.Error())
		return
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		writeError(w, http.StatusServiceUnavailable, "query did not finish within "+h.o.Timeout.String())
		return
	default:
		h.o.Logger.Error("vitals/history/queryapi: query failed", "series", req.Series, "err", err)
		writeError(w, http.StatusServiceUnavailable, "history unavailable")
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
	writeJSON(w, http.StatusOK, b)
}

// parseQuery parses the query string strictly: a malformed one (bad
// percent-encoding, a semicolon) is an error rather than half-read.
func parseQuery(r *http.Request) (map[string][]string, error) {
	q, err := urlParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, badParam("malformed query string: %v", err)
	}
	return q, nil
}

func writeError(w http.ResponseWriter, code int, msg string) {
	b := append([]byte(`{"error":`), appendString(nil, msg)...)
	writeJSON(w, code, append(b, "}\n"...))
}

func writeJSON(w http.ResponseWriter, code int, b []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_, _ = w.Write(b)
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
