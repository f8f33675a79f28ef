package histstore

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/util/annotations"

	"github.com/bizra/vitals/alerting/store"
	"github.com/bizra/vitals/history"
	"github.com/bizra/vitals/metric"
)

// Queryable is the ring joined to the history. Create it with New.
type Queryable struct {
	ring *store.Store
	hist *history.Store

	mu      sync.Mutex
	cat     []catSeries // sorted by labels
	catSize int         // history's series count when cat was built
	catTime time.Time
}

type catSeries struct {
	key  string
	name string
	lset labels.Labels
}

// New returns the Queryable of ring joined to hist. hist nil is the ring
// alone.
func New(ring *store.Store, hist *history.Store) *Queryable {
	return &Queryable{ring: ring, hist: hist}
}

// Querier implements storage.Queryable: the ring's querier, primary, and
// the history's, secondary (its errors are warnings).
func (q *Queryable) Querier(mint, maxt int64) (storage.Querier, error) {
	rq, err := q.ring.Querier(mint, maxt)
	if err != nil || q.hist == nil {
		return rq, err
	}
	hq := &querier{q: q, mint: mint, maxt: maxt}
	return storage.NewMergeQuerier([]storage.Querier{rq}, []storage.Querier{hq}, storage.ChainedSeriesMerge), nil
}

// catalog returns the history's series with their labels, rebuilt when
// history's series change (checked by count, and at least once a minute).
func (q *Queryable) catalog() []catSeries {
	n := q.hist.Status().Series
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.cat != nil && n == q.catSize && time.Since(q.catTime) < time.Minute {
		return q.cat
	}
	list := q.hist.Series()
	cat := make([]catSeries, 0, len(list))
	for _, in := range list {
		name, names, values, err := parseKey(in.Key)
		if err != nil || name != in.Name {
			continue // not a key vitals.Point.Key writes
		}
		cat = append(cat, catSeries{key: in.Key, name: name, lset: q.ring.SeriesLabels(name, names, values)})
	}
	sort.Slice(cat, func(i, j int) bool { return labels.Compare(cat[i].lset, cat[j].lset) < 0 })
	q.cat, q.catSize, q.catTime = cat, n, time.Now()
	return cat
}

func (q *Queryable) matching(ms []*labels.Matcher) []catSeries {
	var out []catSeries
outer:
	for _, c := range q.catalog() {
		for _, m := range ms {
			if !m.Matches(c.lset.Get(m.Name)) {
				continue outer
			}
		}
		out = append(out, c)
	}
	return out
}

// parseKey splits a series key, name{label="value",...} as
// vitals.Point.Key writes it, into the name and the labels in order.
func parseKey(key string) (name string, names, values []string, err error) {
	i := strings.IndexByte(key, '{')
	if i < 0 {
		return key, nil, nil, nil
	}
	name, rest := key[:i], key[i+1:]
	bad := fmt.Errorf("histstore: malformed series key %q", key)
	for {
		if strings.HasPrefix(rest, "}") && len(rest) == 1 {
			return name, names, values, nil
		}
		eq := strings.IndexByte(rest, '=')
		if eq <= 0 || eq+1 >= len(rest) || rest[eq+1] != '"' {
			return "", nil, nil, bad
		}
		names = append(names, rest[:eq])
		rest = rest[eq+2:]
		var v []byte
		for {
			if rest == "" {
				return "", nil, nil, bad
			}
			c := rest[0]
			rest = rest[1:]
			if c == '"' {
				break
			}
			if c == '\\' && rest != "" {
				switch rest[0] {
				case 'n':
					c = '\n'
				default:
					c = rest[0]
				}
				rest = rest[1:]
			}
			v = append(v, c)
		}
		values = append(values, string(v))
		if strings.HasPrefix(rest, ",") {
			rest = rest[1:]
		} else if rest != "}" {
			return "", nil, nil, bad
		}
	}
}

type querier struct {
	q          *Queryable
	mint, maxt int64
}

func (hq *querier) Close() error { return nil }

// Select returns the history of the matching series for [mint, boundary).
func (hq *querier) Select(ctx context.Context, _ bool, hints *storage.SelectHints, ms ...*labels.Matcher) storage.SeriesSet {
	mint, maxt := hq.mint, hq.maxt
	if hints != nil {
		mint, maxt = max(mint, hints.Start), min(maxt, hints.End)
	}
	boundary, heads, ringHas := hq.q.ring.Heads(ms...)
	if !ringHas {
		boundary = math.MaxInt64
	}
	end := min(maxt, boundary-1) // the last timestamp served from history
	if mint > end {
		return storage.EmptySeriesSet()
	}
	found := hq.q.matching(ms)
	if len(found) == 0 {
		return storage.EmptySeriesSet()
	}
	if hints != nil && hints.Func == "series" {
		out := make([]storage.Series, len(found))
		for i, c := range found {
			out[i] = store.NewSeries(c.lset, nil)
		}
		return store.NewSeriesSet(out)
	}
	// History is read up to the boundary, to anchor counters to the
	// ring's values: every selection then sees the same values (`x offset
	// 1d - x offset 2d` is right), whatever its range.
	to := end
	if ringHas {
		to = boundary
	}
	keys := make([]string, len(found))
	for i, c := range found {
		keys[i] = c.key
	}
	// One pass, forward: a counter's value at a step's end is the ring's
	// first value less the increases after it, that is head - (total -
	// prefix), with prefix the increases up to the step; so each kept
	// sample records its prefix, and the total is known at the end.
	acc := make([]seriesAcc, len(found))
	err := hq.q.hist.Read(ctx, history.ReadRequest{Series: keys, From: time.UnixMilli(mint), To: time.UnixMilli(to)}, func(i int, st *history.Step) {
		acc[i].add(st, boundary, mint, end)
	})
	if err != nil {
		return storage.ErrSeriesSet(fmt.Errorf("history: %w", err))
	}
	out := make([]storage.Series, 0, len(found))
	for i, c := range found {
		var head *store.Head
		if j := sort.Search(len(heads), func(j int) bool { return labels.Compare(heads[j].Labels, c.lset) >= 0 }); j < len(heads) && labels.Equal(heads[j].Labels, c.lset) {
			head = &heads[j]
		}
		if samples := acc[i].samples(head); len(samples) > 0 {
			out = append(out, store.NewSeries(c.lset, samples))
		}
	}
	return store.NewSeriesSet(out)
}

