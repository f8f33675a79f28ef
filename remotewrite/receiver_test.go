package remotewrite

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/klauspost/compress/snappy"
	"github.com/prometheus/prometheus/prompb"
	writev2 "github.com/prometheus/prometheus/prompb/io/prometheus/write/v2"
)

// receiver is an in-memory remote-write receiver that decodes every
// request with the Prometheus project's own types, as a real receiver
// does, and records what it got.
type receiver struct {
	t   *testing.T
	srv *httptest.Server

	mu      sync.Mutex
	v1      []prompb.WriteRequest
	v2      []writev2.Request
	headers []http.Header
	// respond, when set, answers instead of accepting (return true when
	// it wrote the response).
	respond func(w http.ResponseWriter, r *http.Request, n int) bool
	calls   int
}

func newReceiver(t *testing.T) *receiver {
	rc := &receiver{t: t}
	rc.srv = httptest.NewServer(http.HandlerFunc(rc.serve))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) url() string { return rc.srv.URL + "/api/v1/write" }

func (rc *receiver) serve(w http.ResponseWriter, r *http.Request) {
	rc.mu.Lock()
	rc.calls++
	n := rc.calls
	respond := rc.respond
	rc.mu.Unlock()
	if respond != nil && respond(w, r, n) {
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 64<<20))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	raw, err := snappy.Decode(nil, body)
	if err != nil {
		rc.t.Errorf("receiver: snappy: %v", err)
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.headers = append(rc.headers, r.Header.Clone())
	switch r.Header.Get("Content-Type") {
	case contentTypeV1:
		var req prompb.WriteRequest
		if err := req.Unmarshal(raw); err != nil {
			rc.t.Errorf("receiver: 1.0 request: %v", err)
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		rc.v1 = append(rc.v1, req)
	case contentTypeV2:
		var req writev2.Request
		if err := req.Unmarshal(raw); err != nil {
			rc.t.Errorf("receiver: 2.0 request: %v", err)
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		rc.v2 = append(rc.v2, req)
	default:
		http.Error(w, "unsupported content type", http.StatusUnsupportedMediaType)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// samplesV1 returns every float sample received by 1.0, by series (the
// labels rendered name{a="b",...}).
func (rc *receiver) samplesV1() map[string][]prompb.Sample {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	out := map[string][]prompb.Sample{}
	for _, req := range rc.v1 {
		for _, ts := range req.Timeseries {
			k := key1(ts.Labels)
			out[k] = append(out[k], ts.Samples...)
		}
	}
	return out
}

func key1(ls []prompb.Label) string {
	s := ""
	for i, l := range ls {
		if i > 0 {
			s += ","
		}
		s += l.Name + "=" + l.Value
	}
	return s
}

func (rc *receiver) count() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.calls
}
