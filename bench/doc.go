// Package bench compares vitals with the libraries its users would
// otherwise pick: prometheus/client_golang, VictoriaMetrics/metrics and the
// OpenTelemetry Go SDK. It is a separate module so that none of them ever
// becomes a dependency of vitals itself.
//
// Everything lives in the _test.go files: one benchmark function per
// comparison, with one sub-benchmark per library doing the same work on
// the same values, so that a single `go test -bench` run measures them
// side by side under the same machine load:
//
//	BenchmarkObserve/{serial,parallel}/<lib>   one histogram observation
//	BenchmarkOperation/{serial,parallel}/<lib> a timed call with an error counter
//	BenchmarkScrape10k/<lib>                   text exposition of 10,000 series
//
// The sub-benchmark named "vitals" is the subject; every other one is an
// anchor. ./run runs them at -cpu 1,2 and cmd/benchtable turns the output
// into one row per (vitals, anchor) pair. See README.md.
package bench
