package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"math"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/bizra/vitals/metric"
	"github.com/bizra/vitals/stream/client"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
)

const loadtestUsage = `
Usage of loadtest:
  vitals loadtest stream [flags] URL
                        open many stream clients (WebSocket or SSE) against a
                        running service and report delivery lag, frames
                        received against frames expected, the server's heap
                        and goroutines (from its /metrics) and client errors

The tool raises its own open-file limit to the hard limit; each client is one
file descriptor here and one in the server, so the server needs the same
(ulimit -n) and, for the demo, --max-conns above the client count.
Secrets from the environment only: VITALS_STREAM_TOKEN (the stream's bearer
token), VITALS_METRICS_TOKEN (for /metrics).
`

// loadConfig is one run of the stream load test.
type loadConfig struct {
	URL         string
	MetricsURL  string
	Clients     int           // reading clients
	Slow        int           // clients that subscribe and never read
	Interval    time.Duration // subscription interval
	Transport   string        // "ws" or "sse"
	Duration    time.Duration // the measured window
	Warmup      time.Duration // after the last client connected, before the window
	Topics      []string
	Concurrency int // dials in flight
	Token       string
	MetricsTok  string
	CPUProfile  string
}

func loadtestFlags(out io.Writer) (*flag.FlagSet, *loadConfig) {
	fs := flag.NewFlagSet("loadtest stream", flag.ContinueOnError)
	fs.SetOutput(out)
	c := &loadConfig{}
	fs.IntVar(&c.Clients, "clients", 1000, "clients that subscribe and keep reading")
	fs.IntVar(&c.Slow, "slow", 0, "more clients that subscribe to the same stream and never read (the server must disconnect them without delaying the others)")
	fs.DurationVar(&c.Interval, "interval", time.Second, "subscription interval (at least 100ms)")
	fs.StringVar(&c.Transport, "transport", "ws", "ws (WebSocket, /stream) or sse (Server-Sent Events, /events)")
	fs.DurationVar(&c.Duration, "duration", 30*time.Second, "length of the measured window, after every client has connected and the warm-up")
	fs.DurationVar(&c.Warmup, "warmup", 3*time.Second, "wait after the last client connected before measuring")
	fs.IntVar(&c.Concurrency, "dial-concurrency", 64, "connections being opened at once")
	fs.StringVar(&c.CPUProfile, "cpuprofile", "", "write the tool's own CPU profile over the window to this file (to tell a slow client side from a slow server)")
	fs.StringVar(&c.MetricsURL, "metrics-url", "", "the server's Prometheus endpoint for heap, goroutines and operation latencies; default URL/metrics")
	c.Topics = []string{"performance"}
	fs.Func("topics", "comma-separated topics of the one subscription every client makes (default performance)", func(v string) error {
		c.Topics = nil
		for _, t := range strings.Split(v, ",") {
			if t = strings.TrimSpace(t); t != "" {
				c.Topics = append(c.Topics, t)
			}
		}
		return nil
	})
	fs.Usage = func() {
		fmt.Fprint(out, loadtestUsage)
		fs.PrintDefaults()
	}
	return fs, c
}

func printLoadtestFlags(w io.Writer) {
	fs, _ := loadtestFlags(w)
	fs.PrintDefaults()
}

func runLoadtest(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "stream" {
		fmt.Fprint(stderr, "vitals loadtest: want \"vitals loadtest stream [flags] URL\"\n")
		fmt.Fprint(stderr, loadtestUsage)
		return 2
	}
	fs, c := loadtestFlags(stderr)
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, "vitals loadtest stream: give the service's URL, e.g. http://127.0.0.1:9911")
		return 2
	}
	c.URL = fs.Arg(0)
	if err := c.check(); err != nil {
		fmt.Fprintln(stderr, "vitals loadtest stream:", err)
		return 2
	}
	c.Token = os.Getenv("VITALS_STREAM_TOKEN")
	c.MetricsTok = os.Getenv("VITALS_METRICS_TOKEN")
	if n, err := raiseFileLimit(); err != nil {
		fmt.Fprintf(stderr, "vitals loadtest stream: open-file limit %d (could not raise it: %v)\n", n, err)
	} else if need := uint64(c.Clients+c.Slow) + 64; n < need {
		fmt.Fprintf(stderr, "vitals loadtest stream: open-file limit %d is below the %d this run needs: raise the hard limit (ulimit -Hn)\n", n, need)
		return 1
	}
	ctx, stop := signalContext()
	defer stop()
	res, err := runStreamLoad(ctx, c, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "vitals loadtest stream:", err)
		return 1
	}
	res.print(stdout)
	return 0
}

