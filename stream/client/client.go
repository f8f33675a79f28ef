package client

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// Options configures a connection. nil gives the defaults on each field.
type Options struct {
	// Token is sent as "Authorization: Bearer <Token>" when not empty.
	Token string
	// Header holds more request headers (Origin, for example).
	Header http.Header
	// HTTPClient makes the requests. nil: a client without a timeout
	// (a stream lasts as long as ctx).
	HTTPClient *http.Client
	// ReadLimit caps one message's size in bytes. 0: 16 MiB.
	ReadLimit int64
}

// ErrUnauthorized is returned by Dial and DialSSE when the server refuses
// the token (HTTP 401).
var ErrUnauthorized = errors.New("stream: the server refused the token (401): pass the right one")

// Conn is a connection to a vitals stream, over WebSocket (Dial) or SSE
// (DialSSE). Next and NextRaw read messages in order from one goroutine;
// Subscribe, Unsubscribe, Ping and Close may be called from any.
type Conn struct {
	ws  *websocket.Conn
	sse io.ReadCloser
	sc  *bufio.Reader
	wmu sync.Mutex
}

// Dial opens a WebSocket to base's /stream. base is the service's URL
// (http://host:port, or ws://host:port); a path other than / is kept and
// /stream appended.
func Dial(ctx context.Context, base string, opts *Options) (*Conn, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	u, err := endpoint(base, "/stream")
	if err != nil {
		return nil, err
	}
	h := o.Header.Clone()
	if h == nil {
		h = http.Header{}
	}
	if o.Token != "" {
		h.Set("Authorization", "Bearer "+o.Token)
	}
	ws, resp, err := websocket.Dial(ctx, u.String(), &websocket.DialOptions{HTTPClient: o.HTTPClient, HTTPHeader: h})
	if err != nil {
		if resp != nil && resp.StatusCode == http.StatusUnauthorized {
			return nil, ErrUnauthorized
		}
		return nil, fmt.Errorf("stream: dial %s: %w", u.Redacted(), err)
	}
	limit := o.ReadLimit
	if limit <= 0 {
		limit = 16 << 20
	}
	ws.SetReadLimit(limit)
	return &Conn{ws: ws}, nil
}

// DialSSE opens base's /events with the given topics and interval (0:
// the server's default).
func DialSSE(ctx context.Context, base string, topics []string, interval time.Duration, opts *Options) (*Conn, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	u, err := endpoint(base, "/events")
	if err != nil {
		return nil, err
	}
	switch u.Scheme {
	case "ws":
		u.Scheme = "http"
	case "wss":
		u.Scheme = "https"
	}
	q := url.Values{"topic": topics}
	if interval > 0 {
		q.Set("interval_ms", strconv.FormatInt(interval.Milliseconds(), 10))
	}
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	for k, v := range o.Header {
		req.Header[k] = v
	}
	req.Header.Set("Accept", "text/event-stream")
	if o.Token != "" {
		req.Header.Set("Authorization", "Bearer "+o.Token)
	}
	hc := o.HTTPClient
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("stream: %s: %w", u.Redacted(), err)
	}
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		if resp.StatusCode == http.StatusUnauthorized {
			return nil, ErrUnauthorized
		}
		return nil, fmt.Errorf("stream: %s: %s: %s", u.Redacted(), resp.Status, bytes.TrimSpace(body))
	}
	return &Conn{sse: resp.Body, sc: bufio.NewReaderSize(resp.Body, 16<<10)}, nil
}

func endpoint(base, path string) (*url.URL, error) {
	u, err := url.Parse(base)
	if err != nil {
		return nil, fmt.Errorf("stream: bad URL: %w", err)
	}
	switch u.Scheme {
	case "http":
		u.Scheme = "ws"
	case "https":
		u.Scheme = "wss"
	case "ws", "wss":
	default:
		return nil, fmt.Errorf("stream: URL %q: use http://, https://, ws:// or wss://", u.Redacted())
	}
	u.Path = strings.TrimSuffix(u.Path, "/") + path
	return u, nil
}

// SSE reports whether the connection is an SSE one.
func (c *Conn) SSE() bool { return c.sse != nil }

