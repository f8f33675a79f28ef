package exposition

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/bizra/vitals/metric"
)

// NewCollector returns a prometheus.Collector that exports every family of
// reg, for services that already serve a client_golang registry:
//
//	promReg.MustRegister(exposition.NewCollector(vitalsReg))
//
// Counters, gauges (func series included) and histograms are exported;
// histograms carry their classic buckets and, for the protobuf format, their
// native (schema 6) buckets. The collector is unchecked: Describe sends
// nothing, so families added to reg after registration are exported too,
// and a name used both in reg and in promReg is reported by
// promReg.Gather rather than at registration. Registering it twice in one
// registry is therefore not detected either; don't.
//
// Collect allocates per series (client_golang's data model requires it);
// when vitals owns the endpoint, Handler is several times cheaper.
func NewCollector(reg *metric.Registry) prometheus.Collector {
	if reg == nil {
		panic("vitals/exposition: NewCollector needs a non-nil *metric.Registry")
	}
	return &collector{reg: reg, descs: make(map[*metric.Family]familyDesc)}
}

type collector struct {
	reg *metric.Registry

	mu    sync.Mutex
	descs map[*metric.Family]familyDesc // cache; pruned when families go away
}

type familyDesc struct {
	desc  *prometheus.Desc
	order []int // label indices sorted by name
}

// Describe sends nothing: the collector is unchecked (see NewCollector).
func (c *collector) Describe(chan<- *prometheus.Desc) {}

// Collect sends one metric per series of every family of the registry.
func (c *collector) Collect(ch chan<- prometheus.Metric) {
	fams := c.reg.Families()
	var hv metric.HistogramValue
	for _, f := range fams {
		series := f.Series()
		if len(series) == 0 {
			continue
		}
		fd := c.desc(f)
		for _, s := range series {
			if m := seriesToDTO(f, s, fd.order, &hv, true); m != nil {
				ch <- &dtoMetric{desc: fd.desc, m: m}
			}
		}
	}
	c.prune(fams)
}

func (c *collector) desc(f *metric.Family) familyDesc {
	c.mu.Lock()
	defer c.mu.Unlock()
	if fd, ok := c.descs[f]; ok {
		return fd
	}
	var opts []prometheus.DescOpt
	if unitAllowed(f) {
		opts = append(opts, prometheus.WithUnit(f.Unit))
	}
	fd := familyDesc{
		desc:  prometheus.V2.NewDesc(f.Name, f.Help, prometheus.UnconstrainedLabels(f.Labels), nil, opts...),
		order: labelOrder(f.Labels),
	}
	c.descs[f] = fd
	return fd
}

// prune drops cached descriptors of unregistered families, so that a
// registry whose families come and go does not grow the cache forever.
func (c *collector) prune(fams []*metric.Family) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.descs) <= len(fams) {
		return
	}
	live := make(map[*metric.Family]struct{}, len(fams))
	for _, f := range fams {
		live[f] = struct{}{}
	}
	for f := range c.descs {
		if _, ok := live[f]; !ok {
			delete(c.descs, f)
		}
	}
}

// dtoMetric is a prometheus.Metric that was converted when collected.
type dtoMetric struct {
	desc *prometheus.Desc
	m    *dto.Metric
}

func (d *dtoMetric) Desc() *prometheus.Desc { return d.desc }

// Write fills out with the converted series. It shares the converted
// values with out, which the client_golang registry only reads.
func (d *dtoMetric) Write(out *dto.Metric) error {
	out.Label = d.m.Label
	out.Counter = d.m.Counter
	out.Gauge = d.m.Gauge
	out.Histogram = d.m.Histogram
	return nil
}
