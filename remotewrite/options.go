package remotewrite

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/bizra/vitals/metric"
)

// Version is a Prometheus Remote-Write protocol version.
type Version uint8

// The protocol versions a Writer speaks.
const (
	// V1 is Remote-Write 1.0 (prometheus.WriteRequest). Histograms are
	// sent as classic _bucket/_sum/_count series, which every receiver
	// that speaks 1.0 accepts.
	V1 Version = 1
	// V2 is Remote-Write 2.0 (io.prometheus.write.v2.Request): native
	// histograms at schema 6, metadata (type, help, unit) and start
	// (created) timestamps on every series, labels interned per request.
	V2 Version = 2
)

// String returns "1.0" or "2.0".
func (v Version) String() string {
	switch v {
	case V1:
		return "1.0"
	case V2:
		return "2.0"
	}
	return fmt.Sprintf("Version(%d)", uint8(v))
}

// ParseVersion accepts "1", "1.0", "2" and "2.0".
func ParseVersion(s string) (Version, error) {
	switch strings.TrimSpace(s) {
	case "1", "1.0", "1.0.0":
		return V1, nil
	case "2", "2.0", "2.0.0":
		return V2, nil
	}
	return 0, fmt.Errorf("remote write version %q: want 1 or 2", s)
}

// Defaults of Options and Endpoint.
const (
	DefaultInterval          = 15 * time.Second
	DefaultTimeout           = 30 * time.Second
	DefaultMaxQueueBytes     = 512 << 20
	DefaultMaxQueueAge       = 6 * time.Hour
	DefaultMaxSamplesPerSend = 2000
	DefaultMaxShards         = 8
	DefaultMinBackoff        = 30 * time.Millisecond
	DefaultMaxBackoff        = 5 * time.Second
	DefaultMaxRetryAfter     = 5 * time.Minute
	DefaultFlushTimeout      = 5 * time.Second
)

// Options configure a Writer. The zero value (or nil) is valid but sends
// nowhere: set at least one Endpoint.
type Options struct {
	// Endpoints are the receivers. Each gets its own durable queue, shards
	// and self-metrics; one slow or failing endpoint never holds back
	// another.
	Endpoints []Endpoint

	// Interval between two reads of the registry. Default
	// DefaultInterval (15 s).
	Interval time.Duration

	// Job and Instance become the job and instance labels of every series
	// (unless a series has its own). Default: Job "vitals", Instance the
	// host name.
	Job, Instance string
	// ExternalLabels are added to every series that does not already have
	// a label of the same name, as Prometheus' external_labels are. Job
	// and Instance win over entries named job or instance.
	ExternalLabels map[string]string

	// Filter, when set, decides once per series whether it is sent. It is
	// called with the family and the series the first time the Writer
	// sees the series, never under a vitals lock; the answer is kept.
	Filter func(f *metric.Family, s *metric.Series) bool

	// Dir is the directory of the durable queues (one subdirectory per
	// endpoint). "" keeps queues in memory only: data survives a receiver
	// outage up to MaxQueueBytes, but not a restart of the service.
	Dir string
	// MaxQueueBytes bounds each endpoint's queue. When a new push would go
	// past it, the oldest unsent data is dropped and counted
	// (reason="queue_full"). Default DefaultMaxQueueBytes (512 MiB).
	MaxQueueBytes int64
	// MaxQueueAge drops queued pushes older than this instead of sending
	// them (reason="too_old"): most receivers refuse samples that old.
	// Default DefaultMaxQueueAge (6 h).
	MaxQueueAge time.Duration
	// FlushTimeout is how long Close waits for the queues to drain after
	// the final push. What is left stays on disk for the next start.
	// Default DefaultFlushTimeout (5 s); negative waits not at all.
	FlushTimeout time.Duration

	// Logger receives the Writer's logs (receiver errors at most once a
	// minute per endpoint). Default slog.Default().
	Logger *slog.Logger
	// Version is reported in the User-Agent header. Default "dev".
	Version string
}

