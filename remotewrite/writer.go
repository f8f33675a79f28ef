package remotewrite

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/bizra/vitals"
	"github.com/bizra/vitals/metric"
)

// Writer pushes a Monitor's registry to remote-write receivers. Create it
// with New, start it with Start, stop it with Close.
type Writer struct {
	reg   *metric.Registry
	clock vitals.Clock
	opts  Options

	pushMu  sync.Mutex // one push at a time: encoders and catalog
	cat     *catalog
	encs    map[Version]*encoder
	senders []*sender
	pushes  *metric.Counter
	pushDur *metric.Histogram

	lifeMu  sync.Mutex
	started bool
	closed  bool
	cancel  context.CancelFunc
	loopWG  sync.WaitGroup
	sendWG  sync.WaitGroup
	stopCh  chan struct{}
}

// New opens each endpoint's queue (under opts.Dir), registers the
// self-metrics in m's registry and returns a Writer that does nothing
// until Start. Pushes queued by an earlier run are sent first after Start.
func New(m *vitals.Monitor, opts *Options) (*Writer, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Interval <= 0 {
		o.Interval = DefaultInterval
	}
	if o.MaxQueueBytes <= 0 {
		o.MaxQueueBytes = DefaultMaxQueueBytes
	}
	if o.MaxQueueAge <= 0 {
		o.MaxQueueAge = DefaultMaxQueueAge
	}
	if o.FlushTimeout == 0 {
		o.FlushTimeout = DefaultFlushTimeout
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Job == "" {
		o.Job = "vitals"
	}
	if o.Instance == "" {
		o.Instance, _ = os.Hostname()
	}
	if o.Version == "" {
		o.Version = "dev"
	}
	eps := make([]Endpoint, len(o.Endpoints))
	copy(eps, o.Endpoints)
	seen := map[string]bool{}
	for i := range eps {
		if err := eps[i].applyDefaults(); err != nil {
			return nil, err
		}
		if seen[eps[i].Name] {
			return nil, fmt.Errorf("remote write: endpoint %s given twice (set Name to tell them apart)", eps[i].Name)
		}
		seen[eps[i].Name] = true
	}
	o.Endpoints = eps

	clock := m.Clock()
	w := &Writer{
		reg:   m.Registry(),
		clock: clock,
		opts:  o,
		encs:  map[Version]*encoder{},
		cat:   newCatalog(newLabelSet(o.Job, o.Instance, o.ExternalLabels), o.Filter, clock.Now().UnixMilli()),
		pushes: m.Registry().Counter(metric.Opts{Name: "vitals_remote_write_pushes_total",
			Help: "Reads of the registry queued for the remote-write endpoints."}),
		pushDur: m.Registry().Histogram(metric.Opts{Name: "vitals_remote_write_push_duration_seconds", Unit: "seconds",
			Help: "Time to read, encode and queue one push for every endpoint."}),
		stopCh: make(chan struct{}),
	}
	ua := "vitals-remote-write/" + o.Version
	for _, ep := range eps {
		dir := ""
		if o.Dir != "" {
			dir = filepath.Join(o.Dir, queueDirName(ep))
		}
		q, lost, err := openQueue(dir, o.MaxQueueBytes, o.Logger)
		if err != nil {
			for _, s := range w.senders {
				s.m.unbind()
			}
			w.closeQueues()
			return nil, err
		}
		if lost.records > 0 {
			o.Logger.Warn("remote write: queued pushes were damaged (a crash during a write) and are dropped", "endpoint", ep.Name, "pushes", lost.records)
		}
		em := newEndpointMetrics(w.reg, ep.Name, q, clock.Now)
		s := newSender(ep, q, em, o.Logger, ua, o.Interval, o.MaxQueueAge, clock.Now)
		w.senders = append(w.senders, s)
		if w.encs[ep.Version] == nil {
			w.encs[ep.Version] = newEncoder(ep.Version, ep.MaxSamplesPerSend, w.cat)
		}
		if n, b, _ := q.stats(); n > 0 {
			o.Logger.Info("remote write: sending pushes queued by an earlier run", "endpoint", ep.Name, "pushes", n, "bytes", b)
		}
	}
	return w, nil
}

// queueDirName names an endpoint's queue directory by a hash of its URL
// and version: stable across restarts, never showing credentials.
func queueDirName(ep Endpoint) string {
	h := fnv.New64a()
	fmt.Fprintf(h, "%s\x00%d", ep.URL, ep.Version)
	return fmt.Sprintf("v%d-%016x", ep.Version, h.Sum64())
}

// Start starts the senders and the push loop. It is idempotent; after
// Close it does nothing.
func (w *Writer) Start() {
	w.lifeMu.Lock()
	defer w.lifeMu.Unlock()
	if w.started || w.closed {
		return
	}
	w.started = true
	ctx, cancel := context.WithCancel(context.Background())
	w.cancel = cancel
	for _, s := range w.senders {
		w.sendWG.Go(func() { s.run(ctx) })
	}
	w.loopWG.Go(w.loop)
}

func (w *Writer) loop() {
	t := time.NewTicker(w.opts.Interval)
	defer t.Stop()
	for {
		select {
		case <-w.stopCh:
			return
		case <-t.C:
			if err := w.Push(); err != nil {
				w.opts.Logger.Error("remote write: queueing a push", "err", err)
			}
		}
	}
}

// Push reads the registry now and queues the result for every endpoint.
// The loop calls it every Interval; tests and Close call it directly.
func (w *Writer) Push() error {
	w.pushMu.Lock()
	defer w.pushMu.Unlock()
	start := time.Now()
	now := w.clock.Now().UnixMilli()
	if now <= w.cat.prevMs {
		// Same millisecond as the last push (Close right after a tick),
		// or the wall clock stepped back: receivers keep one sample per
		// timestamp and refuse older ones, so there is nothing to send.
		return nil
	}
	fams := w.reg.Families()
	var errs []error
	for v, enc := range w.encs {
		rec := enc.encode(fams, now)
		for _, s := range w.senders {
			if s.ep.Version != v {
				continue
			}
			d, err := s.q.append(rec, now, enc.totSamples, enc.totHists)
			s.m.drop(ReasonQueueFull, d)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", s.ep.Name, err))
			}
		}
	}
	w.cat.prevMs = now
	w.pushes.Inc()
	w.pushDur.ObserveDuration(time.Since(start))
	return errors.Join(errs...)
}

