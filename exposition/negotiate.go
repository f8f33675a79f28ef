package exposition

import (
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/prometheus/common/expfmt"
)

// The Content-Type of each format the Handler serves, exactly as sent.
// Prometheus v3 refuses a scrape whose Content-Type it does not know.
const (
	// ContentTypeText is the Prometheus text format 0.0.4, served when the
	// request has no Accept header or asks for nothing else we serve.
	ContentTypeText = "text/plain; version=0.0.4; charset=utf-8"
	// ContentTypeOpenMetrics is OpenMetrics 1.0.0.
	ContentTypeOpenMetrics = "application/openmetrics-text; version=1.0.0; charset=utf-8"
	// ContentTypeProtobuf is length-delimited io.prometheus.client.MetricFamily
	// messages, the only format that carries native histograms.
	ContentTypeProtobuf = "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited"

	// contentTypeOpenMetrics001 answers clients that ask for OpenMetrics
	// 0.0.1 only; its encoding is the same as 1.0.0's.
	contentTypeOpenMetrics001 = "application/openmetrics-text; version=0.0.1; charset=utf-8"
)

// format is an exposition format the Handler serves.
type format uint8

const (
	formatText format = iota
	formatOpenMetrics
	formatProtobuf
	numFormats
)

// String returns the value of the format label of the scrape self-metrics.
func (f format) String() string {
	switch f {
	case formatOpenMetrics:
		return "openmetrics"
	case formatProtobuf:
		return "protobuf"
	}
	return "text"
}

// offered is what the Handler negotiates over, in order of preference when
// the client's q-values tie: the same order as
// expfmt.NegotiateIncludingOpenMetrics, without the protobuf text formats
// (debugging formats no scraper asks for).
var offered = []expfmt.Format{
	expfmt.FmtOpenMetrics_1_0_0,
	expfmt.FmtOpenMetrics_0_0_1,
	expfmt.FmtProtoDelim,
	expfmt.FmtText,
}

// negotiate picks the format and the exact Content-Type for an Accept
// header. Anything it does not recognise gets the text format.
func negotiate(accept string) (format, string) {
	if accept == "" {
		return formatText, ContentTypeText
	}
	slot := &negotiated[len(accept)%len(negotiated)]
	if c := slot.Load(); c != nil && c.accept == accept {
		return c.f, c.contentType
	}
	f, ct := negotiateSlow(accept)
	if len(accept) <= maxCachedAccept {
		slot.Store(&negotiation{accept: accept, f: f, contentType: ct})
	}
	return f, ct
}

// A scraper sends the same Accept header on every scrape, and
// expfmt.NegotiateAccept allocates a dozen times to parse it: the last few
// answers are kept, keyed by the header (a slot per length modulo 4, so a
// Prometheus HA pair and a person with curl do not evict each other).
var negotiated [4]atomic.Pointer[negotiation]

// maxCachedAccept keeps an odd, huge Accept header from being retained.
const maxCachedAccept = 512

type negotiation struct {
	accept      string
	f           format
	contentType string
}

func negotiateSlow(accept string) (format, string) {
	accept = dropRefused(accept)
	if accept == "" {
		return formatText, ContentTypeText
	}
	h := http.Header{"Accept": []string{accept}}
	f := expfmt.NegotiateAccept(h, offered...)
	switch f.FormatType() {
	case expfmt.TypeOpenMetrics:
		// The negotiated value carries an escaping parameter we do not
		// send (vitals names never need escaping); only the version
		// decides the Content-Type.
		if f.Version() == expfmt.OpenMetricsVersion_0_0_1 {
			return formatOpenMetrics, contentTypeOpenMetrics001
		}
		return formatOpenMetrics, ContentTypeOpenMetrics
	case expfmt.TypeProtoDelim:
		return formatProtobuf, ContentTypeProtobuf
	}
	return formatText, ContentTypeText
}

// dropRefused removes the media ranges an Accept header marks as not
// acceptable (q=0), which expfmt.NegotiateAccept would otherwise match.
func dropRefused(accept string) string {
	if !strings.Contains(accept, "q=0") && !strings.Contains(accept, "Q=0") {
		return accept // the common case, without allocating
	}
	var b strings.Builder
	for rest := accept; rest != ""; {
		var clause string
		clause, rest, _ = strings.Cut(rest, ",")
		_, params, _ := strings.Cut(clause, ";")
		if !qAboveZero(params) {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(clause)
	}
	return b.String()
}

// acceptsGzip reports whether an Accept-Encoding header lists gzip (or
// x-gzip) with a q-value above zero. A bare "*" is not taken as a request
// for gzip: compression costs CPU and is only done when asked for by name.
func acceptsGzip(header string) bool {
	for header != "" {
		var part string
		part, header, _ = strings.Cut(header, ",")
		coding, params, _ := strings.Cut(part, ";")
		coding = strings.TrimSpace(coding)
		if !strings.EqualFold(coding, "gzip") && !strings.EqualFold(coding, "x-gzip") {
			continue
		}
		return qAboveZero(params)
	}
	return false
}

// qAboveZero reads the q parameter of an Accept or Accept-Encoding
// element's parameters; a missing or malformed q counts as 1.
func qAboveZero(params string) bool {
	for params != "" {
		var p string
		p, params, _ = strings.Cut(params, ";")
		k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
		if !ok || !strings.EqualFold(strings.TrimSpace(k), "q") {
			continue
		}
		q, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil {
			return true
		}
		return q > 0
	}
	return true
}
