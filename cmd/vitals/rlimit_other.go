//go:build !unix

package main

import (
	"errors"
	"syscall"
)

// raiseFileLimit is a no-op where there is no RLIMIT_NOFILE.
func raiseFileLimit() (uint64, error) {
	return 1 << 20, errors.New("no open-file limit to raise on this system")
}

// smallRecvBuffer leaves the socket as it is where it cannot be set.
func smallRecvBuffer(_, _ string, _ syscall.RawConn) error { return nil }
