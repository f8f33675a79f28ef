//go:build race

package metric

import "sync/atomic"

func plainStore(p *atomic.Uint64, v uint64) { p.Store(v) }

func plainAdd(p *atomic.Uint64, d uint64) { p.Store(p.Load() + d) }
