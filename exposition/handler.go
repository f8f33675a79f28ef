package exposition

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/klauspost/compress/gzip"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"

	"github.com/bizra/vitals/metric"
)

// DefaultMaxRequestsInFlight is the in-flight scrape limit of a Handler
// whose HandlerOpts leave MaxRequestsInFlight at 0. A scrape holds one
// 32 KiB buffer and a CPU while it encodes; a Prometheus HA pair plus a
// person with curl stays well below the limit, a scrape storm does not.
const DefaultMaxRequestsInFlight = 8

// HandlerOpts configures Handler. The zero value (or nil) is the default
// described on each field. Handler copies it; later changes have no effect.
type HandlerOpts struct {
	// Logger receives scrape errors: broken connections, families that
	// could not be encoded, gatherer and runtime collector errors,
	// panicking metric callbacks (once per series) and runtime or gathered
	// families skipped for a name collision (once per name). Nothing request-specific
	// beyond the error is logged; the bearer token never is.
	// Default nil: nothing is logged. Errors are counted in
	// vitals_scrape_errors_total either way.
	Logger *slog.Logger

	// BearerToken, when set, must be presented as
	// "Authorization: Bearer <token>"; other requests get 401 with a
	// WWW-Authenticate header. The comparison takes constant time.
	// Default "": no authentication. Mount the handler on an admin
	// listener, or set a token, before exposing it beyond localhost.
	BearerToken string

	// MaxRequestsInFlight caps concurrent scrapes; requests beyond it get
	// 503 at once rather than queueing behind slow ones. Default 0 means
	// DefaultMaxRequestsInFlight; a negative value means no limit.
	MaxRequestsInFlight int

	// DisableRuntimeMetrics leaves out the Go runtime and process metrics.
	// Default false: they are exported after the vitals families, read
	// natively (runtime/metrics, and /proc/self on Linux) under the names,
	// types, units and HELP of client_golang's default Go and process
	// collectors, plus go_sched_latencies_seconds, the stop-the-world
	// pause histograms go_sched_pauses_{stopping,total}_{gc,other}_seconds
	// and the GC CPU counters GCCPUSecondsName and TotalCPUSecondsName.
	// A vitals family with the name of a runtime family wins; the runtime
	// one is left out, logged once and counted in ScrapeSkippedName.
	DisableRuntimeMetrics bool

	// ClientGolangRuntime reads the runtime and process metrics through
	// client_golang's collectors (collectors.NewGoCollector with the same
	// additions, collectors.NewProcessCollector) instead of natively: the
	// same families, plus the process metrics client_golang reads on
	// darwin and Windows that vitals does not, at about 400 µs and 1,100
	// allocations per scrape (BenchmarkHandler in bench/). Their errors
	// are counted with cause "runtime". Default false. Ignored when
	// DisableRuntimeMetrics is set.
	ClientGolangRuntime bool

	// Gatherers are served after the vitals and runtime families, so that
	// a service with metrics in a client_golang registry serves them
	// through this handler too. A gathered family whose name a vitals or
	// runtime family (or an earlier gatherer) already has is left out:
	// vitals wins; the skip is logged once per name and counted in
	// ScrapeSkippedName. A gatherer's error is logged and counted (cause
	// "gather"), and the families it returned are served. Gathered
	// families cost what client_golang's encoders cost. Default nil.
	Gatherers []prometheus.Gatherer

	// DisableCompression never compresses responses. Default false:
	// responses are gzipped (at BestSpeed) when, and only when, the
	// request's Accept-Encoding names gzip.
	DisableCompression bool
}

