package store

import (
	"github.com/prometheus/common/model"
	"math"
	"strconv"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
	"github.com/prometheus/prometheus/tsdb/chunks"
	"github.com/prometheus/prometheus/util/annotations"
)

// series is one selected series with the samples a query asked for,
// copied out of the ring.
type series struct {
	lset    labels.Labels
	samples Samples
}

// NewSeries returns a storage.Series over samples, in time order, whose
// iterator hands the engine copies of the histograms (the engine writes
// into the ones it is handed): what the Store's queriers return, for
// queriers of other samples joined to it (alerting/histstore).
func NewSeries(lset labels.Labels, samples Samples) storage.Series {
	return &series{lset: lset, samples: samples}
}

func (s *series) Labels() labels.Labels { return s.lset }

// Iterator uses Prometheus' own list iterator over the copied samples,
// with histograms copied into the engine's buffers: the ring's histograms
// are shared and the engine writes into the ones it is handed.
func (s *series) Iterator(chunkenc.Iterator) chunkenc.Iterator {
	return copyingIterator{storage.NewListSeriesIterator(s.samples)}
}

type copyingIterator struct{ chunkenc.Iterator }

func (it copyingIterator) AtFloatHistogram(fh *histogram.FloatHistogram) (int64, *histogram.FloatHistogram) {
	t, h := it.Iterator.AtFloatHistogram(nil)
	if fh == nil {
		return t, h.Copy()
	}
	h.CopyTo(fh)
	return t, fh
}

func (it copyingIterator) AtHistogram(*histogram.Histogram) (int64, *histogram.Histogram) {
	return it.AtT(), nil // the ring holds float histograms only (Type is ValFloatHistogram)
}

type seriesSet struct {
	list []storage.Series
	i    int
}

// NewSeriesSet returns a storage.SeriesSet of list, which must be sorted
// by labels.
func NewSeriesSet(list []storage.Series) storage.SeriesSet { return &seriesSet{list: list, i: -1} }

func (ss *seriesSet) Next() bool                        { ss.i++; return ss.i < len(ss.list) }
func (ss *seriesSet) At() storage.Series                { return ss.list[ss.i] }
func (ss *seriesSet) Err() error                        { return nil }
func (ss *seriesSet) Warnings() annotations.Annotations { return nil }

// Sample is one sample of a series: a float, or a native histogram when
// Hist is set. Hist may be shared: FH returns it as is and the series'
// iterator copies it for the engine.
type Sample struct {
	Time  int64 // milliseconds
	Value float64
	Hist  *histogram.FloatHistogram
}

// T returns the timestamp (chunks.Sample).
func (s *Sample) T() int64 { return s.Time }

// ST returns 0: no start timestamps.
func (s *Sample) ST() int64 { return 0 }

// F returns a float sample's value.
func (s *Sample) F() float64 { return s.Value }

// H returns nil: histograms are kept in float form.
func (s *Sample) H() *histogram.Histogram { return nil }

// FH returns the histogram, shared.
func (s *Sample) FH() *histogram.FloatHistogram { return s.Hist }

// Type returns ValFloatHistogram when Hist is set, else ValFloat.
func (s *Sample) Type() chunkenc.ValueType {
	if s.Hist != nil {
		return chunkenc.ValFloatHistogram
	}
	return chunkenc.ValFloat
}

// Copy returns a deep copy.
func (s *Sample) Copy() chunks.Sample {
	c := *s
	if c.Hist != nil {
		c.Hist = c.Hist.Copy()
	}
	return &c
}

// Samples implements storage.Samples without an allocation per Get.
type Samples []Sample

// Get returns sample i.
func (l Samples) Get(i int) chunks.Sample { return &l[i] }

// Len returns the number of samples.
func (l Samples) Len() int { return len(l) }

// storeGatheredLocked stores the families of the Gatherer (the Go runtime
// and process collectors): counters, gauges and untyped values as they
// are, summaries as <name>{quantile}, <name>_sum and <name>_count, and
// classic histograms as <name>_bucket{le}, <name>_sum and <name>_count,
// which is what a Prometheus scrape stores for them.
func (s *Store) storeGatheredLocked(fams []*dto.MetricFamily, t, tick uint64) {
	for _, mf := range fams {
		name := mf.GetName()
		for _, m := range mf.GetMetric() {
			put := func(n string, v float64, extra ...string) {
				b := labels.NewScratchBuilder(len(m.GetLabel()) + s.extra.Len() + 2)
				b.Add(model.MetricNameLabel, n)
				for _, lp := range m.GetLabel() {
					ln := lp.GetName()
					if _, clash := s.extraMap[ln]; clash {
						ln = "exported_" + ln
					}
					b.Add(ln, lp.GetValue())
				}
				for i := 0; i+1 < len(extra); i += 2 {
					b.Add(extra[i], extra[i+1])
				}
				s.extra.Range(func(l labels.Label) { b.Add(l.Name, l.Value) })
				b.Sort()
				lset := b.Labels()
				h := lset.Hash()
				ms := s.byHash[h]
				if ms == nil {
					if ms = s.addLocked(lset, n, false, s.gn); ms == nil {
						return
					}
					s.byHash[h] = ms
				}
				ms.setFloat(t, tick, v)
			}
			switch mf.GetType() {
			case dto.MetricType_COUNTER:
				put(name, m.GetCounter().GetValue())
			case dto.MetricType_GAUGE:
				put(name, m.GetGauge().GetValue())
			case dto.MetricType_UNTYPED:
				put(name, m.GetUntyped().GetValue())
			case dto.MetricType_SUMMARY:
				sm := m.GetSummary()
				for _, q := range sm.GetQuantile() {
					put(name, q.GetValue(), "quantile", fmtFloat(q.GetQuantile()))
				}
				put(name+"_sum", sm.GetSampleSum())
				put(name+"_count", float64(sm.GetSampleCount()))
			case dto.MetricType_HISTOGRAM:
				hm := m.GetHistogram()
				for _, bk := range hm.GetBucket() {
					put(name+"_bucket", float64(bk.GetCumulativeCount()), "le", fmtFloat(bk.GetUpperBound()))
				}
				put(name+"_bucket", float64(hm.GetSampleCount()), "le", "+Inf")
				put(name+"_sum", hm.GetSampleSum())
				put(name+"_count", float64(hm.GetSampleCount()))
			}
		}
	}
}

// fmtFloat formats a label value the way the Prometheus text format does.
func fmtFloat(v float64) string {
	switch {
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}
