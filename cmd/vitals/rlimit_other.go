//go:build !unix

package main

import "errors"

// raiseFileLimit is a no-op where there is no RLIMIT_NOFILE.
func raiseFileLimit() (uint64, error) {
	return 1 << 20, errors.New("no open-file limit to raise on this system")
}