func (c *loadConfig) check() error {
	switch {
	case c.Clients < 0 || c.Slow < 0:
		return errors.New("-clients and -slow cannot be negative")
	case c.Interval < 100*time.Millisecond:
		return errors.New("-interval is at least 100ms")
	case c.Transport != "ws" && c.Transport != "sse":
		return fmt.Errorf("-transport %q: want ws or sse", c.Transport)
	case c.Transport == "sse" && c.Slow > 0:
		return errors.New("-slow is for WebSocket clients")
	case c.Duration <= 0:
		return errors.New("-duration must be positive")
	case len(c.Topics) == 0:
		return errors.New("-topics is empty")
	case c.Concurrency <= 0:
		return errors.New("-dial-concurrency must be positive")
	}
	if c.MetricsURL == "" {
		c.MetricsURL = strings.TrimSuffix(c.URL, "/") + "/metrics"
	}
	return nil
}

// lagHist counts delivery lags by millisecond, exactly up to maxLagMS.
type lagHist struct {
	ms   [maxLagMS + 1]atomic.Uint64
	n    atomic.Uint64
	maxv atomic.Int64
}

const maxLagMS = 120_000

func (h *lagHist) observe(ms int64) {
	h.n.Add(1)
	for {
		m := h.maxv.Load()
		if ms <= m || h.maxv.CompareAndSwap(m, ms) {
			break
		}
	}
	h.ms[min(max(ms, 0), maxLagMS)].Add(1)
}

func (h *lagHist) quantile(q float64) time.Duration {
	n := h.n.Load()
	if n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(n)))
	var seen uint64
	for i := range h.ms {
		if seen += h.ms[i].Load(); seen >= rank {
			return time.Duration(i) * time.Millisecond
		}
	}
	return maxLagMS * time.Millisecond
}

// loadClient is one reading client's counts.
type loadClient struct {
	frames  uint64 // in the window
	missed  uint64 // seq gaps in the window: frames the server coalesced or dropped
	lastSeq uint64
	err     error
}

// loadResult is what a run measured.
type loadResult struct {
	cfg                  *loadConfig
	connected, dialFails int
	dialErrs             []string
	window               time.Duration
	expected             float64 // frames per reading client in the window
	frames, missed       uint64
	minFrames, maxFrames uint64
	gapClients           int
	readErrs             int
	readErrSamples       []string
	lag                  *lagHist
	base, during, end    serverStats
	heapMin, heapMax     float64
	ops                  []opLatency
	slowClosed           int
}

// serverStats is what the tool reads from the server's /metrics.
type serverStats struct {
	ok                   bool
	heap, stack, gorouts float64
	clients              float64
	hists                map[string]*dto.Histogram // vitals_operation_duration_seconds by operation
	lag                  *dto.Histogram            // vitals_stream_delivery_lag_seconds
	sched                *dto.Histogram            // go_sched_latencies_seconds
	disconnects          map[string]float64
	coalesced            float64
}

type opLatency struct {
	name  string
	count uint64
	p99   float64 // seconds
}

