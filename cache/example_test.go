package cache_test

import (
	"fmt"
	"time"

	"github.com/bizra/vitals"
	"github.com/bizra/vitals/cache"
)

func Example() {
	clk := vitals.NewManualClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	m := vitals.New(&vitals.Options{Clock: clk}) // m.Start() in a real program
	c := cache.New(m, "products", &cache.Options{Tiers: 2})

	l1 := map[string]string{"a": "apple"}
	l2 := map[string]string{"b": "banana"}
	get := func(key string) string {
		lk := c.Begin()
		if v, ok := l1[key]; ok {
			lk.End(cache.L1)
			return v
		}
		if v, ok := l2[key]; ok {
			lk.End(cache.L2)
			l1[key] = v
			c.Set(cache.L1, len(v), len(v))
			return v
		}
		lk.End(cache.Origin)
		return "from the database"
	}
	for _, k := range []string{"a", "b", "b", "c"} {
		get(k)
	}
	m.Collect()
	clk.Advance(time.Second)
	m.Collect()

	st := c.Stats()
	fmt.Printf("lookups %v, end-to-end hit ratio %.2f\n", st.Lookups, st.HitRatio)
	fmt.Printf("l1 hits %d misses %d, l2 hits %d misses %d\n",
		st.Tier[0].Hits, st.Tier[0].Misses, st.Tier[1].Hits, st.Tier[1].Misses)
	fmt.Printf("%s %s %.1f\n", st.Score.Status, st.Score.Factors[0].Name, st.Score.Factors[0].Score)
	// Output:
	// lookups 4, end-to-end hit ratio 0.75
	// l1 hits 2 misses 2, l2 hits 1 misses 1
	// pass hit_ratio 83.3
}

func ExampleCache_Set() {
	m := vitals.New(nil)
	c := cache.New(m, "pages", nil)
	raw, compressed := 4096, 1024
	c.Set(cache.L1, raw, compressed)
	m.Collect()
	fmt.Println(c.Stats().Tier[0].CompressionRatio)
	// Output: 4
}
