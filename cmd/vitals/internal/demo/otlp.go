package demo

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"

	"github.com/bizra/vitals"
	"github.com/bizra/vitals/otelexport"
)

// OTLPShutdownTimeout bounds the OTLP exporter's final export at shutdown.
const OTLPShutdownTimeout = 5 * time.Second

// startOTLP exports the registry by OTLP/HTTP through the OpenTelemetry
// SDK's own exporter, with otelexport's Producer on a periodic reader.
func startOTLP(m *vitals.Monitor, cfg *Config, log *slog.Logger) (stop func(), err error) {
	p := cfg.Push
	if p.OTLP == "" {
		return func() {}, nil
	}
	exp, err := otlpmetrichttp.New(context.Background(), otlpmetrichttp.WithEndpointURL(p.OTLP))
	if err != nil {
		return nil, fmt.Errorf("otlp: %w", err)
	}
	interval := p.OTLPInterval
	if interval <= 0 {
		interval = 15 * time.Second
	}
	res := resource.NewSchemaless(attribute.String("service.name", "vitals-demo"), attribute.String("service.instance.id", cfg.Addr))
	mp := sdkmetric.NewMeterProvider(
		sdkmetric.WithResource(res),
		sdkmetric.WithReader(sdkmetric.NewPeriodicReader(exp,
			sdkmetric.WithInterval(interval),
			sdkmetric.WithProducer(otelexport.New(m.Registry(), nil)))),
	)
	log.Info("otlp export on", "interval", interval)
	return func() {
		// Shutdown exports once more, then stops the reader.
		ctx, cancel := context.WithTimeout(context.Background(), OTLPShutdownTimeout)
		defer cancel()
		if err := mp.Shutdown(ctx); err != nil {
			log.Error("otlp: shutdown", "err", err)
		}
	}, nil
}
