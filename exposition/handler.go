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
	// could not be encoded, runtime collector errors and runtime families
	// skipped for a name collision (once per name). Nothing request-specific
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

	// DisableRuntimeMetrics leaves out the Go runtime and process metrics
	// (client_golang's Go collector with go_sched_latencies_seconds and the
	// stop-the-world pause histograms added, and its process collector).
	// Default false: they are exported, merged after the vitals families.
	DisableRuntimeMetrics bool

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
// vitals_scrape_errors_total, vitals_scrape_rejected_total); several
// Handlers on one registry share them. It panics if reg is nil.
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
	if !o.DisableRuntimeMetrics {
		h.runtime = newRuntimeSource(o.Logger)
	}
	return h
}

type handler struct {
	reg        *metric.Registry
	logger     *slog.Logger
	tokenHash  *[sha256.Size]byte // nil: no authentication
	sem        chan struct{}      // nil: no in-flight limit
	noCompress bool
	runtime    *runtimeSource // nil: runtime metrics disabled
	self       *selfMetrics
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

// encode writes the vitals families and then the runtime families to out.
// Only write errors are returned; a family that fails to encode is logged,
// counted and left out.
func (h *handler) encode(out io.Writer, f format, filter func(string) bool) error {
	e := getEncoder(out)
	defer putEncoder(e)

	var runtime []*dto.MetricFamily
	if h.runtime != nil {
		var err error
		runtime, err = h.runtime.gather(h.reg, filter)
		if err != nil {
			h.self.errRuntime.Inc()
			h.logError("gathering runtime metrics failed; exporting what was gathered", err, f)
		}
	}

	switch f {
	case formatText:
		e.writeRegistry(h.reg, filter)
		for _, mf := range runtime {
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
	default:
		ft := expfmt.NewFormat(expfmt.TypeProtoDelim)
		if f == formatOpenMetrics {
			ft = expfmt.NewFormat(expfmt.TypeOpenMetrics)
		}
		enc := expfmt.NewEncoder(e, ft)
		var clash map[string]bool
		if f == formatOpenMetrics {
			clash = openMetricsClashes(h.reg, runtime, filter)
		}
		put := func(mf *dto.MetricFamily) {
			if clash[mf.GetName()] {
				mf = counterAsUnknown(mf)
			}
			mark := len(e.buf)
			if err := enc.Encode(mf); err != nil {
				e.truncate(mark)
				h.encodeFailed(mf.GetName(), err, f)
			}
			e.maybeFlush()
		}
		for _, fam := range h.reg.Families() {
			if e.err != nil {
				break
			}
			if filter != nil && !filter(fam.Name) {
				continue
			}
			if mf := familyToDTO(fam, &e.hv, f == formatProtobuf); mf != nil {
				put(mf)
			}
		}
		for _, mf := range runtime {
			if e.err != nil {
				break
			}
			put(mf)
		}
		if c, ok := enc.(expfmt.Closer); ok && e.err == nil {
			// OpenMetrics' "# EOF"; a no-op for protobuf.
			if err := c.Close(); err != nil {
				h.encodeFailed("", err, f)
			}
		}
	}
	e.flush()
	if e.err != nil {
		return &writeError{e.err}
	}
	return nil
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
