package remotewrite

import (
	"time"

	"github.com/bizra/vitals/metric"
)

// Reasons a sample is dropped (vitals_remote_write_samples_failed_total).
const (
	ReasonRejected  = "rejected"   // the receiver answered 4xx (not 429): resending cannot help
	ReasonTooOld    = "too_old"    // queued longer than MaxQueueAge
	ReasonQueueFull = "queue_full" // the queue was at MaxQueueBytes
	ReasonCorrupt   = "corrupt"    // a queued record was damaged on disk
)

// Reasons a request is retried (vitals_remote_write_retries_total).
const (
	RetryServerError = "server_error" // 5xx
	RetryRateLimited = "rate_limited" // 429
	RetryTimeout     = "timeout"      // no answer within Endpoint.Timeout
	RetryNetwork     = "network"      // connection refused, reset, closed mid-body
)

var (
	dropReasons  = []string{ReasonRejected, ReasonTooOld, ReasonQueueFull, ReasonCorrupt}
	retryReasons = []string{RetryServerError, RetryRateLimited, RetryTimeout, RetryNetwork}
)

// endpointMetrics are one endpoint's self-metrics, every series created
// up front so that a dashboard sees zeros, not gaps, before the first
// failure.
type endpointMetrics struct {
	samples, hists, bytes *metric.Counter
	failedSamples         map[string]*metric.Counter
	failedHists           map[string]*metric.Counter
	retries               map[string]*metric.Counter
	sendDuration          *metric.Histogram
	highestAcked          *metric.FloatGauge
	shards                *metric.Gauge

	funcs []*metric.FuncVec
	name  string
}

func newEndpointMetrics(r *metric.Registry, name string, q *queue, now func() time.Time) *endpointMetrics {
	lbl := []string{"endpoint"}
	lblReason := []string{"endpoint", "reason"}
	m := &endpointMetrics{
		name: name,
		samples: r.CounterVec(metric.Opts{Name: "vitals_remote_write_samples_total", Labels: lbl,
			Help: "Float samples the receiver acknowledged."}).With(name),
		hists: r.CounterVec(metric.Opts{Name: "vitals_remote_write_histograms_total", Labels: lbl,
			Help: "Native histogram samples the receiver acknowledged."}).With(name),
		bytes: r.CounterVec(metric.Opts{Name: "vitals_remote_write_bytes_total", Unit: "bytes", Labels: lbl,
			Help: "Compressed request bytes the receiver acknowledged."}).With(name),
		sendDuration: r.HistogramVec(metric.Opts{Name: "vitals_remote_write_send_duration_seconds", Unit: "seconds", Labels: lbl,
			Help: "Time of one remote-write HTTP request, whatever its outcome."}).With(name),
		highestAcked: r.FloatGaugeVec(metric.Opts{Name: "vitals_remote_write_highest_acked_timestamp_seconds", Unit: "seconds", Labels: lbl,
			Help: "Unix time of the newest push the receiver acknowledged completely."}).With(name),
		shards: r.GaugeVec(metric.Opts{Name: "vitals_remote_write_shards", Labels: lbl,
			Help: "Requests of one push the writer sends in parallel."}).With(name),
		failedSamples: map[string]*metric.Counter{},
		failedHists:   map[string]*metric.Counter{},
		retries:       map[string]*metric.Counter{},
	}
	fs := r.CounterVec(metric.Opts{Name: "vitals_remote_write_samples_failed_total", Labels: lblReason,
		Help: "Float samples dropped without reaching the receiver, by reason."})
	fh := r.CounterVec(metric.Opts{Name: "vitals_remote_write_histograms_failed_total", Labels: lblReason,
		Help: "Native histogram samples dropped without reaching the receiver, by reason."})
	for _, reason := range dropReasons {
		m.failedSamples[reason] = fs.With(name, reason)
		m.failedHists[reason] = fh.With(name, reason)
	}
	rt := r.CounterVec(metric.Opts{Name: "vitals_remote_write_retries_total", Labels: lblReason,
		Help: "Remote-write requests retried, by reason."})
	for _, reason := range retryReasons {
		m.retries[reason] = rt.With(name, reason)
	}
	qr := r.GaugeFuncVec(metric.Opts{Name: "vitals_remote_write_queue_records", Labels: lbl,
		Help: "Pushes queued for the receiver, the one being sent included."})
	qr.Bind(func() float64 { n, _, _ := q.stats(); return float64(n) }, name)
	qb := r.GaugeFuncVec(metric.Opts{Name: "vitals_remote_write_queue_bytes", Unit: "bytes", Labels: lbl,
		Help: "Bytes the endpoint's queue holds (on disk when the writer has a directory)."})
	qb.Bind(func() float64 { _, b, _ := q.stats(); return float64(b) }, name)
	qa := r.GaugeFuncVec(metric.Opts{Name: "vitals_remote_write_queue_oldest_age_seconds", Unit: "seconds", Labels: lbl,
		Help: "Age of the oldest queued push; 0 when the queue is empty."})
	qa.Bind(func() float64 {
		_, _, oldest := q.stats()
		if oldest == 0 {
			return 0
		}
		return max(0, float64(now().UnixMilli()-oldest)/1000)
	}, name)
	m.funcs = []*metric.FuncVec{qr, qb, qa}
	return m
}

func (m *endpointMetrics) drop(reason string, d dropped) {
	if d.samples > 0 {
		m.failedSamples[reason].Add(uint64(d.samples))
	}
	if d.hists > 0 {
		m.failedHists[reason].Add(uint64(d.hists))
	}
}

// unbind removes the queue gauges, whose callbacks hold the queue.
func (m *endpointMetrics) unbind() {
	for _, f := range m.funcs {
		f.Delete(m.name)
	}
}
