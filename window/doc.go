// Package window keeps rolling time windows over one series — counts,
// sums, rates, extremes and, for histograms, percentiles — fed with the
// per-tick changes of a vitals.Monitor's snapshots.
//
// A Ring is one window; a Stack is several windows over one series (1m,
// 5m, 15m, 1h) that share their work. Both advance by subtracting expired
// slots, so a tick costs the same whatever the window length, and both
// merge histogram buckets rather than average percentiles, so a window's
// p99 keeps the instruments' error bound (0.54%).
//
// Most programs do not use this package directly: package
// aggregate keeps a Stack for every series of a Monitor, and
// package window/delta turns cumulative snapshots into the per-tick
// changes these types take.
//
// A complete program:
//
//	r := window.New(time.Minute, 20) // moves in 3-second steps
//	h := metric.NewHistogram(nil)
//	var prev, cur, d metric.HistogramValue
//	for now := range time.Tick(time.Second) {
//		h.Read(&cur)
//		d.Sub(&cur, &prev) // this second's observations
//		prev, cur = cur, prev
//		r.AddHistogram(now, time.Second, &d)
//		st := r.Stats(now)
//		fmt.Printf("%.0f/s p99 %v\n", st.Rate, time.Duration(st.P99*1e9))
//	}
//
// Rings and Stacks are not safe for concurrent use: their owner
// serialises access. Their zero values are not usable; construct them
// with New and NewStack.
package window
