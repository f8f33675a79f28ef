// Package metric holds vitals' instruments: the hot path of the library.
//
// Counter, Gauge, FloatGauge and Histogram record values with a few
// memory operations, no locks and no allocation. Counters and histograms
// are striped: the first Ps to update one (four for a counter, two for a
// histogram) each get a private stripe with a single writer, updated with
// plain loads and stores and never sharing a cache line with another
// core's; further Ps share one set of atomic words. Memory and read cost
// are therefore bounded whatever GOMAXPROCS is: under 1 KB a counter and
// about 13 KB a latency histogram at GOMAXPROCS=64. Counters saturate at
// the top of uint64 rather than wrap.
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
//	t.End()
//	emails.Inc()
//
// # Classic buckets
//
// Histograms export classic le buckets too. By default they are powers of
// two from 2^-14 (61 µs) to 2^5 (32 s): le="0.0001220703125", ...,
// le="0.125", le="0.25", ..., derived exactly from the native buckets and
// free on the hot path. A dashboard written for client_golang's
// DefBuckets asks for le="0.1", which these do not have: give such
// histograms Opts{Buckets: PromDefBuckets()} (client_golang's 0.005 to 10
// seconds). Those bounds cost one comparison loop per observation and a
// few counters per stripe; their counts are exact too, and quantiles,
// which come from the native buckets, are the same either way.
//
// # Cardinality
//
// Families cap their label sets (Opts.MaxSeries, DefaultMaxSeries); past
// the cap, new label sets share one overflow series, so memory never grows
// without bound, and vitals_series_overflow_total counts each label set
// folded once. Bad values (NaN, infinities, negatives in a histogram)
// are counted in vitals_rejected_observations_total and change nothing
// else. Names are validated at registration; an invalid or conflicting
// registration is a programming error and panics with the reason.
//
// Every type is safe for concurrent use. The zero values of Counter, Gauge,
// FloatGauge, Histogram and Registry are ready to use.
package metric
