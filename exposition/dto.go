package exposition

import (
	"math"
	"slices"
	"strings"

	dto "github.com/prometheus/client_model/go"

	"github.com/bizra/vitals/metric"
)

// This file converts vitals families into client_model's dto types, the
// input of the expfmt encoders (OpenMetrics, protobuf) and of the
// client_golang registry (NewCollector). These paths allocate per series;
// the text format, which most scrapes use, has its own encoder (text.go).

// familyToDTO converts f, or returns nil when f has no series or a kind
// this package does not know. native adds the native-histogram fields,
// which only the protobuf format carries. hv is scratch.
func familyToDTO(f *metric.Family, hv *metric.HistogramValue, native bool) *dto.MetricFamily {
	series := f.Series()
	if len(series) == 0 {
		return nil
	}
	var typ dto.MetricType
	switch f.Kind {
	case metric.KindCounter:
		typ = dto.MetricType_COUNTER
	case metric.KindGauge:
		typ = dto.MetricType_GAUGE
	case metric.KindHistogram:
		typ = dto.MetricType_HISTOGRAM
	default:
		return nil
	}
	mf := &dto.MetricFamily{
		Name:   new(f.Name),
		Help:   new(f.Help),
		Type:   &typ,
		Metric: make([]*dto.Metric, 0, len(series)),
	}
	if unitAllowed(f) {
		mf.Unit = new(f.Unit)
	}
	order := labelOrder(f.Labels)
	for _, s := range series {
		if m := seriesToDTO(f, s, order, hv, native); m != nil {
			mf.Metric = append(mf.Metric, m)
		}
	}
	return mf
}

// unitAllowed reports whether f's unit may be exposed. OpenMetrics requires
// a family with a UNIT to end in _<unit> (for counters, before _total);
// exposing a unit on any other name makes the whole scrape invalid, so the
// unit is left out there rather than the name changed behind the user.
func unitAllowed(f *metric.Family) bool {
	if f.Unit == "" {
		return false
	}
	name := f.Name
	if f.Kind == metric.KindCounter {
		name = strings.TrimSuffix(name, "_total")
	}
	return strings.HasSuffix(name, "_"+f.Unit)
}

// labelOrder returns the indices of names sorted by name: dto label pairs
// are sorted by name, the client_golang registry checks it.
func labelOrder(names []string) []int {
	order := make([]int, len(names))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return strings.Compare(names[a], names[b]) })
	return order
}

func seriesToDTO(f *metric.Family, s *metric.Series, order []int, hv *metric.HistogramValue, native bool) *dto.Metric {
	m := &dto.Metric{}
	if len(order) > 0 && len(s.Values) == len(f.Labels) {
		m.Label = make([]*dto.LabelPair, len(order))
		for i, j := range order {
			m.Label[i] = &dto.LabelPair{Name: new(f.Labels[j]), Value: new(s.Values[j])}
		}
	}
	switch f.Kind {
	case metric.KindCounter:
		m.Counter = &dto.Counter{Value: new(seriesValue(s))}
	case metric.KindGauge:
		m.Gauge = &dto.Gauge{Value: new(seriesValue(s))}
	case metric.KindHistogram:
		if s.Histogram == nil {
			return nil
		}
		s.Histogram.Read(hv)
		m.Histogram = histogramToDTO(hv, native)
	}
	return m
}

// seriesValue returns a series' value; a callback that panics reads NaN
// rather than taking the collection down.
func seriesValue(s *metric.Series) (v float64) {
	if !s.IsFunc() {
		return s.Value()
	}
	defer func() {
		if recover() != nil {
			v = math.NaN()
		}
	}()
	return s.Value()
}

// histogramToDTO converts a histogram value. Classic buckets are always
// there (cumulative, +Inf left implicit as client_golang does: the
// encoders and Prometheus derive it from SampleCount). With native, the
// native fields are added next to them, so a Prometheus server with native
// histograms enabled ingests the native histogram and one without falls
// back to the classic buckets.
func histogramToDTO(hv *metric.HistogramValue, native bool) *dto.Histogram {
	h := &dto.Histogram{
		SampleCount: new(hv.Count),
		SampleSum:   new(hv.Sum),
		Bucket:      make([]*dto.Bucket, len(hv.ClassicBounds)),
	}
	for i, ub := range hv.ClassicBounds {
		var c uint64
		if i < len(hv.ClassicCounts) {
			c = hv.ClassicCounts[i]
		}
		h.Bucket[i] = &dto.Bucket{UpperBound: new(ub), CumulativeCount: new(c)}
	}
	if native {
		// ZeroThreshold is 2^-64 > 0, which is what marks the histogram
		// as native to Prometheus even before the first observation; no
		// empty span is needed.
		h.Schema = new(hv.Schema)
		h.ZeroThreshold = new(hv.ZeroThreshold)
		h.ZeroCount = new(hv.ZeroCount)
		h.PositiveSpan, h.PositiveDelta = nativeSpans(hv.Buckets)
	}
	return h
}

// nativeSpans encodes sparse, ascending buckets as native-histogram spans
// and deltas: the first span's offset is the first key, later offsets are
// the gaps between spans, and each delta is a bucket's count minus the
// previous bucket's (across spans; the first is against zero). Gaps of one or two empty buckets are filled with
// zero-count buckets instead of opening a new span, as client_golang does:
// a span costs two varints, an empty bucket one byte.
func nativeSpans(buckets []metric.Bucket) ([]*dto.BucketSpan, []int64) {
	if len(buckets) == 0 {
		return nil, nil
	}
	var (
		spans  []*dto.BucketSpan
		deltas = make([]int64, 0, len(buckets))
		prev   int64 // count of the previous bucket
		length uint32
		last   int32
	)
	closeSpan := func() {
		spans[len(spans)-1].Length = new(length)
	}
	for i, b := range buckets {
		switch gap := int64(b.Key) - int64(last) - 1; {
		case i == 0:
			spans = append(spans, &dto.BucketSpan{Offset: new(b.Key)})
		case gap > 2:
			closeSpan()
			spans = append(spans, &dto.BucketSpan{Offset: new(int32(gap))})
			length = 0
		default:
			for range gap {
				deltas = append(deltas, -prev)
				prev = 0
				length++
			}
		}
		c := int64(b.Count)
		deltas = append(deltas, c-prev)
		prev = c
		length++
		last = b.Key
	}
	closeSpan()
	return spans, deltas
}