// Flush waits until every queue is empty or ctx is done.
func (w *Writer) Flush(ctx context.Context) error {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for {
		empty := true
		for _, s := range w.senders {
			if n, _, _ := s.q.stats(); n > 0 {
				empty = false
			}
		}
		if empty {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// Close stops the push loop, queues a final push, waits up to
// FlushTimeout for the queues to drain, then stops the senders and closes
// the queues. What was not sent stays on disk for the next start.
// Close is idempotent and safe without Start.
func (w *Writer) Close() error {
	w.lifeMu.Lock()
	if w.closed {
		w.lifeMu.Unlock()
		return nil
	}
	w.closed = true
	started := w.started
	w.lifeMu.Unlock()

	var err error
	if started {
		close(w.stopCh)
		w.loopWG.Wait()
		err = w.Push()
		if w.opts.FlushTimeout > 0 {
			ctx, cancel := context.WithTimeout(context.Background(), w.opts.FlushTimeout)
			if ferr := w.Flush(ctx); ferr != nil {
				for _, s := range w.senders {
					if n, b, _ := s.q.stats(); n > 0 {
						w.opts.Logger.Warn("remote write: pushes left queued at close; they are sent at the next start", "endpoint", s.ep.Name, "pushes", n, "bytes", b, "dir", w.opts.Dir != "")
					}
				}
			}
			cancel()
		}
		w.cancel()
		w.sendWG.Wait()
	}
	for _, s := range w.senders {
		s.m.unbind()
		s.client.CloseIdleConnections()
	}
	return errors.Join(err, w.closeQueues())
}

func (w *Writer) closeQueues() error {
	var errs []error
	for _, s := range w.senders {
		errs = append(errs, s.q.close())
	}
	return errors.Join(errs...)
}
