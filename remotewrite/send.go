package remotewrite

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
)

// Protocol headers (Remote-Write 1.0 and 2.0 specifications).
const (
	contentTypeV1  = "application/x-protobuf"
	contentTypeV2  = "application/x-protobuf;proto=io.prometheus.write.v2.Request"
	versionHeader  = "X-Prometheus-Remote-Write-Version"
	versionValueV1 = "0.1.0"
	versionValueV2 = "2.0.0"
	// maxMessage bounds what is read of an error response's body: enough
	// for the receiver's message, never an unbounded read.
	maxMessage = 1024
	// drainLimit is how much of a response body is read so the connection
	// can be reused; a larger body closes the connection instead.
	drainLimit = 64 << 10
)

// sender owns one endpoint: its queue, HTTP client and shards.
type sender struct {
	ep       Endpoint
	url      string
	client   *http.Client
	q        *queue
	m        *endpointMetrics
	log      *slog.Logger
	ua       string
	interval time.Duration
	maxAge   time.Duration
	now      func() time.Time

	shards int
	buf    []byte
	parts  []part

	logMu      sync.Mutex
	lastLog    time.Time
	suppressed int
}

type outcome uint8

const (
	sent outcome = iota
	rejected
	retry
	cancelled
)

type result struct {
	outcome    outcome
	reason     string        // retry reason
	retryAfter time.Duration // from a Retry-After header
	status     int
	message    string
}

func newSender(ep Endpoint, q *queue, m *endpointMetrics, log *slog.Logger, ua string, interval, maxAge time.Duration, now func() time.Time) *sender {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = ep.TLS
	tr.MaxIdleConnsPerHost = ep.MaxShards
	tr.ResponseHeaderTimeout = ep.Timeout
	s := &sender{
		ep: ep, url: ep.URL, q: q, m: m, log: log, ua: ua, interval: interval, maxAge: maxAge, now: now,
		client: &http.Client{Transport: tr},
		shards: 1,
	}
	m.shards.Set(1)
	return s
}

// run sends the queue's records, oldest first, until ctx is done. A
// record is acknowledged (removed from the queue) only when each of its
// requests was accepted or refused for good; records are sent one after
// another, so every series' samples reach the receiver in time order.
func (s *sender) run(ctx context.Context) {
	for ctx.Err() == nil {
		if s.maxAge > 0 {
			s.m.drop(ReasonTooOld, s.q.dropBefore(s.now().Add(-s.maxAge).UnixMilli()))
		}
		r, data, lost, ok := s.q.head(s.buf)
		s.m.drop(ReasonCorrupt, lost)
		if !ok {
			select {
			case <-ctx.Done():
				return
			case <-s.q.wake:
			}
			continue
		}
		s.buf = data
		ri, err := decodeRecord(data, s.parts)
		if err != nil {
			s.log.Warn("remote write: dropping a damaged queued push", "endpoint", s.ep.Name, "err", err)
			s.m.drop(ReasonCorrupt, dropped{records: 1, samples: r.samples, hists: r.hists})
			s.q.ack(r.seq)
			continue
		}
		s.parts = ri.parts
		start := time.Now()
		if !s.sendRecord(ctx, &ri) {
			return // stopped: the record stays queued for the next start
		}
		s.q.ack(r.seq)
		s.m.highestAcked.Set(float64(ri.ts) / 1000)
		n, _, _ := s.q.stats()
		s.adapt(time.Since(start), n, len(ri.parts))
	}
}

// adapt sets the number of shards: more while a push takes more than half
// the interval to send (one connection cannot keep up, or a backlog is
// draining), fewer when pushes go through quickly again.
func (s *sender) adapt(took time.Duration, backlog, parts int) {
	switch {
	case (took > s.interval/2 || backlog > 0) && s.shards < s.ep.MaxShards && parts > s.shards:
		s.shards = min(s.shards*2, s.ep.MaxShards)
	case took < s.interval/8 && backlog == 0 && s.shards > 1:
		s.shards--
	default:
		return
	}
	s.m.shards.Set(int64(s.shards))
}

// sendRecord sends ri's parts, up to s.shards at once. It returns false
// when ctx ended first.
func (s *sender) sendRecord(ctx context.Context, ri *recordInfo) bool {
	n := min(s.shards, len(ri.parts))
	if n <= 1 {
		for i := range ri.parts {
			if !s.sendPart(ctx, ri, &ri.parts[i]) {
				return false
			}
		}
		return true
	}
	var next atomic.Int64
	var stopped atomic.Bool
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(ri.parts) {
					return
				}
				if !s.sendPart(ctx, ri, &ri.parts[i]) {
					stopped.Store(true)
					return
				}
			}
		})
	}
	wg.Wait()
	return !stopped.Load()
}

