//go:build !gc || vitals_nolinkname || go1.30

package metric

import "time"

// Without the runtime linknames there is no way to know which P runs the
// caller, so no stripe can have a single writer: instruments record into
// their shared words with atomic read-modify-write (see pin.go).
const pinned = false

func procPin() int { return -1 }

func procUnpin() {}

var clockBase = time.Now()

// nanotime reads the monotonic clock through time.Since, which the runtime
// documents as equally fast as its own nanotime.
func nanotime() int64 { return int64(time.Since(clockBase)) }
