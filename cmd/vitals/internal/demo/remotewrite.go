package demo

import (
	"flag"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"github.com/bizra/vitals"
	"github.com/bizra/vitals/remotewrite"
)

// Push configures pushing the demo's metrics to other systems: Prometheus
// remote write (durable queue in the data directory) and OTLP.
type Push struct {
	// RemoteWrite are remote-write receiver URLs, e.g.
	// http://127.0.0.1:9090/api/v1/write.
	RemoteWrite []string
	// RemoteWriteVersion is "1" or "2" for every RemoteWrite URL.
	// Default "1".
	RemoteWriteVersion string
	// RemoteWriteInterval is the time between pushes. Default 15 s.
	RemoteWriteInterval time.Duration
	// OTLP is an OTLP/HTTP metrics URL, e.g.
	// http://127.0.0.1:4318/v1/metrics; "" for none (otlp.go).
	OTLP string
	// OTLPInterval is the time between OTLP exports. Default 15 s.
	OTLPInterval time.Duration
}

// DefaultRemoteWriteQueueDir is the remote-write queue directory, under
// the data directory.
const DefaultRemoteWriteQueueDir = "remote-write"

// urlList is a repeatable string flag.
type urlList []string

func (l *urlList) String() string { return strings.Join(*l, ",") }
func (l *urlList) Set(v string) error {
	if v == "" {
		return fmt.Errorf("empty URL")
	}
	*l = append(*l, v)
	return nil
}

// RegisterFlags adds the push flags to fs.
func (p *Push) RegisterFlags(fs *flag.FlagSet) {
	fs.Var((*urlList)(&p.RemoteWrite), "remote-write",
		"push metrics by Prometheus remote write to this URL, e.g. http://127.0.0.1:9090/api/v1/write (repeatable); unsent data waits in <data>/"+DefaultRemoteWriteQueueDir)
	fs.StringVar(&p.RemoteWriteVersion, "remote-write-version", "1",
		"remote-write protocol for every --remote-write URL: 1 (classic histograms) or 2 (native histograms, metadata)")
	fs.DurationVar(&p.RemoteWriteInterval, "remote-write-interval", remotewrite.DefaultInterval,
		"time between two remote-write pushes")
	fs.StringVar(&p.OTLP, "otlp", "",
		"export metrics by OTLP/HTTP (protobuf) to this URL through the OpenTelemetry SDK, e.g. http://127.0.0.1:4318/v1/metrics")
	fs.DurationVar(&p.OTLPInterval, "otlp-interval", remotewrite.DefaultInterval,
		"time between two OTLP exports")
}

// startPush starts the configured pushers and returns the function that
// stops them (a final push, a short flush; what is left stays queued).
func startPush(m *vitals.Monitor, cfg *Config, log *slog.Logger) (stop func(), err error) {
	stopRW, err := startRemoteWrite(m, cfg, log)
	if err != nil {
		return nil, err
	}
	stopOTLP, err := startOTLP(m, cfg, log)
	if err != nil {
		stopRW()
		return nil, err
	}
	return func() { stopOTLP(); stopRW() }, nil
}

func startRemoteWrite(m *vitals.Monitor, cfg *Config, log *slog.Logger) (stop func(), err error) {
	p := cfg.Push
	if len(p.RemoteWrite) == 0 {
		return func() {}, nil
	}
	v, err := remotewrite.ParseVersion(p.RemoteWriteVersion)
	if err != nil {
		return nil, err
	}
	opts := &remotewrite.Options{
		Interval: p.RemoteWriteInterval,
		Job:      "vitals-demo",
		Instance: cfg.Addr,
		Dir:      filepath.Join(cfg.DataDir, DefaultRemoteWriteQueueDir),
		Logger:   log,
	}
	for _, u := range p.RemoteWrite {
		opts.Endpoints = append(opts.Endpoints, remotewrite.Endpoint{URL: u, Version: v})
	}
	w, err := remotewrite.New(m, opts)
	if err != nil {
		return nil, fmt.Errorf("remote write: %w", err)
	}
	w.Start()
	log.Info("remote write on", "endpoints", len(opts.Endpoints), "version", v.String(), "interval", opts.Interval)
	return func() {
		if err := w.Close(); err != nil {
			log.Error("remote write: close", "err", err)
		}
	}, nil
}