// sendPart sends one request until it is accepted, refused for good, too
// old to be worth sending, or ctx ends (false).
func (s *sender) sendPart(ctx context.Context, ri *recordInfo, p *part) bool {
	backoff := s.ep.MinBackoff
	for attempt := 0; ; attempt++ {
		res := s.attempt(ctx, ri.version, p.body, attempt)
		switch res.outcome {
		case sent:
			s.m.samples.Add(uint64(p.samples))
			s.m.hists.Add(uint64(p.hists))
			s.m.bytes.Add(uint64(len(p.body)))
			return true
		case rejected:
			s.m.drop(ReasonRejected, dropped{samples: p.samples, hists: p.hists})
			s.logRejected(res)
			return true
		case cancelled:
			return false
		}
		s.m.retries[res.reason].Inc()
		if s.maxAge > 0 && ri.ts < s.now().Add(-s.maxAge).UnixMilli() {
			s.m.drop(ReasonTooOld, dropped{samples: p.samples, hists: p.hists})
			return true
		}
		// Full jitter over the upper half: shards retrying together do
		// not hit a recovering receiver at the same instant.
		wait := backoff/2 + rand.N(backoff/2+1)
		if res.retryAfter > wait {
			wait = min(res.retryAfter, s.ep.MaxRetryAfter)
		}
		backoff = min(backoff*2, s.ep.MaxBackoff)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return false
		case <-t.C:
		}
	}
}

func (s *sender) attempt(ctx context.Context, v Version, body []byte, attempt int) result {
	rctx, cancel := context.WithTimeout(ctx, s.ep.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodPost, s.url, bytes.NewReader(body))
	if err != nil {
		return result{outcome: rejected, message: err.Error()}
	}
	h := req.Header
	for k, val := range s.ep.Headers {
		h.Set(k, val)
	}
	h.Set("Content-Encoding", "snappy")
	h.Set("User-Agent", s.ua)
	if v == V2 {
		h.Set("Content-Type", contentTypeV2)
		h.Set(versionHeader, versionValueV2)
	} else {
		h.Set("Content-Type", contentTypeV1)
		h.Set(versionHeader, versionValueV1)
	}
	if attempt > 0 {
		h.Set("Retry-Attempt", strconv.Itoa(attempt))
	}
	if s.ep.BasicAuth != nil {
		req.SetBasicAuth(s.ep.BasicAuth.Username, s.ep.BasicAuth.Password)
	} else if s.ep.BearerToken != "" {
		h.Set("Authorization", "Bearer "+s.ep.BearerToken)
	}
	start := time.Now()
	resp, err := s.client.Do(req)
	if err != nil {
		s.m.sendDuration.ObserveDuration(time.Since(start))
		switch {
		case ctx.Err() != nil:
			return result{outcome: cancelled}
		case errors.Is(err, context.DeadlineExceeded) || isTimeout(err):
			return result{outcome: retry, reason: RetryTimeout}
		}
		return result{outcome: retry, reason: RetryNetwork}
	}
	msg, rerr := readMessage(resp)
	s.m.sendDuration.ObserveDuration(time.Since(start))
	code := resp.StatusCode
	switch {
	case code/100 == 2:
		if rerr != nil && ctx.Err() != nil {
			return result{outcome: cancelled}
		}
		return result{outcome: sent, status: code}
	case code == http.StatusTooManyRequests:
		return result{outcome: retry, reason: RetryRateLimited, status: code, retryAfter: retryAfter(resp.Header.Get("Retry-After"), time.Now())}
	case code/100 == 5:
		return result{outcome: retry, reason: RetryServerError, status: code, retryAfter: retryAfter(resp.Header.Get("Retry-After"), time.Now())}
	}
	return result{outcome: rejected, status: code, message: msg}
}

func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}

// readMessage reads at most maxMessage bytes of the body as the
// receiver's message, drains a little more so the connection can be
// reused, and closes the body.
func readMessage(resp *http.Response) (string, error) {
	defer resp.Body.Close()
	var buf [maxMessage]byte
	n, err := io.ReadFull(resp.Body, buf[:])
	if err == io.ErrUnexpectedEOF || err == io.EOF {
		err = nil
	}
	if err == nil && n == maxMessage {
		_, err = io.Copy(io.Discard, io.LimitReader(resp.Body, drainLimit))
	}
	return sanitize(buf[:n]), err
}

// sanitize keeps a receiver's message printable and on one line.
func sanitize(b []byte) string {
	return strings.TrimSpace(strings.Map(func(r rune) rune {
		if r == '\n' || r == '\r' || r == '\t' {
			return ' '
		}
		if !unicode.IsPrint(r) {
			return -1
		}
		return r
	}, string(b)))
}

// retryAfter parses a Retry-After value: delay seconds or an HTTP date.
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n <= 0 {
			return 0
		}
		return time.Duration(min(n, int64(24*time.Hour/time.Second))) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(0, t.Sub(now))
	}
	return 0
}

// logRejected logs a receiver's refusal at most once a minute per
// endpoint, with the number of refusals not logged since.
func (s *sender) logRejected(res result) {
	s.logMu.Lock()
	now := time.Now()
	if !s.lastLog.IsZero() && now.Sub(s.lastLog) < time.Minute {
		s.suppressed++
		s.logMu.Unlock()
		return
	}
	n := s.suppressed
	s.suppressed = 0
	s.lastLog = now
	s.logMu.Unlock()
	s.log.Error("remote write: the receiver refused a request; its samples are dropped (resending cannot help)",
		"endpoint", s.ep.Name, "status", res.status, "message", res.message, "refusals_not_logged", n)
}
