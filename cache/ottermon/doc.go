// Package ottermon feeds a cache monitor (package cache) from an otter v2
// cache: hits, misses and loads through otter's stats.Recorder, evictions
// by cause (size, expired, explicit, replaced) through its deletion
// events, and entries and memory as gauges.
//
// A complete program:
//
//	m := vitals.New(nil)
//	m.Start()
//	defer m.Stop()
//	mon := cache.New(m, "sessions", nil)
//	o := &otter.Options[string, []byte]{MaximumSize: 10_000, ExpiryCalculator: otter.ExpiryWriting[string, []byte](time.Minute)}
//	ottermon.Instrument(mon, o, nil) // before otter.New
//	l1, err := otter.New(o)
//	if err != nil {
//		return err
//	}
//	defer l1.StopAllGoroutines()
//	ottermon.Bind(mon, l1, nil) // entries gauge
//
//	v, ok := l1.GetIfPresent("k") // counted by otter's recorder
//
// In a two-tier cache whose lookups are recorded with cache.Begin/End,
// set Options.SkipLookups so that each lookup counts once.
package ottermon
