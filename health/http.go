package health

import (
	"bytes"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/bizra/vitals/internal/httpx"
	"github.com/bizra/vitals/score"
)

// Content types of the health endpoints.
const (
	// ContentTypeHealthJSON is application/health+json (the IETF draft
	// "Health Check Response Format for HTTP APIs").
	ContentTypeHealthJSON = "application/health+json"
	// ContentTypeText answers ?verbose, one line per check for humans.
	ContentTypeText = "text/plain; charset=utf-8"
)

// The paths Handler serves. Each probe path also serves one check at
// <path>/<check name>.
const (
	PathLive        = "/health/live"
	PathReady       = "/health/ready"
	PathPerformance = "/health/performance"
	PathLivez       = "/livez"
	PathReadyz      = "/readyz"
)

// maxExcludes bounds ?exclude= values: an engine has at most 100 checks.
const maxExcludes = 100

// Mount registers Handler on mux at every path it serves, and under
// /health/ so that an unknown path there gets a JSON 404 rather than the
// mux's text one.
func (e *Engine) Mount(mux *http.ServeMux) {
	h := e.Handler()
	for _, p := range []string{PathLive, PathReady, PathLivez, PathReadyz} {
		mux.Handle(p, h)
		mux.Handle(p+"/", h)
	}
	mux.Handle(PathPerformance, h)
	mux.Handle("/health/", h)
}

// Handler serves the health endpoints:
//
//	/health/live, /livez       liveness: 200 pass or warn, 503 fail
//	/health/ready, /readyz     readiness: likewise
//	<probe path>/<check>       one check of that probe; 404 for an unknown name
//	/health/performance        component scores, factors and recommendations
//
// Responses are application/health+json; ?verbose answers text/plain, one
// line per check. ?exclude=<check> (repeatable, or comma-separated)
// leaves checks out of a probe's status; unknown names are ignored and
// listed in "notes". Every response carries Cache-Control: no-store.
// Only GET and HEAD are allowed (405 otherwise); malformed parameters get
// 400 with a JSON error. Probes read the checks' last results and never
// wait for a check to run.
func (e *Engine) Handler() http.Handler { return http.HandlerFunc(e.serveHTTP) }

func (e *Engine) serveHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		httpx.WriteError(w, r, http.StatusMethodNotAllowed, "method "+r.Method+" not allowed: use GET or HEAD")
		return
	}
	q, err := parseProbeQuery(r.URL.RawQuery)
	if err != nil {
		httpx.WriteError(w, r, http.StatusBadRequest, err.Error())
		return
	}
	path := r.URL.Path
	if path == PathPerformance {
		e.servePerformance(w, r, q)
		return
	}
	for _, route := range [...]struct {
		prefix, short string
		kind          Kind
	}{
		{PathLive, "livez", Liveness}, {PathLivez, "livez", Liveness},
		{PathReady, "readyz", Readiness}, {PathReadyz, "readyz", Readiness},
	} {
		if path == route.prefix || path == route.prefix+"/" {
			e.serveProbe(w, r, route.kind, route.short, q)
			return
		}
		if name, ok := strings.CutPrefix(path, route.prefix+"/"); ok {
			e.serveCheck(w, r, route.kind, name, q)
			return
		}
	}
	httpx.NotFound(w, r)
}

// probeQuery is a probe request's parameters.
type probeQuery struct {
	verbose bool
	exclude []string
}

// parseProbeQuery reads ?verbose and ?exclude=; other parameters are
// ignored (probes and proxies add their own).
func parseProbeQuery(raw string) (probeQuery, error) {
	var q probeQuery
	if raw == "" {
		return q, nil
	}
	vals, err := url.ParseQuery(raw)
	if err != nil {
		return q, errors.New("malformed query string: " + err.Error())
	}
	for _, v := range vals["verbose"] {
		switch strings.ToLower(v) {
		case "", "1", "true", "yes":
			q.verbose = true
		case "0", "false", "no":
			q.verbose = false
		default:
			return q, errors.New("verbose: want no value, true or false, got " + strconv.Quote(clip(v)))
		}
	}
	for _, v := range vals["exclude"] {
		for name := range strings.SplitSeq(v, ",") {
			name = strings.TrimSpace(name)
			if name == "" {
				continue
			}
			if !validName(name) {
				return q, errors.New("exclude: " + strconv.Quote(clip(name)) + " cannot name a check")
			}
			if len(q.exclude) == maxExcludes {
				return q, errors.New("exclude: more than " + strconv.Itoa(maxExcludes) + " names")
			}
			q.exclude = append(q.exclude, name)
		}
	}
	return q, nil
}

