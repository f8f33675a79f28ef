package exposition

import "github.com/bizra/vitals/metric"

// Names of the self-metric families a Handler registers in its registry.
// Every label value is pre-initialised, so each series reads 0 from the
// first scrape on instead of appearing only after the first incident.
const (
	// ScrapeDurationName is a histogram of the time spent encoding and
	// writing one scrape, by format ("text", "openmetrics", "protobuf").
	ScrapeDurationName = "vitals_scrape_duration_seconds"
	// ScrapeErrorsName counts scrapes that failed part-way, by cause:
	// "write" (the client went away or the connection broke), "encode"
	// (a family could not be encoded and was left out), "runtime" (the
	// client_golang runtime collectors reported an error), "gather" (an
	// extra gatherer reported an error) and "callback" (a GaugeFunc or
	// CounterFunc callback panicked; its series read NaN).
	ScrapeErrorsName = "vitals_scrape_errors_total"
	// ScrapeSkippedName counts families left out of scrapes because a
	// vitals family has the same name: runtime families and the families
	// of HandlerOpts.Gatherers. It grows by one per family per scrape.
	ScrapeSkippedName = "vitals_scrape_skipped_families_total"
	// ScrapeRejectedName counts requests answered without metrics, by
	// reason: "method" (405), "unauthorized" (401), "overloaded" (503,
	// too many scrapes in flight) and "bad_request" (400, malformed query).
	ScrapeRejectedName = "vitals_scrape_rejected_total"
)

const (
	causeWrite    = "write"
	causeEncode   = "encode"
	causeRuntime  = "runtime"
	causeGather   = "gather"
	causeCallback = "callback"

	reasonMethod       = "method"
	reasonUnauthorized = "unauthorized"
	reasonOverloaded   = "overloaded"
	reasonBadRequest   = "bad_request"
)

// selfMetrics holds the handles of the scrape self-metrics, looked up once
// when the Handler is built.
type selfMetrics struct {
	duration [numFormats]*metric.Histogram

	errWrite, errEncode, errRuntime, errGather, errCallback *metric.Counter

	skipped *metric.Counter

	rejMethod, rejUnauthorized, rejOverloaded, rejBadRequest *metric.Counter
}

// newSelfMetrics registers (or, for a second Handler on the same registry,
// finds) the self-metric families.
func newSelfMetrics(reg *metric.Registry) *selfMetrics {
	dur := reg.HistogramVec(metric.Opts{
		Name:   ScrapeDurationName,
		Help:   "Time spent encoding and writing a /metrics response, by exposition format.",
		Unit:   "seconds",
		Labels: []string{"format"},
	})
	errs := reg.CounterVec(metric.Opts{
		Name:   ScrapeErrorsName,
		Help:   "Scrapes that failed part-way, by cause: write (client went away), encode (a family was left out), runtime (client_golang runtime collector error), gather (extra gatherer error), callback (a metric callback panicked).",
		Labels: []string{"cause"},
	})
	skipped := reg.Counter(metric.Opts{
		Name: ScrapeSkippedName,
		Help: "Runtime or gathered metric families left out of a scrape because a vitals family has the same name.",
	})
	rej := reg.CounterVec(metric.Opts{
		Name:   ScrapeRejectedName,
		Help:   "Requests to the metrics handler answered without metrics, by reason: method, unauthorized, overloaded, bad_request.",
		Labels: []string{"reason"},
	})
	m := &selfMetrics{
		errWrite:        errs.With(causeWrite),
		errEncode:       errs.With(causeEncode),
		errRuntime:      errs.With(causeRuntime),
		errGather:       errs.With(causeGather),
		errCallback:     errs.With(causeCallback),
		skipped:         skipped,
		rejMethod:       rej.With(reasonMethod),
		rejUnauthorized: rej.With(reasonUnauthorized),
		rejOverloaded:   rej.With(reasonOverloaded),
		rejBadRequest:   rej.With(reasonBadRequest),
	}
	for f := range numFormats {
		m.duration[f] = dur.With(f.String())
	}
	return m
}