// Handler returns the /metrics handler for reg. It serves GET and HEAD
// (405 otherwise) and negotiates the format on the Accept header:
// OpenMetrics 1.0.0, delimited protobuf (classic and native histograms) or,
// by default, the Prometheus text format 0.0.4. Repeated name[] query
// parameters restrict the output to the families named, as promhttp does;
// a malformed query string gets 400. See HandlerOpts for authentication,
// the in-flight limit, compression and runtime metrics.
//
// Handler registers its self-metrics in reg (vitals_scrape_duration_seconds,
// vitals_scrape_errors_total, vitals_scrape_rejected_total,
// vitals_scrape_skipped_families_total); several Handlers on one registry
// share them. It panics if reg is nil.
//
// The handler starts no goroutines and is safe for concurrent use. Metrics
// are streamed as they are encoded, so an error half-way through (a client
// that hangs up) truncates the response rather than turning it into a 500.
func Handler(reg *metric.Registry, opts *HandlerOpts) http.Handler {
	if reg == nil {
		panic("vitals/exposition: Handler needs a non-nil *metric.Registry")
	}
	var o HandlerOpts
	if opts != nil {
		o = *opts
	}
	h := &handler{
		reg:        reg,
		logger:     o.Logger,
		noCompress: o.DisableCompression,
		self:       newSelfMetrics(reg),
	}
	if o.BearerToken != "" {
		sum := sha256.Sum256([]byte(o.BearerToken))
		h.tokenHash = &sum
	}
	switch n := o.MaxRequestsInFlight; {
	case n == 0:
		h.sem = make(chan struct{}, DefaultMaxRequestsInFlight)
	case n > 0:
		h.sem = make(chan struct{}, n)
	}
	switch {
	case o.DisableRuntimeMetrics:
	case o.ClientGolangRuntime:
		h.bridge = newRuntimeBridge()
	default:
		h.runtime = runtimeTable()
	}
	for _, g := range o.Gatherers {
		if g != nil {
			h.gatherers = append(h.gatherers, g)
		}
	}
	return h
}

type handler struct {
	reg        *metric.Registry
	logger     *slog.Logger
	tokenHash  *[sha256.Size]byte // nil: no authentication
	sem        chan struct{}      // nil: no in-flight limit
	noCompress bool
	runtime    *rtTable              // native runtime metrics; nil: off
	bridge     prometheus.Gatherer   // client_golang's runtime collectors; nil: off
	gatherers  []prometheus.Gatherer // extra gatherers
	self       *selfMetrics

	logged sync.Map // names of skipped families and IDs of panicking series, logged once
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		h.self.rejMethod.Inc()
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed: use GET or HEAD", http.StatusMethodNotAllowed)
		return
	}
	if h.tokenHash != nil && !h.authorized(r) {
		h.self.rejUnauthorized.Inc()
		w.Header().Set("WWW-Authenticate", `Bearer realm="metrics"`)
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	if h.sem != nil {
		select {
		case h.sem <- struct{}{}:
			defer func() { <-h.sem }()
		default:
			h.self.rejOverloaded.Inc()
			w.Header().Set("Retry-After", "1")
			http.Error(w, "too many scrapes in flight", http.StatusServiceUnavailable)
			return
		}
	}
	filter, err := nameFilter(r.URL.RawQuery)
	if err != nil {
		h.self.rejBadRequest.Inc()
		http.Error(w, "bad request: malformed query string", http.StatusBadRequest)
		return
	}

	f, contentType := negotiate(r.Header.Get("Accept"))
	hdr := w.Header()
	hdr.Set("Content-Type", contentType)
	hdr.Add("Vary", "Accept, Accept-Encoding")
	gz := !h.noCompress && acceptsGzip(r.Header.Get("Accept-Encoding"))
	if gz {
		hdr.Set("Content-Encoding", "gzip")
	}
	if r.Method == http.MethodHead {
		w.WriteHeader(http.StatusOK)
		return
	}

	start := metric.Nanotime()
	var out io.Writer = w
	var zw *gzip.Writer
	if gz {
		zw = gzipPool.Get().(*gzip.Writer)
		zw.Reset(w)
		out = zw
	}
	err = h.encode(out, f, filter)
	if zw != nil {
		if cerr := zw.Close(); err == nil && cerr != nil {
			err = &writeError{cerr}
		}
		zw.Reset(io.Discard) // drop the reference to w
		gzipPool.Put(zw)
	}
	if err != nil {
		h.self.errWrite.Inc()
		// A scraper that timed out and hung up is not a bug here: Warn.
		if h.logger != nil {
			h.logger.Warn("vitals/exposition: writing the response failed",
				slog.String("format", f.String()), slog.Any("error", err))
		}
	}
	h.self.duration[f].Observe(float64(metric.Nanotime()-start) / 1e9)
}