// Endpoint is one remote-write receiver.
type Endpoint struct {
	// URL of the receiver's write path, for example
	// http://prometheus:9090/api/v1/write. Credentials in the URL are
	// used but never logged or exported.
	URL string
	// Name labels this endpoint's self-metrics and logs. Default: the URL
	// without credentials, query or fragment.
	Name string
	// Version is the protocol. Default V1.
	Version Version

	// BasicAuth, when set, authenticates every request.
	BasicAuth *BasicAuth
	// BearerToken, when set, is sent as "Authorization: Bearer <token>".
	BearerToken string
	// TLS configures https endpoints (client certificates, private CAs).
	// Nil uses the system roots.
	TLS *tls.Config
	// Headers are added to every request (tenant headers and the like).
	// They cannot replace the protocol headers.
	Headers map[string]string

	// Timeout bounds one HTTP request, connection and response included.
	// Default DefaultTimeout (30 s).
	Timeout time.Duration
	// MaxSamplesPerSend caps the samples (a histogram counts as one) in
	// one request; a push larger than that is split into several requests
	// sent in parallel by up to MaxShards shards. Default
	// DefaultMaxSamplesPerSend (2000).
	MaxSamplesPerSend int
	// MaxShards caps the requests of one push in flight at once. The
	// Writer starts with one shard and adds shards while a push takes
	// longer than half the interval to send. Default DefaultMaxShards (8).
	MaxShards int
	// MinBackoff and MaxBackoff bound the exponential backoff (with
	// jitter) between retries of a failed request. Defaults
	// DefaultMinBackoff (30 ms) and DefaultMaxBackoff (5 s).
	MinBackoff, MaxBackoff time.Duration
	// MaxRetryAfter caps how long a Retry-After header can make the Writer
	// wait. Default DefaultMaxRetryAfter (5 min).
	MaxRetryAfter time.Duration
}

// BasicAuth holds HTTP basic-auth credentials.
type BasicAuth struct {
	Username, Password string
}

func (e *Endpoint) applyDefaults() error {
	u, err := url.Parse(e.URL)
	if err != nil {
		return fmt.Errorf("remote write URL: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return fmt.Errorf("remote write URL %q: want http:// or https:// and a host", redact(u))
	}
	if e.Name == "" {
		e.Name = redact(u)
	}
	if e.Version == 0 {
		e.Version = V1
	}
	if e.Version != V1 && e.Version != V2 {
		return fmt.Errorf("remote write %s: version %d: want 1 or 2", e.Name, e.Version)
	}
	if e.Timeout <= 0 {
		e.Timeout = DefaultTimeout
	}
	if e.MaxSamplesPerSend <= 0 {
		e.MaxSamplesPerSend = DefaultMaxSamplesPerSend
	}
	if e.MaxShards <= 0 {
		e.MaxShards = DefaultMaxShards
	}
	if e.MinBackoff <= 0 {
		e.MinBackoff = DefaultMinBackoff
	}
	if e.MaxBackoff <= 0 {
		e.MaxBackoff = DefaultMaxBackoff
	}
	if e.MaxBackoff < e.MinBackoff {
		e.MaxBackoff = e.MinBackoff
	}
	if e.MaxRetryAfter <= 0 {
		e.MaxRetryAfter = DefaultMaxRetryAfter
	}
	for k := range e.Headers {
		switch strings.ToLower(k) {
		case "content-type", "content-encoding", "x-prometheus-remote-write-version", "user-agent", "authorization", "content-length":
			return fmt.Errorf("remote write %s: header %s is set by the writer", e.Name, k)
		}
	}
	if e.BasicAuth != nil && e.BearerToken != "" {
		return fmt.Errorf("remote write %s: set BasicAuth or BearerToken, not both", e.Name)
	}
	return nil
}

// redact renders u without user info, query or fragment: safe for logs
// and label values.
func redact(u *url.URL) string {
	c := *u
	c.User = nil
	c.RawQuery = ""
	c.ForceQuery = false
	c.Fragment = ""
	return c.String()
}
