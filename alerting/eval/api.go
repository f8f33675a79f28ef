package eval

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/storage"

	"github.com/bizra/vitals/internal/httpx"
)

// PromQLPrefix is where Mount serves the Prometheus-compatible query API;
// point a Grafana Prometheus data source at http://<service><PromQLPrefix>.
const PromQLPrefix = "/promql"

// Limits of the query API.
const (
	maxBody        = 1 << 20 // form bodies
	maxQueryLen    = 64 << 10
	maxPointsRange = 11000 // points per series of a range query, as Prometheus
)

// Mount registers the APIs on mux: GET /api/v1/alerts, GET /api/v1/rules,
// and under /promql/api/v1/: query and query_range (GET, POST), series and
// labels (GET, POST), label/{name}/values, status/buildinfo and metadata.
// Other paths under /promql/ answer a JSON 404.
func (e *Evaluator) Mount(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/v1/alerts", e.serveAlerts)
	mux.HandleFunc("GET /api/v1/rules", e.serveRules)
	p := PromQLPrefix + "/api/v1/"
	for _, m := range []string{"GET ", "POST "} {
		mux.HandleFunc(m+p+"query", e.serveQuery)
		mux.HandleFunc(m+p+"query_range", e.serveQueryRange)
		mux.HandleFunc(m+p+"series", e.serveSeries)
		mux.HandleFunc(m+p+"labels", e.serveLabels)
	}
	mux.HandleFunc("GET "+p+"label/{name}/values", e.serveLabelValues)
	mux.HandleFunc("GET "+p+"status/buildinfo", func(w http.ResponseWriter, r *http.Request) {
		writeOK(w, r, map[string]string{"version": "3.0.0", "application": "vitals", "revision": "", "branch": "", "buildUser": "", "buildDate": "", "goVersion": ""})
	})
	mux.HandleFunc("GET "+p+"metadata", func(w http.ResponseWriter, r *http.Request) { writeOK(w, r, map[string]any{}) })
	mux.HandleFunc(PromQLPrefix+"/", httpx.NotFound)
}

// ok writes Prometheus' success envelope.
func writeOK(w http.ResponseWriter, r *http.Request, data any) {
	httpx.WriteJSON(w, r, http.StatusOK, map[string]any{"status": "success", "data": data})
}

// apiError writes Prometheus' error envelope ({"status":"error",
// "errorType":..., "error":...}), which Grafana reads; "error" holds the
// message as in every vitals API.
func apiError(w http.ResponseWriter, r *http.Request, status int, typ, msg string) {
	httpx.WriteJSON(w, r, status, map[string]string{"status": "error", "errorType": typ, "error": msg})
}

func badData(w http.ResponseWriter, r *http.Request, format string, args ...any) {
	apiError(w, r, http.StatusBadRequest, "bad_data", fmt.Sprintf(format, args...))
}

func parseForm(w http.ResponseWriter, r *http.Request) bool {
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	if err := r.ParseForm(); err != nil {
		badData(w, r, "invalid form: %v", err)
		return false
	}
	return true
}

// parseTime reads a Prometheus API time: Unix seconds (fractions allowed)
// or RFC 3339.
func parseTime(s string, def time.Time) (time.Time, error) {
	if s == "" {
		return def, nil
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		if math.IsNaN(f) || math.IsInf(f, 0) || math.Abs(f) > 1e11 {
			return time.Time{}, fmt.Errorf("time %q out of range", s)
		}
		sec, frac := math.Modf(f)
		return time.Unix(int64(sec), int64(math.Round(frac*1e9))).UTC(), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("cannot parse %q as a time: want Unix seconds or RFC 3339", s)
}

// parseDuration reads seconds (fractions allowed) or a Prometheus
// duration (1m, 1h30m).
func parseDuration(s string) (time.Duration, error) {
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		if math.IsNaN(f) || math.IsInf(f, 0) || f <= 0 || f > 1e9 {
			return 0, fmt.Errorf("duration %q out of range", s)
		}
		return time.Duration(f * float64(time.Second)), nil
	}
	d, err := model.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("cannot parse %q as a positive duration", s)
	}
	return time.Duration(d), nil
}

func (e *Evaluator) queryContext(r *http.Request) (context.Context, context.CancelFunc, error) {
	timeout := e.opts.QueryTimeout
	if s := r.FormValue("timeout"); s != "" {
		d, err := parseDuration(s)
		if err != nil {
			return nil, nil, err
		}
		timeout = min(timeout, d)
	}
	ctx, cancel := context.WithTimeout(r.Context(), timeout)
	return ctx, cancel, nil
}

func (e *Evaluator) serveQuery(w http.ResponseWriter, r *http.Request) {
	if !parseForm(w, r) {
		return
	}
	qs := r.FormValue("query")
	if qs == "" || len(qs) > maxQueryLen {
		badData(w, r, "query: want a PromQL expression of at most %d bytes", maxQueryLen)
		return
	}
	ts, err := parseTime(r.FormValue("time"), e.opts.Now())
	if err != nil {
		badData(w, r, "time: %v", err)
		return
	}
	ctx, cancel, err := e.queryContext(r)
	if err != nil {
		badData(w, r, "timeout: %v", err)
		return
	}
	defer cancel()
	q, err := e.engine.NewInstantQuery(ctx, e.q, nil, qs, ts)
	e.run(w, r, q, err)
}

