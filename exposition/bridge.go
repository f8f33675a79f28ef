package exposition

import (
	"regexp"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	dto "github.com/prometheus/client_model/go"
)

// runtimeMetricsRule adds to client_golang's default Go metrics the
// families the native reader adds (runtime.go): the scheduler latency
// histogram, the stop-the-world pause histograms and the GC CPU counters.
var runtimeMetricsRule = collectors.GoRuntimeMetricsRule{
	Matcher: regexp.MustCompile(`^/sched/(latencies|pauses/(stopping|total)/(gc|other)):seconds$|^/cpu/classes/(gc/)?total:cpu-seconds$`),
}

// newRuntimeBridge returns a private client_golang registry holding the Go
// and process collectors (HandlerOpts.ClientGolangRuntime). It is private
// so that nothing else registers in it and two Handlers share no state.
func newRuntimeBridge() *prometheus.Registry {
	r := prometheus.NewRegistry()
	r.MustRegister(
		collectors.NewGoCollector(collectors.WithGoCollectorRuntimeMetrics(runtimeMetricsRule)),
		// Process metrics work on Linux, darwin and Windows; elsewhere
		// the collector reports nothing.
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return r
}

// gatherExtra gathers the client_golang runtime bridge and the extra
// gatherers. It returns the families filter accepts whose names no vitals
// family, runtime family or earlier gathered family has, and the set of
// their names. Errors are counted and logged; what was gathered is kept.
func (h *handler) gatherExtra(filter func(string) bool, rt *rtScratch, f format) ([]*dto.MetricFamily, map[string]bool) {
	var out []*dto.MetricFamily
	names := make(map[string]bool)
	take := func(g prometheus.Gatherer, bridge bool) {
		mfs, err := g.Gather()
		if err != nil {
			if bridge {
				h.self.errRuntime.Inc()
				h.logError("gathering runtime metrics failed; exporting what was gathered", err, f)
			} else {
				h.self.errGather.Inc()
				h.logError("a gatherer failed; exporting what it gathered", err, f)
			}
		}
		for _, mf := range mfs {
			name := mf.GetName()
			if filter != nil && !filter(name) {
				continue
			}
			shadowed := h.reg.Family(name) != nil || names[name]
			if !shadowed && rt != nil {
				_, shadowed = h.runtime.byName[name]
			}
			if shadowed {
				msg := "gathered metric family skipped: a vitals family has the same name"
				if bridge {
					msg = "runtime metric family skipped: a vitals family has the same name"
				}
				h.skipped(name, msg)
				continue
			}
			names[name] = true
			out = append(out, mf)
		}
	}
	if h.bridge != nil {
		take(h.bridge, true)
	}
	for _, g := range h.gatherers {
		take(g, false)
	}
	return out, names
}
