//go:build unix

package main

import "syscall"

// raiseFileLimit raises the soft open-file limit to the hard one and
// returns the limit in force: each stream client is a file descriptor.
func raiseFileLimit() (uint64, error) {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return 0, err
	}
	if l.Cur < l.Max {
		want := l
		want.Cur = want.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want); err != nil {
			return uint64(l.Cur), err
		}
		l = want
	}
	return uint64(l.Cur), nil
}

// smallRecvBuffer makes a socket's receive buffer tiny, so that a client
// that never reads fills it (and the server's send buffer) in seconds
// rather than after megabytes.
func smallRecvBuffer(_, _ string, c syscall.RawConn) error {
	return c.Control(func(fd uintptr) { _ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
}
