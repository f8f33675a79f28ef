package dbpool

import (
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"syscall"
)

// DefaultClassify tells connection errors that any driver surfaces through
// the standard library: a failed dial, a refused connection, a reset or
// closed socket, driver.ErrBadConn. Everything else is NotConnection.
// Adapters wrap it with their driver's own errors (server codes for an
// authentication failure or a terminated backend).
func DefaultClassify(err error) ErrorKind {
	if err == nil {
		return NotConnection
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return Dial
	}
	var dns *net.DNSError
	if errors.As(err, &dns) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EHOSTUNREACH) ||
		errors.Is(err, syscall.ENETUNREACH) {
		return Dial
	}
	if errors.Is(err, driver.ErrBadConn) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, net.ErrClosed) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, syscall.ECONNABORTED) || op != nil {
		return Broken
	}
	return NotConnection
}
