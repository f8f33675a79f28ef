package eval

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/bizra/vitals/metric"
)

// AMAlert is one alert in Alertmanager's v2 API (POST /api/v2/alerts).
type AMAlert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL,omitempty"`
}

// NotifierOptions configure a Notifier.
type NotifierOptions struct {
	// URL of the Alertmanager, e.g. http://127.0.0.1:9093 (required).
	URL string
	// QueueCapacity bounds the alerts waiting to be sent; past it the
	// oldest are dropped and counted. Default 10000.
	QueueCapacity int
	// BatchSize is the most alerts one request carries. Default 64.
	BatchSize int
	// Timeout of one request. Default 10s.
	Timeout time.Duration
	// Retries after a failed request (network error, 5xx, 429), with
	// exponential backoff from Backoff (doubling, capped at 30s).
	// Default 3 and 500ms.
	Retries int
	Backoff time.Duration
	// Client; default an http.Client with Timeout.
	Client *http.Client
	// Registry receives the notifier's self-metrics; nil for none.
	Registry *metric.Registry
	// Logger; default slog.Default().
	Logger *slog.Logger
}

// Notifier delivers alerts to an Alertmanager from its own goroutine.
// Send never blocks: alerts go into a bounded queue that drops its oldest
// entries when full (vitals_alertmanager_alerts_dropped_total).
type Notifier struct {
	o        NotifierOptions
	endpoint string
	mu       sync.Mutex
	queue    []AMAlert
	wake     chan struct{}
	stop     chan struct{}
	stopOnce sync.Once
	wg       sync.WaitGroup

	sent, dropped, failed *metric.Counter
	queued                *metric.Gauge
	stats                 NotifierStats
}

// NotifierStats counts what a Notifier did.
type NotifierStats struct{ Sent, Dropped, Failed uint64 }

// NewNotifier checks the options; Start begins delivery.
func NewNotifier(opts NotifierOptions) (*Notifier, error) {
	u, err := url.Parse(opts.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("alertmanager URL %q: want http(s)://host:port", opts.URL)
	}
	if opts.QueueCapacity <= 0 {
		opts.QueueCapacity = 10000
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = 64
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 10 * time.Second
	}
	if opts.Retries < 0 {
		opts.Retries = 0
	} else if opts.Retries == 0 {
		opts.Retries = 3
	}
	if opts.Backoff <= 0 {
		opts.Backoff = 500 * time.Millisecond
	}
	if opts.Client == nil {
		opts.Client = &http.Client{Timeout: opts.Timeout}
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	n := &Notifier{o: opts, endpoint: strings.TrimSuffix(u.String(), "/") + "/api/v2/alerts",
		wake: make(chan struct{}, 1), stop: make(chan struct{})}
	if r := opts.Registry; r != nil {
		n.sent = r.Counter(metric.Opts{Name: "vitals_alertmanager_alerts_sent_total", Help: "Alerts delivered to the Alertmanager."})
		n.dropped = r.Counter(metric.Opts{Name: "vitals_alertmanager_alerts_dropped_total", Help: "Alerts dropped because the Alertmanager queue was full (oldest first)."})
		n.failed = r.Counter(metric.Opts{Name: "vitals_alertmanager_alerts_failed_total", Help: "Alerts not delivered after every retry."})
		n.queued = r.Gauge(metric.Opts{Name: "vitals_alertmanager_queue_length", Help: "Alerts waiting to be sent to the Alertmanager."})
	}
	return n, nil
}

// Start begins delivery on one goroutine; Stop ends it.
func (n *Notifier) Start() {
	n.wg.Add(1)
	go n.run()
}

// Stop ends delivery (a request in flight is cancelled) and waits. Alerts
// still queued are dropped. Idempotent; safe before Start.
func (n *Notifier) Stop() {
	n.stopOnce.Do(func() { close(n.stop) })
	n.wg.Wait()
}

// Send queues alerts without blocking.
func (n *Notifier) Send(alerts ...AMAlert) {
	n.mu.Lock()
	n.queue = append(n.queue, alerts...)
	var drop int
	if over := len(n.queue) - n.o.QueueCapacity; over > 0 {
		drop = over
		n.queue = append(n.queue[:0:0], n.queue[over:]...)
	}
	n.stats.Dropped += uint64(drop)
	l := len(n.queue)
	n.mu.Unlock()
	if drop > 0 && n.dropped != nil {
		n.dropped.Add(uint64(drop))
	}
	if n.queued != nil {
		n.queued.Set(int64(l))
	}
	select {
	case n.wake <- struct{}{}:
	default:
	}
}

// Stats returns the counts so far.
func (n *Notifier) Stats() NotifierStats {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.stats
}

func (n *Notifier) run() {
	defer n.wg.Done()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-n.stop
		cancel()
	}()
	for {
		select {
		case <-n.stop:
			return
		case <-n.wake:
		}
		for {
			n.mu.Lock()
			k := min(len(n.queue), n.o.BatchSize)
			batch := append([]AMAlert(nil), n.queue[:k]...)
			n.queue = n.queue[k:]
			l := len(n.queue)
			n.mu.Unlock()
			if n.queued != nil {
				n.queued.Set(int64(l))
			}
			if k == 0 {
				break
			}
			err := n.deliver(ctx, batch)
			n.mu.Lock()
			if err != nil {
				n.stats.Failed += uint64(k)
			} else {
				n.stats.Sent += uint64(k)
			}
			n.mu.Unlock()
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				if n.failed != nil {
					n.failed.Add(uint64(k))
				}
				n.o.Logger.Warn("vitals/alerting: alerts not delivered to the Alertmanager", "alerts", k, "err", err)
			} else if n.sent != nil {
				n.sent.Add(uint64(k))
			}
		}
	}
}