// seriesAcc gathers one series' samples from history's steps.
type seriesAcc struct {
	kind  metric.Kind
	out   store.Samples // gauges: the samples; counters and histograms: the prefixes
	total float64
	htot  *histogram.FloatHistogram
	bad   bool // histograms that cannot be added (custom bounds)
}

// fraction returns the share of step st that lies before the boundary.
func fraction(st *history.Step, boundary int64) float64 {
	s, e := st.Start.UnixMilli(), st.End.UnixMilli()
	if e <= boundary {
		return 1
	}
	if s >= boundary {
		return 0
	}
	return float64(boundary-s) / float64(e-s)
}

func (a *seriesAcc) add(st *history.Step, boundary, mint, end int64) {
	a.kind = st.Kind
	t := st.End.UnixMilli()
	keep := t >= mint && t <= end
	switch st.Kind {
	case metric.KindGauge:
		if keep && !math.IsNaN(st.Last) {
			a.out = append(a.out, store.Sample{Time: t, Value: st.Last})
		}
	case metric.KindCounter:
		a.total += st.Increase * fraction(st, boundary)
		if keep {
			a.out = append(a.out, store.Sample{Time: t, Value: a.total})
		}
	case metric.KindHistogram:
		f := fraction(st, boundary)
		if a.bad || f == 0 || (st.Hist.Count == 0 && len(st.Hist.Buckets) == 0) {
			if keep && a.htot != nil && !a.bad {
				a.out = append(a.out, store.Sample{Time: t, Hist: a.htot.Copy()})
			}
			return
		}
		d := store.FloatHistogram(&st.Hist)
		if f < 1 {
			d.Mul(f)
		}
		if a.htot == nil {
			a.htot = d
		} else if _, _, _, err := a.htot.Add(d); err != nil {
			a.bad, a.out = true, nil
			return
		}
		if keep {
			a.out = append(a.out, store.Sample{Time: t, Hist: a.htot.Copy()})
		}
	}
}

// samples returns the series' samples: gauges as they are; counters and
// histograms anchored to the ring's head (head - (total - prefix)) when
// there is one, else counted from 0 (the prefixes).
func (a *seriesAcc) samples(head *store.Head) store.Samples {
	switch a.kind {
	case metric.KindCounter:
		if head != nil && head.H == nil {
			for i := range a.out {
				a.out[i].Value = head.F - (a.total - a.out[i].Value)
			}
		}
	case metric.KindHistogram:
		if head != nil && head.H != nil && a.htot != nil {
			base := head.H.Copy()
			if _, _, _, err := base.Sub(a.htot); err != nil {
				return nil
			}
			for i := range a.out {
				if _, _, _, err := a.out[i].Hist.Add(base); err != nil {
					return nil
				}
			}
		}
		for i := range a.out {
			a.out[i].Hist.Compact(0)
			a.out[i].Hist.CounterResetHint = histogram.NotCounterReset // the values only grow
		}
		if len(a.out) > 0 {
			a.out[0].Hist.CounterResetHint = histogram.UnknownCounterReset
		}
	}
	return a.out
}

func (hq *querier) LabelValues(_ context.Context, name string, _ *storage.LabelHints, ms ...*labels.Matcher) ([]string, annotations.Annotations, error) {
	if !hq.reachesHistory() {
		return nil, nil, nil
	}
	var out []string
	for _, c := range hq.q.matching(ms) {
		if v := c.lset.Get(name); v != "" {
			out = append(out, v)
		}
	}
	slices.Sort(out)
	return slices.Compact(out), nil, nil
}

func (hq *querier) LabelNames(_ context.Context, _ *storage.LabelHints, ms ...*labels.Matcher) ([]string, annotations.Annotations, error) {
	if !hq.reachesHistory() {
		return nil, nil, nil
	}
	var out []string
	for _, c := range hq.q.matching(ms) {
		c.lset.Range(func(l labels.Label) { out = append(out, l.Name) })
	}
	slices.Sort(out)
	return slices.Compact(out), nil, nil
}

// reachesHistory reports whether the querier's range starts before the
// ring's oldest tick.
func (hq *querier) reachesHistory() bool {
	boundary, ok := hq.q.ring.Oldest()
	return !ok || hq.mint < boundary
}
