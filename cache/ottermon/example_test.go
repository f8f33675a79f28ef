package ottermon_test

import (
	"fmt"

	"github.com/maypok86/otter/v2"

	"github.com/bizra/vitals"
	"github.com/bizra/vitals/cache"
	"github.com/bizra/vitals/cache/ottermon"
)

func Example() {
	m := vitals.New(nil)
	mon := cache.New(m, "sessions", nil)
	o := &otter.Options[string, string]{MaximumSize: 100, Executor: func(fn func()) { fn() }}
	ottermon.Instrument(mon, o, nil)
	l1, err := otter.New(o)
	if err != nil {
		panic(err)
	}
	defer l1.StopAllGoroutines()
	ottermon.Bind(mon, l1, nil)

	l1.Set("alice", "token-1")
	l1.Set("alice", "token-2") // replaced
	l1.GetIfPresent("alice")
	l1.GetIfPresent("bob")
	l1.Invalidate("alice") // explicit

	ts := mon.Counts(cache.L1)
	fmt.Println("hits", ts.Hits, "misses", ts.Misses)
	fmt.Println("replaced", ts.EvictionsBy(cache.CauseReplaced), "explicit", ts.EvictionsBy(cache.CauseExplicit))
	// Output:
	// hits 1 misses 1
	// replaced 1 explicit 1
}