func runStreamLoad(ctx context.Context, c *loadConfig, log io.Writer) (*loadResult, error) {
	res := &loadResult{cfg: c, lag: new(lagHist)}
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: -1, DisableKeepAlives: true}}
	mc := &http.Client{Timeout: 10 * time.Second}
	var err error
	if res.base, err = scrape(ctx, mc, c.MetricsURL, c.MetricsTok); err != nil {
		fmt.Fprintln(log, "warning: no server metrics:", err)
	}
	connCtx, cancelConns := context.WithCancel(context.Background())
	defer cancelConns()
	var measuring atomic.Bool
	var wg sync.WaitGroup
	clients := make([]*loadClient, c.Clients)
	conns := make([]*client.Conn, c.Clients+c.Slow)
	var mu sync.Mutex
	sem := make(chan struct{}, c.Concurrency)
	opts := &client.Options{Token: c.Token, HTTPClient: hc}
	// Never-reading clients get a tiny receive buffer: the server's writes
	// to them block within seconds, as they would behind a stuck browser.
	slowOpts := &client.Options{Token: c.Token, HTTPClient: &http.Client{Transport: &http.Transport{
		DisableKeepAlives: true, DialContext: (&net.Dialer{Control: smallRecvBuffer}).DialContext}}}
	start := time.Now()
	for i := range c.Clients + c.Slow {
		if ctx.Err() != nil {
			break
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			o := opts
			if i >= c.Clients {
				o = slowOpts
			}
			conn, err := dialLoad(connCtx, c, o)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				res.dialFails++
				if len(res.dialErrs) < 5 {
					res.dialErrs = append(res.dialErrs, err.Error())
				}
				return
			}
			conns[i] = conn
			res.connected++
			if i < c.Clients {
				lc := &loadClient{}
				clients[i] = lc
				wg.Add(1)
				go func() {
					defer wg.Done()
					lc.read(connCtx, conn, &measuring, res.lag)
				}()
			}
		}()
		if i > 0 && i%1000 == 0 {
			fmt.Fprintf(log, "%d clients connecting (%s)\n", i, time.Since(start).Round(time.Millisecond))
		}
	}
	for range c.Concurrency {
		sem <- struct{}{}
	}
	fmt.Fprintf(log, "%d of %d clients connected in %s; warming up %s\n", res.connected, c.Clients+c.Slow, time.Since(start).Round(time.Millisecond), c.Warmup)
	sleepCtx(ctx, c.Warmup)

	// The window.
	if res.during, err = scrape(ctx, mc, c.MetricsURL, c.MetricsTok); err != nil {
		fmt.Fprintln(log, "warning: no server metrics:", err)
	}
	res.heapMin, res.heapMax = res.during.heap, res.during.heap
	measuring.Store(true)
	t0 := time.Now()
	if c.CPUProfile != "" {
		if f, err := os.Create(c.CPUProfile); err == nil {
			if pprof.StartCPUProfile(f) == nil {
				defer f.Close()
				defer pprof.StopCPUProfile()
			}
		}
	}
	tick := time.NewTicker(max(c.Duration/10, time.Second))
	deadline := time.NewTimer(c.Duration)
wait:
	for {
		select {
		case <-ctx.Done():
			break wait
		case <-deadline.C:
			break wait
		case <-tick.C:
			if s, err := scrape(ctx, mc, c.MetricsURL, c.MetricsTok); err == nil {
				res.heapMin, res.heapMax = min(res.heapMin, s.heap), max(res.heapMax, s.heap)
			}
		}
	}
	tick.Stop()
	deadline.Stop()
	measuring.Store(false)
	res.window = time.Since(t0)
	if res.end, err = scrape(context.Background(), mc, c.MetricsURL, c.MetricsTok); err == nil {
		res.heapMin, res.heapMax = min(res.heapMin, res.end.heap), max(res.heapMax, res.end.heap)
		res.slowClosed = int(res.end.disconnects["stalled"] - res.base.disconnects["stalled"])
		res.ops = opDeltas(res.during.hists, res.end.hists)
	}
	cancelConns()
	for _, conn := range conns {
		if conn != nil {
			conn.CloseNow()
		}
	}
	wg.Wait()

	res.expected = res.window.Seconds() / c.Interval.Seconds()
	first := true
	for _, lc := range clients {
		if lc == nil {
			continue
		}
		res.frames += lc.frames
		res.missed += lc.missed
		if lc.missed > 0 {
			res.gapClients++
		}
		if first || lc.frames < res.minFrames {
			res.minFrames = lc.frames
		}
		res.maxFrames = max(res.maxFrames, lc.frames)
		first = false
		if lc.err != nil {
			res.readErrs++
			if len(res.readErrSamples) < 5 {
				res.readErrSamples = append(res.readErrSamples, lc.err.Error())
			}
		}
	}
	return res, nil
}

func dialLoad(ctx context.Context, c *loadConfig, opts *client.Options) (*client.Conn, error) {
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if c.Transport == "sse" {
		// The SSE request lives as long as ctx: not the dial timeout.
		return client.DialSSE(ctx, c.URL, c.Topics, c.Interval, opts)
	}
	conn, err := client.Dial(dctx, c.URL, opts)
	if err != nil {
		return nil, err
	}
	if err := conn.Subscribe(dctx, "load", c.Topics, c.Interval); err != nil {
		conn.CloseNow()
		return nil, err
	}
	return conn, nil
}

