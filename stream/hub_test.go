package stream_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/bizra/vitals"
	"github.com/bizra/vitals/exposition"
	"github.com/bizra/vitals/health"
	"github.com/bizra/vitals/metric"
	"github.com/bizra/vitals/stream"
	"github.com/bizra/vitals/stream/client"
)

type fixture struct {
	t   *testing.T
	m   *vitals.Monitor
	hub *stream.Hub
	srv *httptest.Server
	op  *vitals.Operation
	req *metric.Counter
}

func newFixture(t *testing.T, opts *stream.Options) *fixture {
	t.Helper()
	m := vitals.New(nil)
	r := m.Registry()
	f := &fixture{t: t, m: m}
	f.op = m.Operation("checkout")
	f.req = r.CounterVec(metric.Opts{Name: "vitals_http_test_requests_total", Labels: []string{"route"},
		Help: "Requests."}).With("/checkout")
	r.CounterVec(metric.Opts{Name: "vitals_cache_hits_total", Labels: []string{"tier"}, Help: "Hits."}).With("l1").Add(3)
	f.hub = stream.New(m, opts)
	mux := http.NewServeMux()
	f.hub.Mount(mux)
	mux.Handle("GET /metrics", exposition.Handler(r, nil))
	f.srv = httptest.NewServer(mux)
	t.Cleanup(func() {
		f.hub.Close()
		f.srv.Close()
	})
	return f
}

func (f *fixture) dial(opts *client.Options) *client.Conn {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, f.srv.URL, opts)
	if err != nil {
		f.t.Fatalf("dial: %v", err)
	}
	f.t.Cleanup(func() { c.CloseNow() })
	if m := next(f.t, c); m.Type != "hello" || m.V != stream.Version {
		f.t.Fatalf("first message: %s", m.Raw)
	}
	return c
}

func next(t *testing.T, c *client.Conn) *client.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	m, err := c.Next(ctx)
	if err != nil {
		t.Fatalf("next: %v", err)
	}
	return m
}

// nextType skips messages until one of type typ.
func nextType(t *testing.T, c *client.Conn, typ string) *client.Message {
	t.Helper()
	for i := 0; i < 100; i++ {
		if m := next(t, c); m.Type == typ {
			return m
		}
	}
	t.Fatalf("no %s message in 100", typ)
	return nil
}

func subscribe(t *testing.T, c *client.Conn, id string, interval time.Duration, topics ...string) *client.Message {
	t.Helper()
	if err := c.Subscribe(context.Background(), id, topics, interval); err != nil {
		t.Fatal(err)
	}
	m := next(t, c)
	if m.Type != "subscribed" || m.ID != id || m.Stream == 0 {
		t.Fatalf("subscribe answer: %s", m.Raw)
	}
	return m
}

func TestSubscribeFullThenFreshUpdatesEvery100ms(t *testing.T) {
	f := newFixture(t, nil)
	c := f.dial(nil)
	f.op.Observe(10*time.Millisecond, nil)
	ack := subscribe(t, c, "perf", 100*time.Millisecond, "performance")
	if ack.IntervalMS != 100 || len(ack.Topics) != 1 || ack.Topics[0] != "performance" {
		t.Fatalf("ack: %s", ack.Raw)
	}
	full := next(t, c)
	if full.Type != "full" || full.Stream != ack.Stream {
		t.Fatalf("first frame: %s", full.Raw)
	}
	var st client.State
	st.Apply(full)
	if st.Find("vitals_operation_duration_seconds", "operation", "checkout") == nil || st.Find("vitals_http_test_requests_total") == nil {
		t.Fatalf("full state lacks the performance series: %s", full.Raw)
	}
	if st.Find("vitals_cache_hits_total") != nil {
		t.Fatalf("performance carries a cache series: %s", full.Raw)
	}
	// Every 100 ms a fresh read, not a snapshot repeated: each update has
	// a later read time, and what was observed between frames shows up in
	// a later one. No assertion on how far apart frames are: a loaded
	// machine may delay a tick.
	last := full
	for i := 0; i < 5; i++ {
		f.op.Observe(20*time.Millisecond, nil)
		f.req.Inc()
		m := nextType(t, c, "update")
		if m.Seq <= last.Seq || m.TimeMS < last.TimeMS || m.IntervalMS != 100 {
			t.Fatalf("update %d (seq %d, time %d) after seq %d, time %d: %s", i, m.Seq, m.TimeMS, last.Seq, last.TimeMS, m.Raw)
		}
		st.Apply(m)
		last = m
	}
	// The last increments reach a frame read after them.
	for i := 0; ; i++ {
		h := st.Find("vitals_operation_duration_seconds", "operation", "checkout")
		n := st.Find("vitals_http_test_requests_total")
		if h.Count != nil && *h.Count == 6 && n.Value != nil && *n.Value == 5 {
			break
		}
		if i == 50 {
			t.Fatalf("values not fresh after 50 updates: count %v, counter %v", h.Count, n.Value)
		}
		st.Apply(nextType(t, c, "update"))
	}
}