func (e *Evaluator) serveQueryRange(w http.ResponseWriter, r *http.Request) {
	if !parseForm(w, r) {
		return
	}
	qs := r.FormValue("query")
	if qs == "" || len(qs) > maxQueryLen {
		badData(w, r, "query: want a PromQL expression of at most %d bytes", maxQueryLen)
		return
	}
	start, err := parseTime(r.FormValue("start"), time.Time{})
	if err != nil || start.IsZero() {
		badData(w, r, "start: want Unix seconds or RFC 3339 (%v)", err)
		return
	}
	end, err := parseTime(r.FormValue("end"), time.Time{})
	if err != nil || end.IsZero() {
		badData(w, r, "end: want Unix seconds or RFC 3339 (%v)", err)
		return
	}
	if end.Before(start) {
		badData(w, r, "end is before start")
		return
	}
	step, err := parseDuration(r.FormValue("step"))
	if err != nil {
		badData(w, r, "step: %v", err)
		return
	}
	if end.Sub(start)/step > maxPointsRange {
		badData(w, r, "exceeded maximum resolution of %d points per timeseries: raise step", maxPointsRange)
		return
	}
	ctx, cancel, err := e.queryContext(r)
	if err != nil {
		badData(w, r, "timeout: %v", err)
		return
	}
	defer cancel()
	q, err := e.engine.NewRangeQuery(ctx, e.q, nil, qs, start, end, step)
	e.run(w, r, q, err)
}

func (e *Evaluator) run(w http.ResponseWriter, r *http.Request, q promql.Query, err error) {
	if err != nil {
		badData(w, r, "%v", err)
		return
	}
	defer q.Close()
	res := q.Exec(r.Context())
	if res.Err != nil {
		var (
			timeout promql.ErrQueryTimeout
			cancel  promql.ErrQueryCanceled
			tooMany promql.ErrTooManySamples
		)
		switch {
		case errors.As(res.Err, &timeout):
			apiError(w, r, http.StatusServiceUnavailable, "timeout", res.Err.Error())
		case errors.As(res.Err, &cancel):
			apiError(w, r, http.StatusServiceUnavailable, "canceled", res.Err.Error())
		case errors.As(res.Err, &tooMany):
			apiError(w, r, http.StatusUnprocessableEntity, "execution", res.Err.Error())
		default:
			apiError(w, r, http.StatusUnprocessableEntity, "execution", res.Err.Error())
		}
		return
	}
	writeOK(w, r, map[string]any{"resultType": res.Value.Type(), "result": res.Value})
}

// matchers parses match[] (at least one when required).
func matchers(r *http.Request, required bool) ([][]*labels.Matcher, error) {
	ms := r.Form["match[]"]
	if len(ms) == 0 && required {
		return nil, errors.New("match[]: at least one series selector is required")
	}
	var out [][]*labels.Matcher
	for _, s := range ms {
		m, err := promqlParser.ParseMetricSelector(s)
		if err != nil {
			return nil, fmt.Errorf("match[] %q: %v", s, err)
		}
		out = append(out, m)
	}
	return out, nil
}

var promqlParser = parser.NewParser(parser.Options{})

// timeRange reads start and end, defaulting to everything kept.
func (e *Evaluator) timeRange(r *http.Request) (int64, int64, error) {
	start, err := parseTime(r.FormValue("start"), time.UnixMilli(math.MinInt64/2))
	if err != nil {
		return 0, 0, err
	}
	end, err := parseTime(r.FormValue("end"), time.UnixMilli(math.MaxInt64/2))
	if err != nil {
		return 0, 0, err
	}
	return start.UnixMilli(), end.UnixMilli(), nil
}

// openQuerier parses match[], start and end and opens a querier over
// them; it has answered the request when ok is false.
func (e *Evaluator) openQuerier(w http.ResponseWriter, r *http.Request, required bool) (q storage.Querier, sets [][]*labels.Matcher, mint, maxt int64, ok bool) {
	sets, err := matchers(r, required)
	if err == nil {
		mint, maxt, err = e.timeRange(r)
	}
	if err != nil {
		badData(w, r, "%v", err)
		return nil, nil, 0, 0, false
	}
	if q, err = e.q.Querier(mint, maxt); err != nil {
		apiError(w, r, http.StatusInternalServerError, "internal", err.Error())
		return nil, nil, 0, 0, false
	}
	return q, sets, mint, maxt, true
}

func (e *Evaluator) serveSeries(w http.ResponseWriter, r *http.Request) {
	if !parseForm(w, r) {
		return
	}
	q, sets, mint, maxt, ok := e.openQuerier(w, r, true)
	if !ok {
		return
	}
	defer q.Close()
	seen := map[uint64]bool{}
	out := []map[string]string{}
	for _, ms := range sets {
		ss := q.Select(r.Context(), true, &storage.SelectHints{Start: mint, End: maxt, Func: "series"}, ms...)
		for ss.Next() {
			l := ss.At().Labels()
			if h := l.Hash(); !seen[h] {
				seen[h] = true
				out = append(out, l.Map())
			}
		}
	}
	writeOK(w, r, out)
}

