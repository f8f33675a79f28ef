package stream

import "github.com/bizra/vitals/metric"

// Transports and disconnect reasons: closed sets, pre-initialised so every
// series exists from the start.
const (
	transportWS  = "websocket"
	transportSSE = "sse"

	reasonClientClosed  = "client_closed"  // the client closed or went away
	reasonStalled       = "stalled"        // behind past StallTimeout, or a write blocked that long
	reasonQueueOverflow = "queue_overflow" // QueueLimit control messages pending
	reasonGoingAway     = "going_away"     // Drain or Close
	reasonTooBig        = "message_too_big"
	reasonProtocol      = "protocol_error" // a binary message, a bad frame
	reasonServerFull    = "server_full"    // refused at connect: MaxClients
	reasonUnauthorized  = "unauthorized"   // refused at connect: token
)

var (
	transports        = []string{transportWS, transportSSE}
	disconnectReasons = []string{reasonClientClosed, reasonStalled, reasonQueueOverflow, reasonGoingAway, reasonTooBig, reasonProtocol}
	rejectReasons     = []string{reasonServerFull, reasonUnauthorized, reasonGoingAway}
)

type hubMetrics struct {
	clients        map[string]*metric.Gauge
	messages       map[string]*metric.Counter
	bytes          map[string]*metric.Counter
	disconnects    map[string]*metric.Counter
	rejected       map[string]*metric.Counter
	coalesced      *metric.Counter
	lag            *metric.Histogram
	subscriptions  *metric.Gauge
	streams        *metric.Gauge
	feeds          *metric.Gauge
	requestErrors  *metric.Counter
	callbackPanics *metric.Counter
	publishSeconds *metric.Histogram
}

func newHubMetrics(r *metric.Registry) *hubMetrics {
	m := &hubMetrics{
		clients:     map[string]*metric.Gauge{},
		messages:    map[string]*metric.Counter{},
		bytes:       map[string]*metric.Counter{},
		disconnects: map[string]*metric.Counter{},
		rejected:    map[string]*metric.Counter{},
	}
	clients := r.GaugeVec(metric.Opts{Name: "vitals_stream_clients", Labels: []string{"transport"},
		Help: "Stream clients connected, by transport."})
	messages := r.CounterVec(metric.Opts{Name: "vitals_stream_messages_sent_total", Labels: []string{"transport"},
		Help: "Messages written to stream clients (frames, answers and events), by transport."})
	bytes := r.CounterVec(metric.Opts{Name: "vitals_stream_sent_bytes_total", Unit: "bytes", Labels: []string{"transport"},
		Help: "Message bytes written to stream clients, by transport."})
	for _, t := range transports {
		m.clients[t] = clients.With(t)
		m.messages[t] = messages.With(t)
		m.bytes[t] = bytes.With(t)
	}
	disc := r.CounterVec(metric.Opts{Name: "vitals_stream_disconnects_total", Labels: []string{"reason"},
		Help: "Stream clients disconnected, by reason."})
	for _, reason := range disconnectReasons {
		m.disconnects[reason] = disc.With(reason)
	}
	rej := r.CounterVec(metric.Opts{Name: "vitals_stream_rejected_total", Labels: []string{"reason"},
		Help: "Stream connections refused at connect, by reason."})
	for _, reason := range rejectReasons {
		m.rejected[reason] = rej.With(reason)
	}
	m.coalesced = r.Counter(metric.Opts{Name: "vitals_stream_frames_coalesced_total",
		Help: "Frames replaced by the latest full state because a client was behind."})
	m.lag = r.Histogram(metric.Opts{Name: "vitals_stream_delivery_lag_seconds", Unit: "seconds",
		Help: "Time from reading a frame's values to the end of writing it to a client."})
	m.subscriptions = r.Gauge(metric.Opts{Name: "vitals_stream_subscriptions",
		Help: "Stream subscriptions open over all clients."})
	m.streams = r.Gauge(metric.Opts{Name: "vitals_stream_streams",
		Help: "Distinct (topic set, interval) streams being encoded."})
	m.feeds = r.Gauge(metric.Opts{Name: "vitals_stream_feeds",
		Help: "Distinct intervals being read (one goroutine each)."})
	m.requestErrors = r.Counter(metric.Opts{Name: "vitals_stream_request_errors_total",
		Help: "Client messages answered with an error (malformed, unknown topic, bad interval, limits)."})
	m.callbackPanics = r.Counter(metric.Opts{Name: "vitals_stream_callback_panics_total",
		Help: "Metric callbacks that panicked when a stream read them (they read as null)."})
	m.publishSeconds = r.Histogram(metric.Opts{Name: "vitals_stream_publish_duration_seconds", Unit: "seconds",
		Help: "Time one feed tick took: reading, encoding and handing frames to every subscriber."})
	return m
}