func TestUpdatesCarryOnlyChanges(t *testing.T) {
	f := newFixture(t, nil)
	c := f.dial(nil)
	subscribe(t, c, "s", 100*time.Millisecond, "vitals_cache_hits_total", `vitals_http_test_requests_total{route="/checkout"}`)
	full := next(t, c)
	if len(full.Series) != 2 {
		t.Fatalf("want 2 series: %s", full.Raw)
	}
	// Let two ticks pass so rates settle at 0, then change one counter.
	nextType(t, c, "update")
	nextType(t, c, "update")
	f.req.Add(7)
	for i := 0; i < 20; i++ {
		m := nextType(t, c, "update")
		if len(m.Series) == 0 {
			continue
		}
		if len(m.Series) != 1 || m.Series[0].Value == nil || *m.Series[0].Value != 7 || m.Series[0].Name != "" {
			t.Fatalf("update should carry the changed counter only, without metadata: %s", m.Raw)
		}
		return
	}
	t.Fatal("the change never arrived")
}

func TestSharedStreamAndLateJoinerGetsFullState(t *testing.T) {
	f := newFixture(t, nil)
	a, b := f.dial(nil), f.dial(nil)
	sa := subscribe(t, a, "x", 100*time.Millisecond, "cache", "performance")
	next(t, a)
	nextType(t, a, "update")
	sb := subscribe(t, b, "y", 100*time.Millisecond, "performance", "cache", "cache")
	if sa.Stream != sb.Stream {
		t.Fatalf("same topic set and interval must share one stream: %d vs %d", sa.Stream, sb.Stream)
	}
	m := next(t, b)
	if m.Type != "full" || len(m.Series) < 3 {
		t.Fatalf("late joiner's first frame: %s", m.Raw)
	}
	// A different interval is a different stream.
	sc := subscribe(t, b, "z", 200*time.Millisecond, "cache", "performance")
	if sc.Stream == sa.Stream {
		t.Fatal("another interval shares the stream")
	}
}

func TestBadMessagesAnsweredConnectionStaysOpen(t *testing.T) {
	f := newFixture(t, &stream.Options{MaxSubscriptions: 2, MaxTopics: 3})
	c := f.dial(nil)
	cases := []struct{ msg, code string }{
		{`{`, stream.CodeBadMessage},
		{`[1,2]`, stream.CodeBadMessage},
		{`{"type":"subscribe"}{}`, stream.CodeBadMessage},
		{`{"type":"launch","id":"a"}`, stream.CodeBadMessage},
		{`{"type":"subscribe","id":"a","topics":["nope{"]}`, stream.CodeBadTopic},
		{`{"type":"subscribe","id":"a","topics":["x{a=~\"(\"}"]}`, stream.CodeBadTopic},
		{`{"type":"subscribe","id":"a","topics":[]}`, stream.CodeBadTopic},
		{`{"type":"subscribe","id":"a","topics":["cache"],"interval_ms":50}`, stream.CodeBadInterval},
		{`{"type":"subscribe","id":"a","topics":["cache"],"interval_ms":"fast"}`, stream.CodeBadMessage},
		{`{"type":"subscribe","topics":["cache"]}`, stream.CodeBadID},
		{`{"type":"subscribe","id":"a","topics":["cache","health","alerts","database"]}`, stream.CodeTooMany},
		{`{"type":"unsubscribe","id":"ghost"}`, stream.CodeBadID},
	}
	for _, tc := range cases {
		if err := c.SendRaw(context.Background(), []byte(tc.msg)); err != nil {
			t.Fatal(err)
		}
		m := next(t, c)
		if m.Type != "error" || m.Code != tc.code || m.Error == "" {
			t.Errorf("%s: got %s, want error %s", tc.msg, m.Raw, tc.code)
		}
	}
	subscribe(t, c, "one", 0, "cache")
	next(t, c)
	subscribe(t, c, "two", 0, "database")
	if err := c.Subscribe(context.Background(), "one", []string{"cache"}, 0); err != nil {
		t.Fatal(err)
	}
	if m := nextType(t, c, "error"); m.Code != stream.CodeBadID {
		t.Errorf("duplicate id: %s", m.Raw)
	}
	if err := c.Subscribe(context.Background(), "three", []string{"cache"}, 0); err != nil {
		t.Fatal(err)
	}
	if m := nextType(t, c, "error"); m.Code != stream.CodeTooMany {
		t.Errorf("subscription cap: %s", m.Raw)
	}
	if err := c.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
	nextType(t, c, "pong")
}