// Subscribe asks for topics every interval (0: the server's default) under
// id. The answer ("subscribed" or "error") arrives through Next. SSE
// connections subscribe at dial time and return an error here.
func (c *Conn) Subscribe(ctx context.Context, id string, topics []string, interval time.Duration) error {
	return c.send(ctx, map[string]any{"type": "subscribe", "id": id, "topics": topics, "interval_ms": interval.Milliseconds()})
}

// Unsubscribe ends subscription id.
func (c *Conn) Unsubscribe(ctx context.Context, id string) error {
	return c.send(ctx, map[string]any{"type": "unsubscribe", "id": id})
}

// Ping asks for a "pong".
func (c *Conn) Ping(ctx context.Context) error { return c.send(ctx, map[string]any{"type": "ping"}) }

// SendRaw writes b as one message, as is (tests send malformed ones).
func (c *Conn) SendRaw(ctx context.Context, b []byte) error {
	if c.ws == nil {
		return errors.New("stream: SSE connections cannot send")
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.ws.Write(ctx, websocket.MessageText, b)
}

func (c *Conn) send(ctx context.Context, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return c.SendRaw(ctx, b)
}

// NextHead reads the next message, copies its first len(head) bytes into
// head and discards the rest. It returns how many bytes it copied and the
// message's full length. Over WebSocket it allocates nothing, which is
// what a client watching thousands of connections needs (the load tool
// reads the type, seq and time fields, which a message begins with, this
// way); over SSE it reads as NextRaw does.
func (c *Conn) NextHead(ctx context.Context, head []byte) (n, size int, err error) {
	if c.ws == nil {
		b, err := c.NextRaw(ctx)
		return copy(head, b), len(b), err
	}
	_, r, err := c.ws.Reader(ctx)
	if err != nil {
		return 0, 0, err
	}
	n, err = io.ReadFull(r, head)
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return n, n, nil // the message was shorter than head
	}
	if err != nil {
		return n, n, err
	}
	// The rest must be read before the next message can be: io.Discard
	// drains it through a pooled buffer.
	rest, err := io.Copy(io.Discard, r)
	return n, n + int(rest), err
}

// NextRaw returns the next message's JSON. The slice is the caller's.
func (c *Conn) NextRaw(ctx context.Context) ([]byte, error) {
	if c.ws != nil {
		_, b, err := c.ws.Read(ctx)
		return b, err
	}
	// SSE: events are "data: <json>" lines ending in a blank line; other
	// fields (retry, comments) are skipped. ctx ends the stream.
	if ctx.Done() != nil {
		stop := context.AfterFunc(ctx, func() { c.sse.Close() })
		defer stop()
	}
	var data []byte
	for {
		line, err := c.sc.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			// A long line: gather it.
			long := append([]byte(nil), line...)
			for err == bufio.ErrBufferFull {
				line, err = c.sc.ReadSlice('\n')
				long = append(long, line...)
			}
			line = long
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, err
		}
		line = bytes.TrimRight(line, "\r\n")
		switch {
		case len(line) == 0:
			if data != nil {
				return data, nil
			}
		case bytes.HasPrefix(line, []byte("data:")):
			d := bytes.TrimPrefix(line[5:], []byte(" "))
			if data != nil {
				data = append(data, '\n')
			}
			data = append(data, d...)
		}
	}
}

// Next reads and decodes the next message.
func (c *Conn) Next(ctx context.Context) (*Message, error) {
	b, err := c.NextRaw(ctx)
	if err != nil {
		return nil, err
	}
	m := &Message{}
	if err := json.Unmarshal(b, m); err != nil {
		return nil, fmt.Errorf("stream: undecodable message: %w", err)
	}
	m.Raw = b
	return m, nil
}

// CloseStatus returns the WebSocket close code in err (-1 if none).
func CloseStatus(err error) int { return int(websocket.CloseStatus(err)) }

// CloseReason returns the WebSocket close reason in err ("" if none).
func CloseReason(err error) string {
	var ce websocket.CloseError
	if errors.As(err, &ce) {
		return ce.Reason
	}
	return ""
}

// Close ends the connection.
func (c *Conn) Close() error {
	if c.ws != nil {
		return c.ws.Close(websocket.StatusNormalClosure, "")
	}
	return c.sse.Close()
}

// CloseNow drops the connection without a close handshake.
func (c *Conn) CloseNow() error {
	if c.ws != nil {
		return c.ws.CloseNow()
	}
	return c.sse.Close()
}
