// Package histstore serves a vitals history (package history: minutes
// for a day, 5-minute steps for a week, hours for 90 days) to Prometheus'
// PromQL engine, joined to the raw sample ring of alerting/store, as one
// storage.Queryable. The in-process evaluator (alerting/eval) reads it so
// that rules whose range or offset reaches past the ring, such as
// `rate(x[10m] offset 1d)`, see what a Prometheus keeping that long would.
//
//	ring := store.New(m, nil)
//	hist, _ := history.Open(m, nil)
//	ev, err := eval.New(histstore.New(ring, hist), nil)
//
// For the time before the ring's oldest kept tick (the boundary), each
// selection reads the history of the matching vitals series (one
// history.Store.Read for all of them) and returns one sample per stored
// step, at the step's end, with the labels the ring gives the series
// (store.Store.SeriesLabels: Options.Labels such as job and instance
// included); Prometheus' merge querier chains them with the ring's samples
// into one series. The samples are:
//
//   - a counter: a cumulative value, anchored to the ring's oldest sample
//     of the series: value(t) = the ring's first value - the increases
//     history holds between t and the boundary (the step holding the
//     boundary counted in proportion), so the series joins the ring's real
//     values without a reset, and every selection sees the same values.
//     They may be negative (after a restart), which rate and increase do
//     not mind. A series the ring no longer has counts from 0 at the
//     selection's first step: its differences within one selection (rate,
//     increase) are right, but `x offset 1d - x offset 2d` is not. Either
//     way the differences between samples are exactly the stored
//     increases.
//   - a histogram: a cumulative native float histogram, anchored the same
//     way, built from the steps' merged buckets (schema from the data).
//   - a gauge: the step's last sample.
//
// The resolution is the history's: the finest tier that reaches the
// selection's start, then finer ones (Read). So a 10-minute range a day
// back holds two 5-minute samples (rate extrapolates between them as over
// any scrape interval), and an instant selector reaching an hourly step
// more than the engine's lookback delta (5 minutes) after it finds
// nothing. Series the ring has but history does not (the Go runtime
// and process metrics of store.Options.Gatherer) have no history: the
// ring alone serves them, store.Options.GathererRetention (2 h) back,
// past the boundary.
//
// Reading history never fails a query: an error (history.ErrQueryTooLarge,
// a closed Store) is a warning of the query, which then sees the ring
// alone, as before. All methods are safe for concurrent use.
package histstore
