package eval

import (
	"context"
	"slices"
	"sort"
	"sync"

	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
	"github.com/prometheus/prometheus/tsdb/chunks"
	"github.com/prometheus/prometheus/util/annotations"
)

// recorded keeps the samples the rule loop writes: recording rules'
// results and the ALERTS series, each with its own timestamps, for
// retention. It is small (one series per recorded result) and merged with
// the snapshot ring for every query.
type recorded struct {
	mu        sync.RWMutex
	retention int64 // ms
	series    map[uint64]*recSeries
}

type recSeries struct {
	lset labels.Labels
	t    []int64
	f    []float64
	h    []*histogram.FloatHistogram // nil entries for float samples
}

func newRecorded(retentionMs int64) *recorded {
	return &recorded{retention: retentionMs, series: map[uint64]*recSeries{}}
}

// add appends one sample; h nil for a float sample.
func (r *recorded) add(lset labels.Labels, t int64, f float64, h *histogram.FloatHistogram) {
	r.mu.Lock()
	defer r.mu.Unlock()
	k := lset.Hash()
	s := r.series[k]
	if s == nil {
		s = &recSeries{lset: lset}
		r.series[k] = s
	}
	if n := len(s.t); n > 0 && s.t[n-1] >= t {
		return // out of order: keep the first
	}
	s.t, s.f, s.h = append(s.t, t), append(s.f, f), append(s.h, h)
}

// trim drops samples older than now-retention and empty series.
func (r *recorded) trim(now int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	cut := now - r.retention
	for k, s := range r.series {
		i := sort.Search(len(s.t), func(i int) bool { return s.t[i] >= cut })
		if i == len(s.t) {
			delete(r.series, k)
			continue
		}
		if i > 0 {
			s.t, s.f, s.h = slices.Clone(s.t[i:]), slices.Clone(s.f[i:]), slices.Clone(s.h[i:])
		}
	}
}

func (r *recorded) Querier(mint, maxt int64) (storage.Querier, error) {
	return &recQuerier{r: r, mint: mint, maxt: maxt}, nil
}

type recQuerier struct {
	r          *recorded
	mint, maxt int64
}

func (q *recQuerier) Close() error { return nil }

func (q *recQuerier) matching(ms []*labels.Matcher) []*recSeries {
	var out []*recSeries
outer:
	for _, s := range q.r.series {
		for _, m := range ms {
			if !m.Matches(s.lset.Get(m.Name)) {
				continue outer
			}
		}
		out = append(out, s)
	}
	return out
}

func (q *recQuerier) Select(_ context.Context, _ bool, hints *storage.SelectHints, ms ...*labels.Matcher) storage.SeriesSet {
	mint, maxt := q.mint, q.maxt
	if hints != nil {
		mint, maxt = max(mint, hints.Start), min(maxt, hints.End)
	}
	q.r.mu.RLock()
	var out []storage.Series
	for _, s := range q.matching(ms) {
		var list recSamples
		for i, t := range s.t {
			if t >= mint && t <= maxt {
				list = append(list, recSample{t: t, f: s.f[i], h: s.h[i]})
			}
		}
		if len(list) > 0 || (hints != nil && hints.Func == "series") {
			out = append(out, &recSeriesView{lset: s.lset, samples: list})
		}
	}
	q.r.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return labels.Compare(out[i].Labels(), out[j].Labels()) < 0 })
	return &listSet{list: out, i: -1}
}

func (q *recQuerier) LabelValues(_ context.Context, name string, _ *storage.LabelHints, ms ...*labels.Matcher) ([]string, annotations.Annotations, error) {
	q.r.mu.RLock()
	defer q.r.mu.RUnlock()
	var out []string
	for _, s := range q.matching(ms) {
		if v := s.lset.Get(name); v != "" && !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	slices.Sort(out)
	return out, nil, nil
}

func (q *recQuerier) LabelNames(_ context.Context, _ *storage.LabelHints, ms ...*labels.Matcher) ([]string, annotations.Annotations, error) {
	q.r.mu.RLock()
	defer q.r.mu.RUnlock()
	var out []string
	for _, s := range q.matching(ms) {
		s.lset.Range(func(l labels.Label) {
			if !slices.Contains(out, l.Name) {
				out = append(out, l.Name)
			}
		})
	}
	slices.Sort(out)
	return out, nil, nil
}

type recSeriesView struct {
	lset    labels.Labels
	samples recSamples
}

func (s *recSeriesView) Labels() labels.Labels { return s.lset }
func (s *recSeriesView) Iterator(chunkenc.Iterator) chunkenc.Iterator {
	return storage.NewListSeriesIterator(s.samples)
}

type recSample struct {
	t int64
	f float64
	h *histogram.FloatHistogram
}

func (s *recSample) T() int64                { return s.t }
func (s *recSample) ST() int64               { return 0 }
func (s *recSample) F() float64              { return s.f }
func (s *recSample) H() *histogram.Histogram { return nil }
func (s *recSample) FH() *histogram.FloatHistogram {
	if s.h == nil {
		return nil
	}
	return s.h.Copy()
}

func (s *recSample) Type() chunkenc.ValueType {
	if s.h != nil {
		return chunkenc.ValFloatHistogram
	}
	return chunkenc.ValFloat
}
func (s *recSample) Copy() chunks.Sample { c := *s; return &c }

type recSamples []recSample

func (l recSamples) Get(i int) chunks.Sample { return &l[i] }
func (l recSamples) Len() int                { return len(l) }

type listSet struct {
	list []storage.Series
	i    int
}

func (l *listSet) Next() bool                        { l.i++; return l.i < len(l.list) }
func (l *listSet) At() storage.Series                { return l.list[l.i] }
func (l *listSet) Err() error                        { return nil }
func (l *listSet) Warnings() annotations.Annotations { return nil }

// mergedQueryable reads the snapshot ring and the recorded series as one
// storage, with Prometheus' own merge querier.
type mergedQueryable struct{ a, b storage.Queryable }

func (m mergedQueryable) Querier(mint, maxt int64) (storage.Querier, error) {
	qa, err := m.a.Querier(mint, maxt)
	if err != nil {
		return nil, err
	}
	qb, err := m.b.Querier(mint, maxt)
	if err != nil {
		qa.Close()
		return nil, err
	}
	return storage.NewMergeQuerier([]storage.Querier{qa, qb}, nil, storage.ChainedSeriesMerge), nil
}