// errPermanent marks a response that retrying will not fix (4xx).
var errPermanent = errors.New("refused")

func (n *Notifier) deliver(ctx context.Context, batch []AMAlert) error {
	body, err := json.Marshal(batch)
	if err != nil {
		return err
	}
	backoff := n.o.Backoff
	for attempt := 0; ; attempt++ {
		err = n.post(ctx, body)
		if err == nil || errors.Is(err, errPermanent) || attempt >= n.o.Retries {
			return err
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		backoff = min(2*backoff, 30*time.Second)
	}
}

func (n *Notifier) post(ctx context.Context, body []byte) error {
	ctx, cancel := context.WithTimeout(ctx, n.o.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, n.endpoint, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := n.o.Client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	switch {
	case resp.StatusCode/100 == 2:
		return nil
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode/100 == 5:
		return fmt.Errorf("alertmanager answered %s: %s", resp.Status, bytes.TrimSpace(msg))
	default:
		return fmt.Errorf("%w: alertmanager answered %s: %s", errPermanent, resp.Status, bytes.TrimSpace(msg))
	}
}

// toAM converts alerts for the Alertmanager as Prometheus does: a firing
// alert ends 4 resend intervals ahead unless sent again, a resolved one at
// its resolution.
func (e *Evaluator) toAM(alerts []Alert, ts time.Time, interval time.Duration) []AMAlert {
	out := make([]AMAlert, 0, len(alerts))
	for _, a := range alerts {
		am := AMAlert{Labels: a.Labels.Map(), Annotations: a.Annotations.Map(), StartsAt: a.FiredAt}
		if a.State == Inactive {
			am.EndsAt = a.ResolvedAt
		} else {
			am.EndsAt = ts.Add(4 * max(e.opts.ResendDelay, interval))
		}
		for _, g := range e.groups {
			for _, r := range g.rules {
				if r.r.Alert == a.Rule {
					am.GeneratorURL = e.generatorURL(r.r.Expr)
				}
			}
		}
		out = append(out, am)
	}
	return out
}