// clip keeps echoed input short in error messages.
func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}

func (e *Engine) serveProbe(w http.ResponseWriter, r *http.Request, k Kind, short string, q probeQuery) {
	ps := e.Status(k, q.exclude...)
	var notes []string
	for _, x := range q.exclude {
		found := false
		for _, c := range ps.Checks {
			found = found || c.Name == x
		}
		if !found {
			notes = append(notes, "exclude: no "+k.String()+" check named "+strconv.Quote(x)+"; ignored")
		}
	}
	if q.verbose {
		var b bytes.Buffer
		for _, n := range notes {
			b.WriteString("warning: " + n + "\n")
		}
		for _, c := range ps.Checks {
			writeLine(&b, c)
		}
		b.WriteString(short + " check ")
		if ps.Status == score.Fail {
			b.WriteString("failed\n")
		} else {
			b.WriteString("passed\n")
		}
		httpx.WriteBody(w, r, statusCode(ps.Status), ContentTypeText, b.Bytes())
		return
	}
	doc := e.document(ps.Status)
	doc.Notes = notes
	doc.Checks = make(map[string][]checkJSON, len(ps.Checks))
	var failing []string
	for _, c := range ps.Checks {
		doc.Checks[c.Name] = []checkJSON{toCheckJSON(c)}
		if !c.Excluded && c.Status == score.Fail {
			failing = append(failing, c.Name)
		}
	}
	if len(failing) > 0 {
		doc.Output = "failing: " + strings.Join(failing, ", ")
	}
	httpx.WriteJSONAs(w, r, statusCode(ps.Status), ContentTypeHealthJSON, doc)
}

func (e *Engine) serveCheck(w http.ResponseWriter, r *http.Request, k Kind, name string, q probeQuery) {
	c, ok := e.Check(name)
	if !ok || c.Kind != k {
		httpx.WriteError(w, r, http.StatusNotFound, "no "+k.String()+" check named "+strconv.Quote(clip(name)))
		return
	}
	if q.verbose {
		var b bytes.Buffer
		writeLine(&b, c)
		httpx.WriteBody(w, r, statusCode(c.Status), ContentTypeText, b.Bytes())
		return
	}
	doc := e.document(c.Status)
	doc.Checks = map[string][]checkJSON{c.Name: {toCheckJSON(c)}}
	if c.Status != score.Pass {
		doc.Output = c.Output
	}
	httpx.WriteJSONAs(w, r, statusCode(c.Status), ContentTypeHealthJSON, doc)
}

// writeLine renders a check the way Kubernetes' ?verbose does, with warn
// as a third state: "[+]name ok", "[!]name warn: ...", "[-]name failed: ...".
func writeLine(b *bytes.Buffer, c CheckStatus) {
	switch {
	case c.Excluded:
		b.WriteString("[+]" + c.Name + " excluded: " + c.Status.String())
	case c.Status == score.Pass:
		b.WriteString("[+]" + c.Name + " ok")
	case c.Status == score.Warn:
		b.WriteString("[!]" + c.Name + " warn: " + oneLine(c.Output))
	default:
		b.WriteString("[-]" + c.Name + " failed: " + oneLine(c.Output))
	}
	b.WriteByte('\n')
}

func oneLine(s string) string {
	return strings.NewReplacer("\n", " ", "\r", " ").Replace(s)
}

