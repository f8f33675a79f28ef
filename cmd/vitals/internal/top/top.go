package top

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/bizra/vitals/stream/client"
)

// Config is what vitals top was asked to do.
type Config struct {
	// URL is the service's base URL (http, https, ws or wss).
	URL string
	// Token is sent as a bearer token; never shown.
	Token string
	// Interval between frames: at least 100 ms. 0 means 1 s.
	Interval time.Duration
	// Transport: TransportAuto (""), TransportWS or TransportSSE.
	Transport string
	// Once prints one screen as plain text to Out, once rates are known,
	// and returns: for scripts and pipes.
	Once bool
	// Width and Height of the Once output. 0: 80 columns, as many lines
	// as it takes.
	Width, Height int
	// Out receives the Once output.
	Out io.Writer
}

// state is the screen loop's model: the stream's series, the alert list
// and the view.
type state struct {
	st     client.State
	alerts []Alert
	at     time.Time
	view   View
	frames int // frames applied since the last (re)connect
}

// apply takes in one message and reports whether the screen changed.
func (s *state) apply(m *client.Message) bool {
	switch m.Type {
	case "full", "update":
		if !s.st.Apply(m) {
			return false
		}
		s.at = m.Time()
		s.frames++
		if len(m.Alerts) > 0 {
			if as, err := DecodeAlerts(m.Alerts); err == nil {
				s.alerts = as
			}
		}
		s.view.Status = ""
		return true
	case "alerts":
		if as, err := DecodeAlerts(m.Alerts); err == nil {
			s.alerts = as
			return true
		}
	case "error":
		s.view.Status = "server: " + m.Code + ": " + m.Error
		return true
	case "bye":
		s.view.Status = "server going away: " + m.Reason
		return true
	}
	return false
}

func (s *state) snapshot() Snapshot {
	if s.at.IsZero() {
		return Snapshot{}
	}
	return Build(&s.st, s.alerts, s.at)
}

// Run connects to the service and shows it until the user quits or ctx
// ends. The connection is made before the terminal is touched, so an
// unreachable service or a refused token is a plain error (wrapping
// ErrUnreachable or ErrUnauthorized) on a normal terminal.
func Run(ctx context.Context, c Config) error {
	if c.Interval == 0 {
		c.Interval = time.Second
	}
	if c.Interval < 100*time.Millisecond {
		return fmt.Errorf("interval %v: the stream's shortest is 100ms", c.Interval)
	}
	switch c.Transport {
	case "":
		c.Transport = TransportAuto
	case TransportAuto, TransportWS, TransportSSE:
	default:
		return fmt.Errorf("transport %q: use auto, ws or sse", c.Transport)
	}
	conn, tr, err := dial(ctx, &c)
	if err != nil {
		return err
	}
	if c.Once {
		defer conn.close()
		return once(ctx, &c, conn.Conn, tr)
	}
	scr, err := openScreen()
	if err != nil {
		conn.close()
		return err
	}
	defer scr.close()

	ctx, stop := context.WithCancel(ctx)
	defer stop()
	events := make(chan event, 16)
	done := make(chan struct{})
	go func() {
		defer close(done)
		follow(ctx, &c, conn, events)
	}()
	defer func() { stop(); <-done }()

	s := &state{view: View{Target: c.Target(), Transport: tr, Interval: c.Interval}}
	draw := func() {
		w, h := scr.size()
		scr.draw(Render(s.snapshot(), s.view, w, h), w)
	}
	draw()
	for {
		select {
		case <-ctx.Done():
			return nil
		case e := <-events:
			switch {
			case e.msg != nil:
				if !s.apply(e.msg) {
					continue
				}
			case e.transport != "":
				s.view.Transport, s.view.Status, s.frames = e.transport, "", 0
			default:
				s.view.Status = e.status
			}
		case b, ok := <-scr.keys:
			if !ok {
				return scr.err()
			}
			quit := false
			for _, k := range ParseKeys(b) {
				quit = quit || s.view.Handle(k)
			}
			if quit {
				return nil
			}
		case <-scr.resized:
		}
		draw()
	}
}

// once prints one screen when rates are known: after the first update
// that follows the full state, or two intervals after it.
func once(ctx context.Context, c *Config, conn *client.Conn, tr string) error {
	s := &state{view: View{Target: c.Target(), Transport: tr, Interval: c.Interval}}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second+2*c.Interval)
	defer cancel()
	// After the full state, wait two intervals (and a second) for an update.
	var rctx context.Context = ctx
	for s.frames < 2 {
		m, err := conn.Next(rctx)
		if err != nil {
			if s.frames == 1 && errors.Is(err, context.DeadlineExceeded) {
				break // no update came: print what the full state has
			}
			return fmt.Errorf("%s: %w", c.Target(), err)
		}
		s.apply(m)
		if m.Type == "error" {
			return errors.New(s.view.Status)
		}
		if s.frames == 1 && rctx == ctx {
			var cancelUpdate context.CancelFunc
			rctx, cancelUpdate = context.WithTimeout(ctx, 2*c.Interval+time.Second)
			defer cancelUpdate()
		}
	}
	w, h := c.Width, c.Height
	if w <= 0 {
		w = 80
	}
	if h <= 0 {
		h = 1000
	}
	lines := Render(s.snapshot(), s.view, w, h)
	// Without a height, no blank lines before the key line, and no key line.
	if c.Height <= 0 {
		lines = lines[:len(lines)-1]
		for len(lines) > 0 && lines[len(lines)-1].Text == "" {
			lines = lines[:len(lines)-1]
		}
	}
	for _, l := range lines {
		if _, err := fmt.Fprintln(c.Out, l.Text); err != nil {
			return err
		}
	}
	return nil
}
