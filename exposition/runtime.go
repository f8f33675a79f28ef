package exposition

import (
	"log/slog"
	"regexp"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	dto "github.com/prometheus/client_model/go"

	"github.com/bizra/vitals/metric"
)

// runtimeMetricsRule adds, on top of client_golang's default Go metrics
// (go_goroutines, go_gc_duration_seconds, go_memstats_*, ...), the
// scheduler latency histogram (go_sched_latencies_seconds: how long
// runnable goroutines waited for a CPU, which client_golang leaves
// opt-in) and the stop-the-world pause histograms
// (go_sched_pauses_{stopping,total}_{gc,other}_seconds).
var runtimeMetricsRule = collectors.GoRuntimeMetricsRule{
	Matcher: regexp.MustCompile(`^/sched/(latencies|pauses/(stopping|total)/(gc|other)):seconds$`),
}

// runtimeSource gathers the Go runtime and process metrics from a private
// client_golang registry. The registry is private so that nothing but this
// package registers in it, and so that two Handlers never share state.
type runtimeSource struct {
	reg    *prometheus.Registry
	logger *slog.Logger
	logged sync.Map // names of families skipped for a collision, logged once
}

func newRuntimeSource(logger *slog.Logger) *runtimeSource {
	r := prometheus.NewRegistry()
	r.MustRegister(
		collectors.NewGoCollector(collectors.WithGoCollectorRuntimeMetrics(runtimeMetricsRule)),
		// Process metrics work on Linux and Windows; elsewhere the
		// collector reports nothing.
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return &runtimeSource{reg: r, logger: logger}
}

// gather returns the runtime families filter accepts whose names do not
// collide with a vitals family. A collision means a user registered, say,
// go_goroutines in vitals: the user's family wins, and the runtime one is
// skipped (and logged once) so that the exposition never holds a name
// twice. Gather errors are returned together with the families gathered
// (client_golang returns what it could).
func (r *runtimeSource) gather(reg *metric.Registry, filter func(string) bool) ([]*dto.MetricFamily, error) {
	mfs, err := r.reg.Gather()
	out := mfs[:0]
	for _, mf := range mfs {
		name := mf.GetName()
		if filter != nil && !filter(name) {
			continue
		}
		if reg.Family(name) != nil {
			if _, dup := r.logged.LoadOrStore(name, struct{}{}); !dup && r.logger != nil {
				r.logger.Warn("vitals/exposition: runtime metric family skipped: a vitals family has the same name",
					slog.String("family", name))
			}
			continue
		}
		out = append(out, mf)
	}
	return out, err
}