func (e *Evaluator) serveLabels(w http.ResponseWriter, r *http.Request) {
	if !parseForm(w, r) {
		return
	}
	e.labelQuery(w, r, "")
}

func (e *Evaluator) serveLabelValues(w http.ResponseWriter, r *http.Request) {
	if !parseForm(w, r) {
		return
	}
	name := r.PathValue("name")
	if !model.UTF8Validation.IsValidLabelName(name) {
		badData(w, r, "invalid label name %q", name)
		return
	}
	e.labelQuery(w, r, name)
}

// labelQuery answers labels (name "") or one label's values, over the
// union of the match[] sets (or every series).
func (e *Evaluator) labelQuery(w http.ResponseWriter, r *http.Request, name string) {
	q, sets, _, _, ok := e.openQuerier(w, r, false)
	if !ok {
		return
	}
	defer q.Close()
	if len(sets) == 0 {
		sets = [][]*labels.Matcher{nil}
	}
	set := map[string]bool{}
	for _, ms := range sets {
		var (
			vals []string
			err  error
		)
		if name == "" {
			vals, _, err = q.LabelNames(r.Context(), nil, ms...)
		} else {
			vals, _, err = q.LabelValues(r.Context(), name, nil, ms...)
		}
		if err != nil {
			apiError(w, r, http.StatusInternalServerError, "internal", err.Error())
			return
		}
		for _, v := range vals {
			set[v] = true
		}
	}
	out := make([]string, 0, len(set))
	for v := range set {
		out = append(out, v)
	}
	sortStrings(out)
	writeOK(w, r, out)
}

// alertJSON is an alert in Prometheus' API shape.
type alertJSON struct {
	Labels          map[string]string `json:"labels"`
	Annotations     map[string]string `json:"annotations"`
	State           string            `json:"state"`
	ActiveAt        *time.Time        `json:"activeAt,omitempty"`
	KeepFiringSince *time.Time        `json:"keepFiringSince,omitempty"`
	Value           string            `json:"value"`
}

func toJSON(a Alert) alertJSON {
	j := alertJSON{Labels: a.Labels.Map(), Annotations: a.Annotations.Map(), State: a.State.String(),
		Value: strconv.FormatFloat(a.Value, 'e', -1, 64)}
	if !a.ActiveAt.IsZero() {
		t := a.ActiveAt
		j.ActiveAt = &t
	}
	if !a.KeepFiringSince.IsZero() {
		t := a.KeepFiringSince
		j.KeepFiringSince = &t
	}
	return j
}

func (e *Evaluator) serveAlerts(w http.ResponseWriter, r *http.Request) {
	alerts := []alertJSON{}
	for _, a := range e.Alerts() {
		alerts = append(alerts, toJSON(a))
	}
	writeOK(w, r, map[string]any{"alerts": alerts})
}

func (e *Evaluator) serveRules(w http.ResponseWriter, r *http.Request) {
	typ := r.URL.Query().Get("type") // "alert" or "record", as Prometheus
	if typ != "" && typ != "alert" && typ != "record" {
		badData(w, r, "type: want alert or record")
		return
	}
	e.mu.RLock()
	defer e.mu.RUnlock()
	groups := []map[string]any{}
	for _, g := range e.groups {
		rs := []map[string]any{}
		for _, ru := range g.rules {
			m := map[string]any{"name": ru.r.Name(), "query": ru.r.Expr, "health": ru.health,
				"evaluationTime": ru.evalDur.Seconds(), "lastEvaluation": ru.lastEval.UTC().Format(time.RFC3339Nano)}
			if ru.lastErr != "" {
				m["lastError"] = ru.lastErr
			}
			if ru.r.Record != "" {
				if typ == "alert" {
					continue
				}
				m["type"], m["labels"] = "recording", map[string]string{}
				rs = append(rs, m)
				continue
			}
			if typ == "record" {
				continue
			}
			state := Inactive
			alerts := []alertJSON{}
			for _, a := range ru.active {
				if a.State == Inactive {
					continue
				}
				state = max(state, a.State)
				alerts = append(alerts, toJSON(*a))
			}
			m["type"], m["state"], m["duration"], m["keepFiringFor"] = "alerting", state.String(), ru.r.For.Seconds(), ru.r.KeepFiringFor.Seconds()
			m["labels"], m["annotations"], m["alerts"] = ru.r.Labels(), ru.r.Annotations(), alerts
			rs = append(rs, m)
		}
		groups = append(groups, map[string]any{"name": g.name, "file": "vitals-alerts.yaml", "rules": rs,
			"interval": g.interval.Seconds(), "limit": 0, "evaluationTime": g.evalDur.Seconds(),
			"lastEvaluation": g.lastEval.UTC().Format(time.RFC3339Nano)})
	}
	writeOK(w, r, map[string]any{"groups": groups})
}

func sortStrings(s []string) { slices.Sort(s) }
