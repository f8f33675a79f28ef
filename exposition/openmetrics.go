package exposition

import (
	"strings"

	dto "github.com/prometheus/client_model/go"

	"github.com/bizra/vitals/metric"
)

// OpenMetrics names a counter family without its _total suffix, so a
// counter foo_total and a gauge foo would both be family foo: an invalid
// exposition that strict parsers reject. client_golang's own Go collector
// does this (go_memstats_alloc_bytes and go_memstats_alloc_bytes_total).
// Such counters are exposed in OpenMetrics as type unknown under their full
// name, which keeps every sample and its name; the other formats are not
// affected.

// openMetricsClashes returns the names of the counter families that would
// share their OpenMetrics family name with another exposed family, or nil.
func openMetricsClashes(reg *metric.Registry, runtime []*dto.MetricFamily, filter func(string) bool) map[string]bool {
	names := make(map[string]struct{})
	var counters []string
	add := func(name string, counter bool) {
		names[name] = struct{}{}
		if counter && strings.HasSuffix(name, "_total") {
			counters = append(counters, name)
		}
	}
	for _, f := range reg.Families() {
		if (filter == nil || filter(f.Name)) && len(f.Series()) > 0 {
			add(f.Name, f.Kind == metric.KindCounter)
		}
	}
	for _, mf := range runtime {
		add(mf.GetName(), mf.GetType() == dto.MetricType_COUNTER)
	}
	var clash map[string]bool
	for _, c := range counters {
		if _, ok := names[strings.TrimSuffix(c, "_total")]; ok {
			if clash == nil {
				clash = make(map[string]bool)
			}
			clash[c] = true
		}
	}
	return clash
}

// counterAsUnknown returns a copy of a counter family typed unknown
// (untyped in dto), which OpenMetrics names by its full name.
func counterAsUnknown(mf *dto.MetricFamily) *dto.MetricFamily {
	out := &dto.MetricFamily{
		Name:   mf.Name,
		Help:   mf.Help,
		Type:   dto.MetricType_UNTYPED.Enum(),
		Metric: make([]*dto.Metric, len(mf.Metric)),
	}
	// A unit stays valid only if the name still ends in it, which the
	// _total suffix prevents: drop it.
	for i, m := range mf.Metric {
		out.Metric[i] = &dto.Metric{
			Label:       m.Label,
			Untyped:     &dto.Untyped{Value: new(m.GetCounter().GetValue())},
			TimestampMs: m.TimestampMs,
		}
	}
	return out
}
