package top

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/bizra/vitals/stream/client"
)

// Transports for Config.Transport.
const (
	TransportAuto = "auto" // WebSocket, then SSE when the WebSocket fails
	TransportWS   = "ws"
	TransportSSE  = "sse"
)

// ErrUnreachable is wrapped by the error Run returns when nothing answers
// at the service's address.
var ErrUnreachable = errors.New("cannot reach the service")

// ErrUnauthorized is wrapped by the error Run returns when the service
// refuses the token, or wants one and none was given.
var ErrUnauthorized = errors.New("the service refused the token")

// dialTimeout bounds connecting and subscribing.
const dialTimeout = 10 * time.Second

// link is a connection and the context its SSE response lives in.
type link struct {
	*client.Conn
	cancel context.CancelFunc
}

func (l *link) close() {
	l.CloseNow()
	l.cancel()
}

// dial connects and subscribes to Topics at c.Interval, over WebSocket
// or SSE as c.Transport says, within dialTimeout. The errors say what to
// do. An SSE response lasts as long as its request's context, so that
// context is not the timeout's: a timer cancels it only while dialing.
func dial(ctx context.Context, c *Config) (*link, string, error) {
	cctx, cancel := context.WithCancel(ctx)
	var timedOut atomic.Bool
	t := time.AfterFunc(dialTimeout, func() { timedOut.Store(true); cancel() })
	conn, tr, err := dialNow(cctx, c)
	if !t.Stop() {
		// The timer fired (or is firing): the connection, if any, is gone.
		<-cctx.Done()
		if err == nil {
			conn.CloseNow()
		}
		if ctx.Err() == nil && timedOut.Load() {
			err = fmt.Errorf("%w at %s: no answer in %v: is the address right, and is a firewall in the way?", ErrUnreachable, c.Target(), dialTimeout)
		} else if err == nil {
			err = ctx.Err()
		}
	}
	if err != nil {
		cancel()
		return nil, "", err
	}
	return &link{conn, cancel}, tr, nil
}

func dialNow(ctx context.Context, c *Config) (*client.Conn, string, error) {
	opts := &client.Options{Token: c.Token}
	var wsErr error
	if c.Transport != TransportSSE {
		conn, err := client.Dial(ctx, c.URL, opts)
		if err == nil {
			if err := conn.Subscribe(ctx, "top", Topics, c.Interval); err != nil {
				conn.CloseNow()
				return nil, "", explain(c, err)
			}
			return conn, TransportWS, nil
		}
		if c.Transport == TransportWS || errors.Is(err, client.ErrUnauthorized) || unreachable(err) || ctx.Err() != nil {
			return nil, "", explain(c, err)
		}
		wsErr = err // a proxy that blocks WebSockets: try SSE
	}
	conn, err := client.DialSSE(ctx, c.URL, Topics, c.Interval, opts)
	if err != nil {
		if wsErr != nil && !errors.Is(err, client.ErrUnauthorized) && !unreachable(err) {
			return nil, "", fmt.Errorf("%s answers neither the WebSocket at /stream (%v) nor SSE at /events (%v): is it a vitals service with the stream mounted?",
				c.Target(), wsErr, err)
		}
		return nil, "", explain(c, err)
	}
	return conn, TransportSSE, nil
}

// explain turns a connection error into one that says what to do.
func explain(c *Config, err error) error {
	switch {
	case errors.Is(err, client.ErrUnauthorized) && c.Token == "":
		return fmt.Errorf("%w: %s wants a bearer token (401): set VITALS_TOKEN to the service's stream token", ErrUnauthorized, c.Target())
	case errors.Is(err, client.ErrUnauthorized):
		return fmt.Errorf("%w: %s answered 401 to the token given (not shown): check VITALS_TOKEN or --token", ErrUnauthorized, c.Target())
	case unreachable(err):
		return fmt.Errorf("%w at %s: %s: is it running, and are the address and port right?", ErrUnreachable, c.Target(), netReason(err))
	}
	return err
}

// unreachable reports whether err means no server answered: refused,
// no route, no such host, timed out.
func unreachable(err error) bool {
	var op *net.OpError
	var dns *net.DNSError
	return errors.As(err, &op) || errors.As(err, &dns) || errors.Is(err, context.DeadlineExceeded)
}

// netReason is the short cause of a network error ("connection refused").
func netReason(err error) string {
	var dns *net.DNSError
	if errors.As(err, &dns) {
		return "no such host " + dns.Name
	}
	var op *net.OpError
	if errors.As(err, &op) {
		s := op.Err.Error()
		if i := strings.LastIndex(s, ": "); i >= 0 {
			s = s[i+2:]
		}
		return s
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "no answer in time"
	}
	return err.Error()
}

// Target returns the service's URL as shown: no user or password, no
// query.
func (c *Config) Target() string {
	u, err := url.Parse(c.URL)
	if err != nil {
		return "the service"
	}
	u.User = nil
	u.RawQuery, u.Fragment = "", ""
	return u.String()
}

// event is what the connection goroutine hands the screen loop.
type event struct {
	msg       *client.Message
	transport string // set on (re)connect
	status    string // a connection problem; "" when connected
}

// follow keeps a subscription going until ctx ends: it reads conn,
// reconnects with backoff when the stream ends, and sends every message
// and every change of connection status to out. It closes conn.
func follow(ctx context.Context, c *Config, conn *link, out chan<- event) {
	backoff := 500 * time.Millisecond
	for {
		var err error
		for {
			var m *client.Message
			m, err = conn.Next(ctx)
			if err != nil {
				break
			}
			backoff = 500 * time.Millisecond
			select {
			case out <- event{msg: m}:
			case <-ctx.Done():
			}
		}
		conn.close()
		if ctx.Err() != nil {
			return
		}
		why := "stream ended"
		if r := client.CloseReason(err); r != "" {
			why = r
		}
		for {
			if !send(ctx, out, event{status: "disconnected (" + why + "), retrying in " + backoff.String()}) || !wait(ctx, backoff) {
				return
			}
			backoff = min(2*backoff, 10*time.Second)
			var tr string
			conn, tr, err = dial(ctx, c)
			if err == nil {
				if !send(ctx, out, event{transport: tr}) {
					conn.close()
					return
				}
				break
			}
			why = shortErr(err)
		}
	}
}

func shortErr(err error) string {
	switch {
	case errors.Is(err, ErrUnauthorized):
		return "token refused"
	case unreachable(err):
		return netReason(err)
	}
	return err.Error()
}

func send(ctx context.Context, out chan<- event, e event) bool {
	select {
	case out <- e:
		return true
	case <-ctx.Done():
		return false
	}
}

func wait(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
