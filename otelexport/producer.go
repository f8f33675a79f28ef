package otelexport

import (
	"context"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/bizra/vitals/metric"
)

// Options configure a Producer. nil means the defaults below.
type Options struct {
	// Scope names the instrumentation scope of every metric. Default
	// "github.com/bizra/vitals".
	Scope string
	// Filter, when set, decides once per series whether it is exported.
	// It is called the first time the Producer sees a series, never under
	// a vitals lock; the answer is kept.
	Filter func(f *metric.Family, s *metric.Series) bool
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// Producer exports a vitals registry through the OpenTelemetry metric SDK:
// pass it to a reader with sdkmetric.WithProducer and the registry's
// series leave through that reader's exporter, beside the SDK's own
// instruments.
//
//   - counters become cumulative, monotonic sums;
//   - gauges become gauges;
//   - histograms become exponential histograms at scale 6: a vitals
//     bucket at schema 6 is exactly an OTel bucket at scale 6 (OTel index
//     = vitals key - 1, because OTel buckets are (base^i, base^(i+1)] and
//     Prometheus ones (base^(k-1), base^k]), so nothing is re-bucketed.
//
// Start times are the Producer's creation for series present then, and
// the previous Produce for series born later (a vitals instrument starts
// at zero). Produce is safe for concurrent use.
type Producer struct {
	reg    *metric.Registry
	scope  instrumentation.Scope
	filter func(*metric.Family, *metric.Series) bool
	now    func() time.Time

	mu    sync.Mutex
	start time.Time
	prev  time.Time
	cache map[uint64]*seriesInfo
	hv    metric.HistogramValue
}

var _ sdkmetric.Producer = (*Producer)(nil)

type seriesInfo struct {
	keep  bool
	attrs attribute.Set
	start time.Time
}

// New returns a Producer for reg.
func New(reg *metric.Registry, opts *Options) *Producer {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Scope == "" {
		o.Scope = "github.com/bizra/vitals"
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Producer{
		reg:    reg,
		scope:  instrumentation.Scope{Name: o.Scope},
		filter: o.Filter,
		now:    o.Now,
		start:  o.Now(),
		cache:  map[uint64]*seriesInfo{},
	}
}

// Produce reads every series of the registry now.
func (p *Producer) Produce(context.Context) ([]metricdata.ScopeMetrics, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	fams := p.reg.Families()
	out := make([]metricdata.Metrics, 0, len(fams))
	for _, f := range fams {
		m := metricdata.Metrics{Name: f.Name, Description: f.Help, Unit: ucum(f.Unit)}
		switch f.Kind {
		case metric.KindCounter:
			var pts []metricdata.DataPoint[float64]
			for _, s := range f.Series() {
				if si := p.info(f, s); si.keep {
					pts = append(pts, metricdata.DataPoint[float64]{Attributes: si.attrs, StartTime: si.start, Time: now, Value: s.Value()})
				}
			}
			m.Data = metricdata.Sum[float64]{DataPoints: pts, Temporality: metricdata.CumulativeTemporality, IsMonotonic: true}
			if len(pts) == 0 {
				continue
			}
		case metric.KindGauge:
			var pts []metricdata.DataPoint[float64]
			for _, s := range f.Series() {
				if si := p.info(f, s); si.keep {
					pts = append(pts, metricdata.DataPoint[float64]{Attributes: si.attrs, Time: now, Value: s.Value()})
				}
			}
			if len(pts) == 0 {
				continue
			}
			m.Data = metricdata.Gauge[float64]{DataPoints: pts}
		case metric.KindHistogram:
			var pts []metricdata.ExponentialHistogramDataPoint[float64]
			for _, s := range f.Series() {
				si := p.info(f, s)
				if !si.keep || s.Histogram == nil {
					continue
				}
				s.Histogram.Read(&p.hv)
				pts = append(pts, exponential(&p.hv, si.attrs, si.start, now))
			}
			if len(pts) == 0 {
				continue
			}
			m.Data = metricdata.ExponentialHistogram[float64]{DataPoints: pts, Temporality: metricdata.CumulativeTemporality}
		default:
			continue
		}
		out = append(out, m)
	}
	p.prev = now
	return []metricdata.ScopeMetrics{{Scope: p.scope, Metrics: out}}, nil
}

func (p *Producer) info(f *metric.Family, s *metric.Series) *seriesInfo {
	if si := p.cache[s.ID]; si != nil {
		return si
	}
	si := &seriesInfo{keep: p.filter == nil || p.filter(f, s), start: p.start}
	if !p.prev.IsZero() {
		si.start = p.prev
	}
	kvs := make([]attribute.KeyValue, 0, len(f.Labels))
	for i, l := range f.Labels {
		if i < len(s.Values) {
			kvs = append(kvs, attribute.String(l, s.Values[i]))
		}
	}
	si.attrs = attribute.NewSet(kvs...)
	p.cache[s.ID] = si
	return si
}

// exponential maps a schema-6 histogram value to an OTel exponential
// histogram point at scale 6, bucket for bucket.
func exponential(hv *metric.HistogramValue, attrs attribute.Set, start, now time.Time) metricdata.ExponentialHistogramDataPoint[float64] {
	dp := metricdata.ExponentialHistogramDataPoint[float64]{
		Attributes:    attrs,
		StartTime:     start,
		Time:          now,
		Count:         hv.Count,
		Sum:           hv.Sum,
		Scale:         hv.Schema,
		ZeroCount:     hv.ZeroCount,
		ZeroThreshold: hv.ZeroThreshold,
	}
	if hv.Count > 0 {
		dp.Min = metricdata.NewExtrema(hv.Min)
		dp.Max = metricdata.NewExtrema(hv.Max)
	}
	if n := len(hv.Buckets); n > 0 {
		first, last := hv.Buckets[0].Key, hv.Buckets[n-1].Key
		counts := make([]uint64, last-first+1)
		for _, b := range hv.Buckets {
			counts[b.Key-first] = b.Count
		}
		dp.PositiveBucket = metricdata.ExponentialBucket{Offset: first - 1, Counts: counts}
	}
	return dp
}

// ucum maps vitals' base units to the UCUM codes OpenTelemetry uses.
func ucum(u string) string {
	switch u {
	case "seconds":
		return "s"
	case "bytes":
		return "By"
	case "ratio":
		return "1"
	case "celsius":
		return "Cel"
	case "milliseconds":
		return "ms"
	}
	return u
}
