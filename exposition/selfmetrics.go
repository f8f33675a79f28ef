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
	// (a family could not be encoded and was left out) and "runtime"
	// (the Go runtime or process collectors reported an error).
	ScrapeErrorsName = "vitals_scrape_errors_total"
	// ScrapeRejectedName counts requests answered without metrics, by
	// reason: "method" (405), "unauthorized" (401), "overloaded" (503,
	// too many scrapes in flight) and "bad_request" (400, malformed query).
	ScrapeRejectedName = "vitals_scrape_rejected_total"
)

const (
	causeWrite   = "write"
	causeEncode  = "encode"
	causeRuntime = "runtime"

	reasonMethod       = "method"
	reasonUnauthorized = "unauthorized"
	reasonOverloaded   = "overloaded"
	reasonBadRequest   = "bad_request"
)

// selfMetrics holds the handles of the scrape self-metrics, looked up once
// when the Handler is built.
type selfMetrics struct {
	duration [numFormats]*metric.Histogram

	errWrite, errEncode, errRuntime *metric.Counter

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
		Help:   "Scrapes that failed part-way, by cause: write (client went away), encode (a family was left out), runtime (Go runtime or process collector error).",
		Labels: []string{"cause"},
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