// authorized compares the presented token with the configured one in
// constant time. Both are hashed first so that the comparison does not
// reveal the token's length either.
func (h *handler) authorized(r *http.Request) bool {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	sum := sha256.Sum256([]byte(strings.TrimSpace(token)))
	return subtle.ConstantTimeCompare(sum[:], h.tokenHash[:]) == 1
}

// gzipPool holds writers at BestSpeed: a scrape is read once, by a server
// on the same network, so CPU matters more than the last percent of size.
var gzipPool = sync.Pool{New: func() any {
	zw, _ := gzip.NewWriterLevel(io.Discard, gzip.BestSpeed)
	return zw
}}

// writeError marks an error returned by the response writer, as opposed to
// one from encoding a family (which is logged and skipped).
type writeError struct{ err error }

func (e *writeError) Error() string { return e.err.Error() }
func (e *writeError) Unwrap() error { return e.err }

// encode writes the vitals families, then the runtime families, then
// those of the gatherers, to out. Only write errors are returned; a
// gathered family that fails to encode is logged, counted and left out.
func (h *handler) encode(out io.Writer, f format, filter func(string) bool) error {
	e := getEncoder(out)
	defer putEncoder(e)
	e.onPanic = h.callbackPanicked

	var rt *rtScratch
	if h.runtime != nil {
		rt = rtScratchPool.Get().(*rtScratch)
		defer rtScratchPool.Put(rt)
		h.runtime.read(rt)
		for i := range rt.fams {
			c := &rt.fams[i]
			switch {
			case c.skip:
			case filter != nil && !filter(c.name):
				c.skip = true
			case h.reg.Family(c.name) != nil:
				c.skip = true
				h.skipped(c.name, "runtime metric family skipped: a vitals family has the same name")
			}
		}
	}
	var extra []*dto.MetricFamily
	var extraNames map[string]bool
	if h.bridge != nil || len(h.gatherers) > 0 {
		extra, extraNames = h.gatherExtra(filter, rt, f)
	}

	switch f {
	case formatText:
		e.writeRegistry(h.reg, filter)
		if rt != nil {
			for i := range rt.fams {
				if c := &rt.fams[i]; !c.skip && e.err == nil {
					e.writeConstText(c)
					e.maybeFlush()
				}
			}
		}
		for _, mf := range extra {
			if e.err != nil {
				break
			}
			mark := len(e.buf)
			if _, err := expfmt.MetricFamilyToText(e, mf); err != nil {
				e.truncate(mark)
				h.encodeFailed(mf.GetName(), err, f)
			}
			e.maybeFlush()
		}
	case formatOpenMetrics:
		clash := func(name string) bool {
			base, ok := strings.CutSuffix(name, "_total")
			return ok && h.exposed(base, filter, rt, extraNames)
		}
		for _, fam := range h.reg.Families() {
			if e.err != nil {
				break
			}
			if filter != nil && !filter(fam.Name) {
				continue
			}
			e.writeFamilyOM(fam, fam.Kind == metric.KindCounter && clash(fam.Name))
			e.maybeFlush()
		}
		if rt != nil {
			for i := range rt.fams {
				if c := &rt.fams[i]; !c.skip && e.err == nil {
					e.writeConstOM(c, c.kind == constCounter && clash(c.name))
					e.maybeFlush()
				}
			}
		}
		for _, mf := range extra {
			if e.err != nil {
				break
			}
			if mf.GetType() == dto.MetricType_COUNTER && clash(mf.GetName()) {
				mf = counterAsUnknown(mf)
			}
			mark := len(e.buf)
			if _, err := expfmt.MetricFamilyToOpenMetrics(e, mf); err != nil {
				e.truncate(mark)
				h.encodeFailed(mf.GetName(), err, f)
			}
			e.maybeFlush()
		}
		e.buf = append(e.buf, "# EOF\n"...)
	default:
		for _, fam := range h.reg.Families() {
			if e.err != nil {
				break
			}
			if filter != nil && !filter(fam.Name) {
				continue
			}
			e.writeFamilyProto(fam)
			e.maybeFlush()
		}
		if rt != nil {
			for i := range rt.fams {
				if c := &rt.fams[i]; !c.skip && e.err == nil {
					e.writeConstProto(c)
					e.maybeFlush()
				}
			}
		}
		if len(extra) > 0 {
			enc := expfmt.NewEncoder(e, expfmt.NewFormat(expfmt.TypeProtoDelim))
			for _, mf := range extra {
				if e.err != nil {
					break
				}
				mark := len(e.buf)
				if err := enc.Encode(mf); err != nil {
					e.truncate(mark)
					h.encodeFailed(mf.GetName(), err, f)
				}
				e.maybeFlush()
			}
		}
	}
	e.flush()
	if e.err != nil {
		return &writeError{e.err}
	}
	return nil
}