func (e *Engine) servePerformance(w http.ResponseWriter, r *http.Request, q probeQuery) {
	rep := e.Performance()
	if q.verbose {
		var b bytes.Buffer
		for _, c := range rep.Components {
			mark := "[+]"
			switch c.Status {
			case score.Warn:
				mark = "[!]"
			case score.Fail:
				mark = "[-]"
			}
			b.WriteString(mark + c.Component + " " + formatScore(c.Value) + " " + c.Status.String() + "\n")
			for _, rec := range c.Recommendations {
				b.WriteString("    - " + oneLine(rec) + "\n")
			}
		}
		b.WriteString("overall " + formatScore(rep.Overall.Value) + " " + rep.Overall.Status.String() + "\n")
		httpx.WriteBody(w, r, statusCode(rep.Overall.Status), ContentTypeText, b.Bytes())
		return
	}
	doc := perfJSON{
		healthJSON:      e.document(rep.Overall.Status),
		Score:           rep.Overall.Value,
		Time:            formatTime(rep.Time),
		Recommendations: rep.Overall.Recommendations,
	}
	doc.Checks = make(map[string][]checkJSON, len(rep.Components))
	for _, c := range rep.Components {
		cj := checkJSON{ComponentType: "component", ObservedValue: httpx.Finite(c.Value), ObservedUnit: "score",
			Status: c.Status.String(), Time: formatTime(rep.Time)}
		if len(c.Recommendations) > 0 {
			cj.Output = c.Recommendations[0]
		}
		doc.Checks[c.Component+":score"] = []checkJSON{cj}
		doc.Components = append(doc.Components, c)
	}
	if rep.Overall.Status != score.Pass && len(rep.Overall.Recommendations) > 0 {
		doc.Output = rep.Overall.Recommendations[0]
	}
	httpx.WriteJSONAs(w, r, statusCode(rep.Overall.Status), ContentTypeHealthJSON, doc)
}

func formatScore(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

// statusCode is the HTTP status of a health status: warn still serves.
func statusCode(s score.Status) int {
	if s == score.Fail {
		return http.StatusServiceUnavailable
	}
	return http.StatusOK
}

// healthJSON is an application/health+json document.
type healthJSON struct {
	Status      string                 `json:"status"`
	Version     string                 `json:"version,omitempty"`
	ServiceID   string                 `json:"serviceId,omitempty"`
	Description string                 `json:"description,omitempty"`
	Output      string                 `json:"output,omitempty"`
	Notes       []string               `json:"notes,omitempty"`
	Checks      map[string][]checkJSON `json:"checks,omitempty"`
}

type checkJSON struct {
	ComponentID   string   `json:"componentId,omitempty"`
	ComponentType string   `json:"componentType,omitempty"`
	ObservedValue *float64 `json:"observedValue,omitempty"`
	ObservedUnit  string   `json:"observedUnit,omitempty"`
	Status        string   `json:"status"`
	Time          string   `json:"time,omitempty"`
	Output        string   `json:"output,omitempty"`
	// Excluded is an extension: the check was left out by ?exclude=.
	Excluded bool `json:"excluded,omitempty"`
}

// perfJSON is /health/performance: a health+json document whose checks
// are the component scores, extended with the scores' explanations.
type perfJSON struct {
	healthJSON
	Score           float64       `json:"score"`
	Time            string        `json:"time"`
	Recommendations []string      `json:"recommendations,omitempty"`
	Components      []score.Score `json:"components"`
}

func (e *Engine) document(s score.Status) healthJSON {
	return healthJSON{Status: s.String(), Version: e.opts.Version, ServiceID: e.opts.ServiceID, Description: e.opts.Description}
}

func toCheckJSON(c CheckStatus) checkJSON {
	cj := checkJSON{ComponentID: c.ComponentID, ComponentType: c.ComponentType, Status: c.Status.String(),
		Time: formatTime(c.Time), Excluded: c.Excluded}
	if c.ObservedUnit != "" {
		if v := httpx.Finite(c.ObservedValue); v != nil {
			cj.ObservedValue, cj.ObservedUnit = v, c.ObservedUnit
		}
	}
	if c.Status != score.Pass { // the draft: output is for warn and fail
		cj.Output = c.Output
	}
	return cj
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02T15:04:05.000Z07:00")
}
