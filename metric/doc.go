// Package metric holds vitals' instruments: the hot path of the library.
//
// Counter, Gauge, FloatGauge and Histogram record values with a few
// atomic operations, no locks and no allocation. Counters and histograms
// are striped over per-P shards, so goroutines on different cores never
// write the same cache line; a histogram shard has a single writer (its P)
// and updates it with plain atomic stores.
//
// Histograms use the bucket layout of Prometheus native histograms at
// schema 6 (64 buckets per power of two), which bounds the error of every
// quantile at 0.54%, keeps exact count, sum, min and max, derives exact
// classic (le) buckets, and merges exactly across time and across coarser
// schemas.
//
// A Registry holds named families, with or without labels:
//
//	reg := metric.NewRegistry()
//	jobs := reg.CounterVec(metric.Opts{
//		Name:   "app_jobs_total",
//		Help:   "Jobs processed, by queue.",
//		Labels: []string{"queue"},
//	})
//	emails := jobs.With("email") // look up once, keep the handle
//	lat := reg.Histogram(metric.Opts{Name: "app_job_duration_seconds", Help: "Job duration.", Unit: "seconds"})
//
//	t := lat.StartTimer()
//	sendEmail()
//	t.ObserveDuration()
//	emails.Inc()
//
// Families cap their label sets (Opts.MaxSeries, DefaultMaxSeries); past
// the cap, new label sets share one overflow series, so memory never grows
// without bound. Bad values (NaN, infinities, negatives in a histogram)
// are counted in vitals_rejected_observations_total and change nothing
// else. Names are validated at registration; an invalid or conflicting
// registration is a programming error and panics with the reason.
//
// Every type is safe for concurrent use. The zero values of Counter, Gauge,
// FloatGauge, Histogram and Registry are ready to use.
package metric