// exposed reports whether a family named name is in this scrape: a vitals
// family with series, a runtime family not skipped, or a gathered family.
func (h *handler) exposed(name string, filter func(string) bool, rt *rtScratch, extra map[string]bool) bool {
	if filter != nil && !filter(name) {
		return false
	}
	if fam := h.reg.Family(name); fam != nil {
		return len(fam.Series()) > 0
	}
	if rt != nil {
		if i, ok := h.runtime.byName[name]; ok && !rt.fams[i].skip {
			return true
		}
	}
	return extra[name]
}

// skipped counts a family left out for a name collision and logs it once
// per name.
func (h *handler) skipped(name, msg string) {
	h.self.skipped.Inc()
	if _, dup := h.logged.LoadOrStore(name, struct{}{}); !dup && h.logger != nil {
		h.logger.Warn("vitals/exposition: "+msg, slog.String("family", name))
	}
}

// callbackPanicked counts a GaugeFunc or CounterFunc callback that
// panicked during a scrape (its series read NaN) and logs it once per
// series.
func (h *handler) callbackPanicked(f *metric.Family, s *metric.Series, r any) {
	h.self.errCallback.Inc()
	if _, dup := h.logged.LoadOrStore(s.ID, struct{}{}); !dup && h.logger != nil {
		h.logger.Error("vitals/exposition: a metric callback panicked; its series reads NaN",
			slog.String("family", f.Name), slog.String("labels", s.Text), slog.Any("panic", r))
	}
}

func (h *handler) encodeFailed(family string, err error, f format) {
	h.self.errEncode.Inc()
	if h.logger != nil {
		h.logger.Error("vitals/exposition: metric family left out of the scrape",
			slog.String("family", family), slog.String("format", f.String()), slog.Any("error", err))
	}
}

func (h *handler) logError(msg string, err error, f format) {
	if h.logger != nil {
		h.logger.Error("vitals/exposition: "+msg, slog.String("format", f.String()), slog.Any("error", err))
	}
}

// errBadQuery is returned by nameFilter for a query string that does not
// parse.
var errBadQuery = errors.New("malformed query string")

// nameFilter returns the family filter of a request's query string: nil
// (everything) without name[] parameters, else a filter that accepts the
// names listed. Unknown names simply match nothing.
func nameFilter(rawQuery string) (func(string) bool, error) {
	if rawQuery == "" {
		return nil, nil
	}
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return nil, errBadQuery
	}
	names, ok := q["name[]"]
	if !ok {
		return nil, nil
	}
	set := make(map[string]struct{}, len(names))
	for _, n := range names {
		set[n] = struct{}{}
	}
	return func(name string) bool {
		_, ok := set[name]
		return ok
	}, nil
}
