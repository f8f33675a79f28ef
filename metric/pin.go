//go:build gc && !vitals_nolinkname && !go1.30

package metric

import (
	_ "unsafe" // for go:linkname
)

// pinned reports that procPin returns the caller's P id. Builds without
// the runtime linknames (pin_portable.go) set it to false, and every
// instrument then records with atomic read-modify-write only.
const pinned = true

// procPin pins the calling goroutine to its P (no preemption until
// procUnpin) and returns the P's id. sync.Pool is built on the same pair.
// While pinned, nothing else runs on that P, so a stripe owned by the P
// has exactly one writer: an update can be a plain load and store instead
// of a LOCK-prefixed read-modify-write, which costs 18-25 ns on the CI
// machine (more than a whole observation).
//
// The runtime keeps procPin, procUnpin and nanotime for linkname users
// ("Do not remove or change the type signature", go.dev/issue/67401).
// Should that change, build with -tags vitals_nolinkname; the build
// constraint above also falls back by itself on other compilers and on Go
// releases newer than the ones this file was checked against.
//
//go:linkname procPin runtime.procPin
func procPin() int

//go:linkname procUnpin runtime.procUnpin
func procUnpin()

// nanotime is the runtime's monotonic clock; about half the cost of
// time.Now, which also reads the wall clock.
//
//go:linkname nanotime runtime.nanotime
func nanotime() int64
