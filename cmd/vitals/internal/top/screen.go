package top

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"time"

	"golang.org/x/term"
)

// screen is the terminal: /dev/tty in raw mode on the alternate screen,
// so the shell's scrollback is left as it was. Keys arrive on keys (closed
// when reading fails: see err); resized fires on SIGWINCH.
type screen struct {
	tty     *os.File
	old     *term.State
	keys    chan []byte
	resized chan os.Signal
	wg      sync.WaitGroup
	rerr    error
	buf     bytes.Buffer
}

// The escape sequences used: VT100 and xterm's, which every terminal
// emulator and tmux understand.
const (
	enterAlt  = "\x1b[?1049h\x1b[?25l" // alternate screen, hide the cursor
	leaveAlt  = "\x1b[?25h\x1b[?1049l"
	home      = "\x1b[H"
	clearEOL  = "\x1b[K"
	clearDown = "\x1b[J"
)

var styles = map[Style][2]string{
	Header: {"\x1b[7m", "\x1b[0m"},
	Title:  {"\x1b[1m", "\x1b[0m"},
	Alarm:  {"\x1b[1;31m", "\x1b[0m"},
}

// openScreen takes over the controlling terminal. /dev/tty is opened
// rather than using stdin so that reads can be stopped (it is put in
// non-blocking mode on its own file description; the shell's stdin is
// left alone).
func openScreen() (*screen, error) {
	tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
	if err != nil {
		return nil, errors.New("vitals top needs a terminal (use --once to print one screen to a pipe)")
	}
	s := &screen{tty: tty, keys: make(chan []byte, 8), resized: make(chan os.Signal, 1)}
	if err := s.control(func(fd int) error {
		var err error
		s.old, err = term.MakeRaw(fd)
		return err
	}); err != nil {
		tty.Close()
		return nil, fmt.Errorf("vitals top: cannot set up the terminal: %w", err)
	}
	notifyResize(s.resized)
	tty.WriteString(enterAlt)
	s.wg.Add(1)
	go s.read()
	return s, nil
}

func (s *screen) control(f func(fd int) error) error {
	rc, err := s.tty.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) { ferr = f(int(fd)) }); err != nil {
		return err
	}
	return ferr
}

func (s *screen) read() {
	defer s.wg.Done()
	defer close(s.keys)
	buf := make([]byte, 256)
	for {
		n, err := s.tty.Read(buf)
		if n > 0 {
			s.keys <- append([]byte(nil), buf[:n]...)
		}
		if err != nil {
			if !errors.Is(err, os.ErrDeadlineExceeded) {
				s.rerr = err
			}
			return
		}
	}
}

// err returns why reading keys stopped.
func (s *screen) err() error {
	if s.rerr != nil {
		return fmt.Errorf("reading the terminal: %w", s.rerr)
	}
	return nil
}

// size returns the terminal's columns and rows (80×24 if unknown).
func (s *screen) size() (w, h int) {
	w, h = 80, 24
	s.control(func(fd int) error {
		if cw, ch, err := term.GetSize(fd); err == nil && cw > 0 && ch > 0 {
			w, h = cw, ch
		}
		return nil
	})
	return w, h
}

// draw repaints the screen from the top left, clearing what each line
// does not cover and everything below the last one. A line as wide as the
// screen gets no clear-to-end: at the last column some terminals would
// erase its last cell.
func (s *screen) draw(lines []Line, width int) {
	s.buf.Reset()
	s.buf.WriteString(home)
	for i, l := range lines {
		if i > 0 {
			s.buf.WriteString("\r\n")
		}
		st, styled := styles[l.Style]
		if styled {
			s.buf.WriteString(st[0])
		}
		s.buf.WriteString(l.Text)
		if styled {
			s.buf.WriteString(st[1])
		}
		if textWidth(l.Text) < width {
			s.buf.WriteString(clearEOL)
		}
	}
	s.buf.WriteString(clearDown)
	s.tty.Write(s.buf.Bytes())
}

// close stops the key reader, leaves the alternate screen and restores
// the terminal's mode.
func (s *screen) close() {
	signal.Stop(s.resized)
	s.tty.SetReadDeadline(time.Now())
	for range s.keys { // unblock the reader if it is sending
	}
	s.wg.Wait()
	s.tty.WriteString(leaveAlt)
	s.control(func(fd int) error { return term.Restore(fd, s.old) })
	s.tty.Close()
}