// read consumes messages, timing each frame against the time its values
// were read (the frame's "time", on the same clock: the tool runs on the
// server's machine). It looks only at each message's head (NextHead), so
// reading allocates nothing: with 10,000 clients a copy of every message
// made the tool's garbage collector, scanning 10,000 goroutine stacks,
// take about a third of its CPU, which the server's writes then shared
// the two cores with.
func (lc *loadClient) read(ctx context.Context, conn *client.Conn, measuring *atomic.Bool, lag *lagHist) {
	var head [headBytes]byte
	for {
		// Not ctx: a cancellable context costs each read a registration on
		// it, and 10,000 readers contend for its lock. The run ends by
		// closing the connections.
		n, _, err := conn.NextHead(context.Background(), head[:])
		if err != nil {
			if ctx.Err() == nil {
				lc.err = err
			}
			return
		}
		now := time.Now().UnixMilli()
		data, seq, at := frameFields(head[:n])
		if !data {
			continue
		}
		if measuring.Load() {
			lc.frames++
			if lc.lastSeq != 0 && seq > lc.lastSeq+1 {
				lc.missed += seq - lc.lastSeq - 1
			}
			lag.observe(now - at)
		}
		lc.lastSeq = seq
	}
}

// headBytes is how much of a message the tool reads: the fields it needs
// come first.
const headBytes = 160

// frameFields picks type, seq and time out of a server message's head
// without decoding it: they are in its first bytes, written in this order
// by the server ({"v":1,"type":"update","stream":1,"seq":9,"time":...}).
// data reports a data frame ("update" or "full").
func frameFields(head []byte) (data bool, seq uint64, timeMS int64) {
	if i := bytes.Index(head, []byte(`"type":"`)); i >= 0 {
		rest := head[i+8:]
		data = bytes.HasPrefix(rest, []byte(`update"`)) || bytes.HasPrefix(rest, []byte(`full"`))
	}
	seq = uint64(intField(head, `"seq":`))
	return data, seq, intField(head, `"time":`)
}

// intField parses the digits after key (0 if key is missing).
func intField(b []byte, key string) int64 {
	i := bytes.Index(b, []byte(key))
	if i < 0 {
		return 0
	}
	var n int64
	for _, d := range b[i+len(key):] {
		if d < '0' || d > '9' {
			break
		}
		n = n*10 + int64(d-'0')
	}
	return n
}

// scrape reads the server's heap, stack, goroutines, stream self-metrics
// and operation latency histograms.
func scrape(ctx context.Context, hc *http.Client, url, token string) (serverStats, error) {
	var s serverStats
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return s, err
	}
	// Protobuf: the one format that carries the native buckets (schema
	// 6, about 1% wide), so the quantiles below are exact to about 1%;
	// the classic buckets are powers of two, and a p99 interpolated in
	// the 125-250 ms one could be off by tens of milliseconds.
	req.Header.Set("Accept", string(expfmt.NewFormat(expfmt.TypeProtoDelim))+";q=0.9,text/plain;version=0.0.4;q=0.5")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return s, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return s, fmt.Errorf("%s: %s", url, resp.Status)
	}
	fams := map[string]*dto.MetricFamily{}
	dec := expfmt.NewDecoder(resp.Body, expfmt.ResponseFormat(resp.Header))
	for {
		f := &dto.MetricFamily{}
		if err := dec.Decode(f); err == io.EOF {
			break
		} else if err != nil {
			return s, fmt.Errorf("%s: %w", url, err)
		}
		fams[f.GetName()] = f
	}
	s.ok = true
	gauge := func(name string) float64 {
		f := fams[name]
		if f == nil || len(f.Metric) == 0 {
			return math.NaN()
		}
		m := f.Metric[0]
		switch {
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Untyped != nil:
			return m.Untyped.GetValue()
		}
		return math.NaN()
	}
	s.heap = gauge("go_memstats_heap_inuse_bytes")
	s.stack = gauge("go_memstats_stack_inuse_bytes")
	s.gorouts = gauge("go_goroutines")
	s.coalesced = gauge("vitals_stream_frames_coalesced_total")
	s.disconnects = map[string]float64{}
	if f := fams["vitals_stream_disconnects_total"]; f != nil {
		for _, m := range f.Metric {
			s.disconnects[labelValue(m, "reason")] = m.GetCounter().GetValue()
		}
	}
	if f := fams["vitals_stream_clients"]; f != nil {
		for _, m := range f.Metric {
			s.clients += m.GetGauge().GetValue()
		}
	}
	if f := fams["vitals_stream_delivery_lag_seconds"]; f != nil && len(f.Metric) > 0 {
		s.lag = f.Metric[0].Histogram
	}
	if f := fams["go_sched_latencies_seconds"]; f != nil && len(f.Metric) > 0 {
		s.sched = f.Metric[0].Histogram
	}
	s.hists = map[string]*dto.Histogram{}
	if f := fams["vitals_operation_duration_seconds"]; f != nil {
		for _, m := range f.Metric {
			if m.Histogram != nil {
				s.hists[labelValue(m, "operation")] = m.Histogram
			}
		}
	}
	return s, nil
}