func TestChurnRateLimited(t *testing.T) {
	f := newFixture(t, &stream.Options{ChurnRate: 0.001, ChurnBurst: 3})
	c := f.dial(nil)
	for i := 0; i < 3; i++ {
		if err := c.Unsubscribe(context.Background(), "ghost"); err != nil {
			t.Fatal(err)
		}
		if m := next(t, c); m.Code != stream.CodeBadID {
			t.Fatalf("request %d: %s", i, m.Raw)
		}
	}
	if err := c.Unsubscribe(context.Background(), "ghost"); err != nil {
		t.Fatal(err)
	}
	if m := next(t, c); m.Code != stream.CodeRateLimited {
		t.Fatalf("past the burst: %s", m.Raw)
	}
}

func TestReadLimitCloses(t *testing.T) {
	f := newFixture(t, &stream.Options{ReadLimit: 256})
	c := f.dial(nil)
	big := `{"type":"ping","id":"` + strings.Repeat("x", 1000) + `"}`
	_ = c.SendRaw(context.Background(), []byte(big))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for {
		_, err := c.Next(ctx)
		if err != nil {
			if client.CloseStatus(err) != 1009 {
				t.Fatalf("want close 1009, got %v", err)
			}
			return
		}
	}
}

func TestClientCap(t *testing.T) {
	f := newFixture(t, &stream.Options{MaxClients: 1})
	f.dial(nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, f.srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	m, err := c.Next(ctx)
	if err != nil || m.Type != "error" || m.Code != "server_full" {
		t.Fatalf("want a server_full error first: %v %v", m, err)
	}
	_, err = c.Next(ctx)
	if client.CloseStatus(err) != 1013 || !strings.Contains(client.CloseReason(err), "server full") {
		t.Fatalf("want close 1013 server full, got %v", err)
	}
	resp, err := http.Get(f.srv.URL + "/events?topic=cache")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("SSE past the cap: %d", resp.StatusCode)
	}
}

func TestOriginAndToken(t *testing.T) {
	f := newFixture(t, &stream.Options{Token: "s3cret", AllowedOrigins: []string{"dash.example.com"}})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := client.Dial(ctx, f.srv.URL, nil); err != client.ErrUnauthorized {
		t.Fatalf("no token: %v", err)
	}
	if _, err := client.Dial(ctx, f.srv.URL, &client.Options{Token: "wrong"}); err != client.ErrUnauthorized {
		t.Fatalf("wrong token: %v", err)
	}
	if _, err := client.DialSSE(ctx, f.srv.URL, []string{"cache"}, 0, nil); err != client.ErrUnauthorized {
		t.Fatalf("SSE without token: %v", err)
	}
	evil := http.Header{"Origin": {"http://evil.example.org"}}
	if _, err := client.Dial(ctx, f.srv.URL, &client.Options{Token: "s3cret", Header: evil}); err == nil {
		t.Fatal("a foreign origin was accepted")
	}
	if _, err := client.DialSSE(ctx, f.srv.URL, []string{"cache"}, 0, &client.Options{Token: "s3cret", Header: evil}); err == nil || !strings.Contains(err.Error(), "403") {
		t.Fatalf("SSE from a foreign origin: %v", err)
	}
	good := http.Header{"Origin": {"https://dash.example.com"}}
	f.dial(&client.Options{Token: "s3cret", Header: good})
	same := http.Header{"Origin": {f.srv.URL}}
	f.dial(&client.Options{Token: "s3cret", Header: same})
}

