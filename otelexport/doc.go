// Package otelexport exports a vitals registry through the OpenTelemetry
// Go metric SDK: Producer implements go.opentelemetry.io/otel/sdk/metric's
// Producer interface, so a service that already runs the SDK sends vitals'
// instruments through its existing readers and exporters (OTLP, Prometheus,
// stdout) without a second pipeline.
//
//	p := otelexport.New(m.Registry(), nil)
//	exp, _ := otlpmetrichttp.New(ctx)
//	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(
//		sdkmetric.NewPeriodicReader(exp, sdkmetric.WithProducer(p))))
//	defer mp.Shutdown(ctx)
//
// Histograms become exponential histograms at scale 6 with vitals' own
// buckets (no re-bucketing: a schema-6 bucket is a scale-6 bucket), counters
// cumulative monotonic sums, gauges gauges. Produce reads the instruments
// directly, like a scrape, and is safe for concurrent use.
package otelexport