func labelValue(m *dto.Metric, name string) string {
	for _, l := range m.Label {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// opDeltas is each operation's p99 over the observations between two
// scrapes.
func opDeltas(a, b map[string]*dto.Histogram) []opLatency {
	var out []opLatency
	for name, hb := range b {
		if n, p99 := deltaQuantile(a[name], hb, 0.99); n > 0 {
			out = append(out, opLatency{name: name, count: n, p99: p99})
		}
	}
	slices.SortFunc(out, func(x, y opLatency) int { return strings.Compare(x.name, y.name) })
	return out
}

// deltaQuantile is the q-quantile of the observations hb has beyond ha
// (nil: none), and their count. It reads the native buckets when both
// have them (within a bucket's width, about 1% at schema 6), and
// interpolates within the classic buckets otherwise.
func deltaQuantile(ha, hb *dto.Histogram, q float64) (uint64, float64) {
	if hb == nil {
		return 0, math.NaN()
	}
	n := hb.GetSampleCount()
	if ha != nil {
		n -= ha.GetSampleCount()
	}
	if n == 0 {
		return 0, math.NaN()
	}
	rank := q * float64(n)
	if hb.Schema != nil && (ha == nil || (ha.Schema != nil && ha.GetSchema() == hb.GetSchema())) {
		return n, nativeDeltaQuantile(ha, hb, rank)
	}
	var prevCum, prevLE float64
	for i, bk := range hb.Bucket {
		cum := float64(bk.GetCumulativeCount())
		if ha != nil && i < len(ha.Bucket) && ha.Bucket[i].GetUpperBound() == bk.GetUpperBound() {
			cum -= float64(ha.Bucket[i].GetCumulativeCount())
		}
		le := bk.GetUpperBound()
		if cum >= rank {
			if math.IsInf(le, 1) {
				return n, prevLE
			}
			return n, prevLE + (le-prevLE)*(rank-prevCum)/max(cum-prevCum, 1)
		}
		prevCum, prevLE = cum, le
	}
	return n, prevLE
}

// nativeDeltaQuantile finds the native bucket holding the rank-th of the
// observations hb has beyond ha and returns its geometric middle (what
// vitals' own quantiles report). Only positive buckets and the zero
// bucket: latencies are never negative.
func nativeDeltaQuantile(ha, hb *dto.Histogram, rank float64) float64 {
	counts := nativeCounts(hb)
	if ha != nil {
		for k, c := range nativeCounts(ha) {
			counts[k] -= c
		}
	}
	cum := float64(hb.GetZeroCount())
	if ha != nil {
		cum -= float64(ha.GetZeroCount())
	}
	if cum >= rank {
		return 0
	}
	keys := slices.Sorted(maps.Keys(counts))
	for _, k := range keys {
		if cum += float64(counts[k]); cum >= rank {
			return metric.BucketMid(hb.GetSchema(), k)
		}
	}
	if len(keys) == 0 {
		return 0
	}
	return metric.BucketMid(hb.GetSchema(), keys[len(keys)-1])
}

// nativeCounts decodes a native histogram's positive spans and deltas
// into a count per bucket key.
func nativeCounts(h *dto.Histogram) map[int32]int64 {
	counts := map[int32]int64{}
	var key int32
	var count int64
	d := 0
	for i, sp := range h.PositiveSpan {
		if i == 0 {
			key = sp.GetOffset()
		} else {
			key += sp.GetOffset()
		}
		for range sp.GetLength() {
			if d < len(h.PositiveDelta) {
				count += h.PositiveDelta[d]
				d++
			}
			counts[key] = count
			key++
		}
	}
	return counts
}

func (r *loadResult) print(w io.Writer) {
	c := r.cfg
	fmt.Fprintf(w, "stream load: %d reading + %d never-reading %s clients, topics %s, interval %s, window %s\n",
		c.Clients, c.Slow, c.Transport, strings.Join(c.Topics, ","), c.Interval, r.window.Round(time.Millisecond))
	fmt.Fprintf(w, "connected       %d of %d (dial errors %d)\n", r.connected, c.Clients+c.Slow, r.dialFails)
	for _, e := range r.dialErrs {
		fmt.Fprintf(w, "  dial error: %s\n", e)
	}
	if c.Clients > 0 {
		fmt.Fprintf(w, "frames/client   expected %.1f, received min %d, mean %.1f, max %d\n",
			r.expected, r.minFrames, float64(r.frames)/float64(c.Clients), r.maxFrames)
		fmt.Fprintf(w, "missed frames   %d over %d clients (seq gaps: frames coalesced or lost)\n", r.missed, r.gapClients)
		fmt.Fprintf(w, "delivery lag    p50 %s  p99 %s  max %s  (%d frames)\n",
			r.lag.quantile(0.5), r.lag.quantile(0.99), time.Duration(r.lag.maxv.Load())*time.Millisecond, r.lag.n.Load())
	}
	fmt.Fprintf(w, "client errors   %d\n", r.readErrs)
	for _, e := range r.readErrSamples {
		fmt.Fprintf(w, "  read error: %s\n", e)
	}
	if !r.base.ok || !r.during.ok {
		fmt.Fprintln(w, "server          no metrics")
		return
	}
	n := float64(r.connected)
	fmt.Fprintf(w, "server before   heap %s  stack %s  goroutines %.0f\n", kib(r.base.heap), kib(r.base.stack), r.base.gorouts)
	fmt.Fprintf(w, "server during   heap %s..%s  stack %s  goroutines %.0f  stream clients %.0f\n",
		kib(r.heapMin), kib(r.heapMax), kib(r.during.stack), r.during.gorouts, r.during.clients)
	if n > 0 {
		fmt.Fprintf(w, "per client      heap %s..%s  stack %s  goroutines %.2f\n",
			kib((r.heapMin-r.base.heap)/n), kib((r.heapMax-r.base.heap)/n), kib((r.during.stack-r.base.stack)/n), (r.during.gorouts-r.base.gorouts)/n)
	}
	if r.end.ok {
		fmt.Fprintf(w, "server stream   coalesced %.0f, disconnected as stalled %d\n", r.end.coalesced-r.base.coalesced, r.slowClosed)
		if n, p50 := deltaQuantile(r.during.lag, r.end.lag, 0.5); n > 0 {
			_, p99 := deltaQuantile(r.during.lag, r.end.lag, 0.99)
			fmt.Fprintf(w, "server lag      p50 %.1f ms  p99 %.1f ms  (read to written into the socket, %d messages; the rest of the lag above is the clients')\n", p50*1000, p99*1000, n)
		}
		// How long the server's runnable goroutines waited for a P: what
		// its requests pay when the writes and the clients take the cores.
		if n, p99 := deltaQuantile(r.during.sched, r.end.sched, 0.99); n > 0 {
			_, p999 := deltaQuantile(r.during.sched, r.end.sched, 0.999)
			fmt.Fprintf(w, "server sched    p99 %.3f ms  p99.9 %.3f ms  (runnable goroutines waiting for a CPU, %d waits)\n", p99*1000, p999*1000, n)
		}
	}
	for _, op := range r.ops {
		fmt.Fprintf(w, "operation p99   %-24s %8.2f ms  (%d calls in the window)\n", op.name, op.p99*1000, op.count)
	}
}

func kib(b float64) string {
	if math.IsNaN(b) {
		return "?"
	}
	if math.Abs(b) >= 10<<20 {
		return fmt.Sprintf("%.1f MiB", b/(1<<20))
	}
	return fmt.Sprintf("%.1f KiB", b/1024)
}

func signalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
