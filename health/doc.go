// Package health serves Kubernetes-style probes and explainable health
// scores for a service monitored by vitals.
//
// Three questions, kept apart so that probes neither cascade failures
// nor leave a broken pod Ready:
//
//   - liveness (/health/live, /livez): is the process itself working?
//     Only in-process checks (the collector loop ticks on time); a
//     database outage must never restart every pod.
//   - readiness (/health/ready, /readyz): should this instance get
//     traffic? Startup finished, the database reachable and its pool not
//     saturated (PoolCheck, one line for a *dbpool.Pool), no critical
//     breaker open (BreakerCheck with breaker.Breaker.IsOpen), your own
//     checks. Hysteresis keeps it from flapping;
//     warn (degraded) is a first-class, still-serving state; WarnOnly
//     checks report a dependency without taking the instance out.
//   - performance (/health/performance): how healthy is it, 0 to 100, per
//     component (latency and error SLO per operation and the Go runtime,
//     from package health/perfscore, and any Scorer such as the pool,
//     cache and breaker monitors), with the factors behind each score and
//     what to do about them, worst first.
//
// Checks run on the engine's goroutines with timeouts; probes read their
// last results, so a slow dependency never makes a probe slow. A check
// that panics is a failed check, logged with credentials masked. Status
// and transitions are metrics (vitals_health_*) in the Monitor's registry
// and events on Engine.Subscribe. Drainer implements graceful shutdown.
//
// A complete program:
//
//	package main
//
//	import (
//		"context"
//		"net/http"
//		"time"
//
//		"github.com/bizra/vitals"
//		"github.com/bizra/vitals/health"
//	)
//
//	func main() {
//		m := vitals.New(nil)
//		m.Start()
//		defer m.Stop()
//
//		h := health.New(m, nil)
//		startup := new(health.Gate) // closed: not ready until opened
//		_ = h.AddCheck(health.Check{Name: "startup", Gate: startup})
//		_ = h.AddCheck(health.Check{Name: "db", ComponentType: "datastore",
//			Func: health.ErrorCheck(func(ctx context.Context) error { return ping(ctx) })})
//		h.Start()
//		defer h.Stop()
//
//		// Probes go where the kubelet reaches them (the pod's port);
//		// admin actions such as EpisodeTrigger belong on a separate
//		// loopback listener behind a token.
//		mux := http.NewServeMux()
//		h.Mount(mux) // /health/{live,ready,performance}, /livez, /readyz
//		srv := &http.Server{Addr: ":8080", Handler: http.MaxBytesHandler(mux, 1<<20),
//			ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second,
//			WriteTimeout: 30 * time.Second, IdleTimeout: 30 * time.Second, MaxHeaderBytes: 64 << 10}
//		go srv.ListenAndServe()
//
//		warmUp()
//		startup.Open()
//
//		// On SIGTERM: readiness fails, 5 s more of serving, then shutdown.
//		d := &health.Drainer{Engine: h, Servers: []*http.Server{srv}, Delay: 5 * time.Second}
//		_ = d.Run(context.Background())
//	}
//
// Everything here is safe for concurrent use. The Engine never calls a
// check, scorer or gate under its own lock, and never waits for an event
// subscriber.
package health