func TestSSE(t *testing.T) {
	f := newFixture(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, bad := range []string{"/events", "/events?topic=cache&interval_ms=10", "/events?topic=cache&interval_ms=x", "/events?topic=a{"} {
		resp, err := http.Get(f.srv.URL + bad)
		if err != nil {
			t.Fatal(err)
		}
		var e struct{ Error string }
		json.NewDecoder(resp.Body).Decode(&e)
		resp.Body.Close()
		if resp.StatusCode != 400 || e.Error == "" {
			t.Errorf("%s: %d %q", bad, resp.StatusCode, e.Error)
		}
	}
	c, err := client.DialSSE(ctx, f.srv.URL, []string{"performance"}, 100*time.Millisecond, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if m := next(t, c); m.Type != "hello" {
		t.Fatalf("first: %s", m.Raw)
	}
	if m := next(t, c); m.Type != "subscribed" || m.IntervalMS != 100 {
		t.Fatalf("second: %s", m.Raw)
	}
	if m := next(t, c); m.Type != "full" || len(m.Series) == 0 {
		t.Fatalf("third: %s", m.Raw)
	}
	f.req.Inc()
	nextType(t, c, "update")
}

func TestDrainSendsGoingAway(t *testing.T) {
	f := newFixture(t, nil)
	ws := f.dial(nil)
	subscribe(t, ws, "a", 100*time.Millisecond, "cache")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	sse, err := client.DialSSE(ctx, f.srv.URL, []string{"cache"}, 100*time.Millisecond, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer sse.Close()
	nextType(t, sse, "full")
	f.hub.Drain()
	for {
		_, err := ws.Next(ctx)
		if err != nil {
			if client.CloseStatus(err) != 1001 {
				t.Fatalf("want 1001 going away, got %v", err)
			}
			break
		}
	}
	if m := nextType(t, sse, "bye"); m.Reason == "" {
		t.Fatalf("bye without a reason: %s", m.Raw)
	}
	// New clients are refused while draining.
	c, err := client.Dial(ctx, f.srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	for {
		if _, err := c.Next(ctx); err != nil {
			if client.CloseStatus(err) != 1001 {
				t.Fatalf("while draining: %v", err)
			}
			break
		}
	}
}

// A client that never reads is disconnected after StallTimeout, while a
// reading client on the same stream keeps getting every frame on time.
func TestStalledClientDisconnectedOthersUnaffected(t *testing.T) {
	// A stall limit well above any delay a loaded machine puts on a
	// reading client, and far below the test's patience.
	f := newFixture(t, &stream.Options{StallTimeout: 3 * time.Second})
	// Enough series that full frames (sent while behind) are large and the
	// socket buffers fill quickly.
	vec := f.m.Registry().CounterVec(metric.Opts{Name: "vitals_cache_padding_total", Labels: []string{"key"}, Help: "Padding.", MaxSeries: 5000})
	var pad []*metric.Counter
	for i := 0; i < 1000; i++ {
		pad = append(pad, vec.With(strings.Repeat("k", 60)+itoa(i)))
	}
	// Every series changes between frames, so every update is large.
	stop := make(chan struct{})
	done := make(chan struct{})
	defer func() { close(stop); <-done }()
	go func() {
		defer close(done)
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				for _, c := range pad {
					c.Inc()
				}
			}
		}
	}()
	stalled := rawSubscribe(t, f.srv.URL, `{"type":"subscribe","id":"s","topics":["cache"],"interval_ms":100}`)
	defer stalled.Close()
	good := f.dial(nil)
	subscribe(t, good, "s", 100*time.Millisecond, "cache")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var lastSeq uint64
	for frames := 0; ; frames++ {
		m, err := good.Next(ctx) // the reading client is never disconnected
		if err != nil {
			t.Fatalf("the reading client, after %d frames: %v", frames, err)
		}
		if m.Seq != 0 {
			if m.Seq <= lastSeq {
				t.Fatalf("the reading client's frames went back: %d after %d", m.Seq, lastSeq)
			}
			lastSeq = m.Seq
		}
		if frames%10 == 0 && metricValue(t, f.srv.URL, `vitals_stream_disconnects_total{reason="stalled"}`) >= 1 {
			if metricValue(t, f.srv.URL, "vitals_stream_frames_coalesced_total") < 1 {
				t.Error("a stalled client had no frames coalesced")
			}
			// Still served after the other one was dropped.
			if m := nextType(t, good, "update"); m.Seq <= lastSeq {
				t.Fatalf("frame after the disconnect: seq %d after %d", m.Seq, lastSeq)
			}
			return
		}
	}
}

// More never-reading clients than the hub has writers: their blocked
// writes must not hold up a reading client while they wait out a long
// stall limit (the writer pool starts writers past a stuck one).
func TestStuckWritesDoNotHoldUpOthers(t *testing.T) {
	f := newFixture(t, &stream.Options{StallTimeout: time.Hour})
	vec := f.m.Registry().CounterVec(metric.Opts{Name: "vitals_cache_padding_total", Labels: []string{"key"}, Help: "Padding.", MaxSeries: 5000})
	for i := 0; i < 1000; i++ {
		vec.With(strings.Repeat("k", 60) + itoa(i)).Inc()
	}
	for i := 0; i < 3*runtime.GOMAXPROCS(0)+8; i++ {
		c := rawSubscribe(t, f.srv.URL, `{"type":"subscribe","id":"s","topics":["cache"],"interval_ms":100}`)
		defer c.Close()
	}
	good := f.dial(nil)
	subscribe(t, good, "s", 100*time.Millisecond, "cache")
	// Far less than the stall limit: only the stuck writers' replacements
	// can deliver these.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for i := 0; i < 30; i++ {
		vec.With("changing").Inc()
		if _, err := good.Next(ctx); err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
	}
}

// rawSubscribe opens a WebSocket by hand, sends one message and then
// never reads again.
func rawSubscribe(t *testing.T, base, msg string) net.Conn {
	t.Helper()
	// A small receive buffer: the server's writes block sooner.
	d := net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		return c.Control(func(fd uintptr) { _ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
	}}
	conn, err := d.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = conn.Write([]byte("GET /stream HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	// A masked text frame, as clients must send.
	p := []byte(msg)
	frame := []byte{0x81, 0x80 | byte(len(p)), 0, 0, 0, 0}
	if len(p) > 125 {
		t.Fatal("message too long for this helper")
	}
	if _, err := conn.Write(append(frame, p...)); err != nil {
		t.Fatal(err)
	}
	return conn
}

func metricValue(t *testing.T, base, series string) float64 {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 64<<10)
	for {
		n, err := resp.Body.Read(buf)
		b.WriteString(string(buf[:n]))
		if err != nil {
			break
		}
	}
	for _, line := range strings.Split(b.String(), "\n") {
		if rest, ok := strings.CutPrefix(line, series+" "); ok {
			var v float64
			json.Unmarshal([]byte(strings.Fields(rest)[0]), &v)
			return v
		}
	}
	return -1
}

func itoa(i int) string { return strconv.Itoa(i) }

func TestHealthEventsPushedAtOnceAndAlerts(t *testing.T) {
	m := vitals.New(nil)
	eng := health.New(m, nil)
	hub := stream.New(m, &stream.Options{Health: eng})
	mux := http.NewServeMux()
	hub.Mount(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	defer hub.Close()
	defer eng.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	nextType(t, c, "hello")
	// An hour-long interval: anything that arrives is pushed, not ticked.
	subscribe(t, c, "h", time.Hour, "health", "alerts")
	full := next(t, c)
	if full.Type != "full" || len(full.Health) == 0 || string(full.Alerts) != "[]" {
		t.Fatalf("full state without health report or alerts: %s", full.Raw)
	}
	var hb struct {
		Ready   string
		Overall struct{ Score float64 }
	}
	if err := json.Unmarshal(full.Health, &hb); err != nil || hb.Ready == "" {
		t.Fatalf("health block: %s (%v)", full.Health, err)
	}
	eng.Drain()
	ev := nextType(t, c, "health_event")
	if !strings.Contains(string(ev.Event), `"to":"fail"`) {
		t.Fatalf("event: %s", ev.Raw)
	}
	hub.PublishAlerts([]stream.Alert{{Name: "HighLatency", State: "firing", Severity: "page", Since: time.Now()}})
	al := nextType(t, c, "alerts")
	if !strings.Contains(string(al.Alerts), "HighLatency") {
		t.Fatalf("alerts: %s", al.Raw)
	}
}

func TestSelfMetrics(t *testing.T) {
	f := newFixture(t, nil)
	c := f.dial(nil)
	subscribe(t, c, "a", 100*time.Millisecond, "cache")
	next(t, c)
	nextType(t, c, "update")
	for _, s := range []string{
		`vitals_stream_clients{transport="websocket"}`,
		`vitals_stream_messages_sent_total{transport="websocket"}`,
		`vitals_stream_sent_bytes_total{transport="websocket"}`,
		`vitals_stream_delivery_lag_seconds_count`,
		`vitals_stream_subscriptions`,
		`vitals_stream_streams`,
		`vitals_stream_feeds`,
	} {
		if v := metricValue(t, f.srv.URL, s); v < 1 {
			t.Errorf("%s = %v, want >= 1", s, v)
		}
	}
	for _, s := range []string{`vitals_stream_clients{transport="sse"}`, `vitals_stream_disconnects_total{reason="stalled"}`, `vitals_stream_frames_coalesced_total`} {
		if v := metricValue(t, f.srv.URL, s); v != 0 {
			t.Errorf("%s = %v, want a pre-initialised 0", s, v)
		}
	}
}

// Streams outlive the server's ReadTimeout and WriteTimeout.
func TestServerTimeoutsDoNotCutStreams(t *testing.T) {
	m := vitals.New(nil)
	m.Registry().Counter(metric.Opts{Name: "vitals_cache_x_total", Help: "x"})
	hub := stream.New(m, nil)
	mux := http.NewServeMux()
	hub.Mount(mux)
	srv := httptest.NewUnstartedServer(mux)
	srv.Config.ReadTimeout = 300 * time.Millisecond
	srv.Config.WriteTimeout = 300 * time.Millisecond
	srv.Start()
	defer srv.Close()
	defer hub.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ws, err := client.Dial(ctx, srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	subscribe(t, nextAfterHello(t, ws), "a", 100*time.Millisecond, "cache")
	sse, err := client.DialSSE(ctx, srv.URL, []string{"cache"}, 100*time.Millisecond, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer sse.Close()
	start := time.Now()
	for time.Since(start) < time.Second {
		next(t, ws)
		next(t, sse)
	}
}

func nextAfterHello(t *testing.T, c *client.Conn) *client.Conn {
	t.Helper()
	if m := next(t, c); m.Type != "hello" {
		t.Fatalf("first: %s", m.Raw)
	}
	return c
}

// TestEverySubscriberGetsEveryTickPastOneBatch: the fan-out hands
// subscribers to the writers in batches (and yields between them); with
// more subscribers than two batches, each one still gets a frame every
// tick, in order.
func TestEverySubscriberGetsEveryTickPastOneBatch(t *testing.T) {
	f := newFixture(t, nil)
	const n = 600 // more than two batches of 256
	conns := make([]*client.Conn, n)
	for i := range conns {
		conns[i] = f.dial(nil)
		subscribe(t, conns[i], "perf", 100*time.Millisecond, "performance")
	}
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			var last uint64
			for frames := 0; frames < 5; {
				m, err := c.Next(ctx)
				if err != nil {
					errs <- fmt.Errorf("client %d after %d frames: %v", i, frames, err)
					return
				}
				if m.Type != "full" && m.Type != "update" {
					continue
				}
				// A client behind (the race detector slows the test's
				// readers) gets the latest full state instead of the
				// updates it missed; an update always follows its
				// predecessor.
				if last != 0 && (m.Seq <= last || (m.Seq != last+1 && m.Type != "full")) {
					errs <- fmt.Errorf("client %d: %s seq %d after %d", i, m.Type, m.Seq, last)
					return
				}
				last = m.Seq
				frames++
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
