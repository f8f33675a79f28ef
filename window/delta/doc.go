// Package delta turns the cumulative points of a vitals.Monitor's
// snapshots into per-tick changes: a counter's increase (resets handled),
// a histogram's observations since the previous tick (HistogramValue.Sub
// against the previous snapshot, which is kept rather than copied), and a
// gauge's value. A Tracker also keeps one value of the caller's type per
// series, so a consumer needs no map of its own.
//
// Series are matched by identity, with a fast path for series that keep
// their position in the snapshot; no string is built or hashed per tick
// and Update does not allocate in steady state.
//
// A complete program:
//
//	type perSeries struct{ total float64 }
//
//	var tr delta.Tracker[perSeries]
//	m.AddConsumer(vitals.ConsumerFunc(func(s *vitals.Snapshot) {
//		tr.Update(s, func(c *delta.Change, st *perSeries) {
//			if c.Kind == metric.KindCounter {
//				st.total += c.Increase
//			}
//		}, nil)
//	}))
//
// The zero Tracker is ready to use. It is not safe for concurrent use:
// feed it from one goroutine (a Consumer runs on the collector's).
package delta
