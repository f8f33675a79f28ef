package remotewrite

import (
	"encoding/binary"
	"slices"
	"strconv"
	"strings"

	"github.com/klauspost/compress/snappy"
	"github.com/prometheus/prometheus/prompb"
	writev2 "github.com/prometheus/prometheus/prompb/io/prometheus/write/v2"

	"github.com/bizra/vitals/metric"
)

// The encoder turns one read of the registry into a record: the push's
// requests, each already protobuf-encoded and snappy-compressed, ready to
// be queued and sent as they are. It uses the Prometheus project's own
// generated message types (prompb for 1.0, prompb/io/prometheus/write/v2
// for 2.0) and keeps every slice between pushes, so a 1.0 push in steady
// state allocates nothing; a 2.0 push only what the generated marshaller
// allocates for packed fields (TestEncodeSteadyStateAllocatesNothing).
//
// What is cached per series (label sets, sorted, with the external labels
// merged; classic bucket label sets; the start timestamp) never changes: a
// vitals series is immutable apart from its value.

// entry is the cached, per-series part of the encoding.
type entry struct {
	keep    bool
	fam     *metric.Family
	s       *metric.Series
	labels  []prompb.Label // sorted, __name__ included
	start   int64          // start (created) timestamp, ms; 0 unknown
	buckets [][]prompb.Label
	sum     []prompb.Label
	count   []prompb.Label
	bounds  []float64 // the classic bounds buckets was built for
}

type famCache struct {
	series  []*metric.Series // the slice entries was built for
	entries []*entry
}

// labelSet holds the external labels, sorted.
type labelSet []prompb.Label

func newLabelSet(job, instance string, ext map[string]string) labelSet {
	var ls labelSet
	add := func(k, v string) {
		if v == "" || slices.ContainsFunc(ls, func(l prompb.Label) bool { return l.Name == k }) {
			return
		}
		ls = append(ls, prompb.Label{Name: k, Value: v})
	}
	add("job", job)
	add("instance", instance)
	for k, v := range ext {
		add(k, v)
	}
	slices.SortFunc(ls, func(a, b prompb.Label) int { return strings.Compare(a.Name, b.Name) })
	return ls
}

// seriesLabels returns name, the series' labels and the external labels
// (a series' own label wins), sorted by name as remote write requires.
func seriesLabels(name string, f *metric.Family, s *metric.Series, ext labelSet, extra ...prompb.Label) []prompb.Label {
	ls := make([]prompb.Label, 0, 1+len(f.Labels)+len(ext)+len(extra))
	ls = append(ls, prompb.Label{Name: "__name__", Value: name})
	for i, n := range f.Labels {
		if i < len(s.Values) && s.Values[i] != "" {
			ls = append(ls, prompb.Label{Name: n, Value: s.Values[i]})
		}
	}
	ls = append(ls, extra...)
	for _, l := range ext {
		if !slices.ContainsFunc(ls, func(x prompb.Label) bool { return x.Name == l.Name }) {
			ls = append(ls, l)
		}
	}
	slices.SortFunc(ls, func(a, b prompb.Label) int { return strings.Compare(a.Name, b.Name) })
	return ls
}

// catalog maps the registry's series to cached entries.
type catalog struct {
	ext    labelSet
	filter func(*metric.Family, *metric.Series) bool
	fams   map[*metric.Family]*famCache
	byID   map[uint64]*entry
	// startMs is the start timestamp of series present at the first push;
	// later series start at the previous push (they did not exist then).
	startMs, prevMs int64
}

func newCatalog(ext labelSet, filter func(*metric.Family, *metric.Series) bool, startMs int64) *catalog {
	return &catalog{ext: ext, filter: filter, fams: map[*metric.Family]*famCache{}, byID: map[uint64]*entry{}, startMs: startMs}
}

func sameSlice(a, b []*metric.Series) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0])
}

// entries returns f's cached entries, refreshing them when the family's
// series changed since the last push.
func (c *catalog) entries(f *metric.Family) []*entry {
	ss := f.Series()
	fc := c.fams[f]
	if fc != nil && sameSlice(fc.series, ss) {
		return fc.entries
	}
	if fc == nil {
		fc = &famCache{}
		c.fams[f] = fc
	}
	fc.series = ss
	fc.entries = fc.entries[:0]
	for _, s := range ss {
		e := c.byID[s.ID]
		if e == nil {
			e = c.newEntry(f, s)
			c.byID[s.ID] = e
		}
		fc.entries = append(fc.entries, e)
	}
	return fc.entries
}

func (c *catalog) newEntry(f *metric.Family, s *metric.Series) *entry {
	e := &entry{fam: f, s: s, keep: c.filter == nil || c.filter(f, s)}
	if !e.keep {
		return e
	}
	e.labels = seriesLabels(f.Name, f, s, c.ext)
	if f.Kind != metric.KindGauge && !s.IsFunc() {
		// An instrument series starts at zero: before the first push it
		// existed since (at most) the writer's start, after it since the
		// previous push at most. A callback's origin is unknown.
		e.start = c.startMs
		if c.prevMs != 0 {
			e.start = c.prevMs
		}
	}
	return e
}

// classic returns e's classic-histogram label sets for bounds.
func (c *catalog) classic(e *entry, bounds []float64) {
	if e.sum != nil && slices.Equal(e.bounds, bounds) {
		return
	}
	f, s := e.fam, e.s
	e.bounds = slices.Clone(bounds)
	e.buckets = e.buckets[:0]
	for _, b := range bounds {
		e.buckets = append(e.buckets, seriesLabels(f.Name+"_bucket", f, s, c.ext, prompb.Label{Name: "le", Value: strconv.FormatFloat(b, 'g', -1, 64)}))
	}
	e.buckets = append(e.buckets, seriesLabels(f.Name+"_bucket", f, s, c.ext, prompb.Label{Name: "le", Value: "+Inf"}))
	e.sum = seriesLabels(f.Name+"_sum", f, s, c.ext)
	e.count = seriesLabels(f.Name+"_count", f, s, c.ext)
}

// Record layout (little endian). The record is what the queue stores and
// what the senders read back; every length in it is checked when decoded.
//
//	u8  format (1)
//	u8  protocol version (1 or 2)
//	i64 timestamp of the push, ms
//	u32 number of parts
//	per part: u32 samples, u32 histograms, u32 body length, body (snappy)
const (
	recordFormat     = 1
	recordHeaderSize = 1 + 1 + 8 + 4
	partHeaderSize   = 12
)

// recordBuilder appends parts to a record.
type recordBuilder struct {
	b     []byte
	parts int
}

func (r *recordBuilder) reset(v Version, ts int64) {
	r.b = append(r.b[:0], recordFormat, byte(v))
	r.b = binary.LittleEndian.AppendUint64(r.b, uint64(ts))
	r.b = binary.LittleEndian.AppendUint32(r.b, 0)
	r.parts = 0
}

// addPart snappy-compresses raw into the record.
func (r *recordBuilder) addPart(raw []byte, samples, hists int) {
	r.b = binary.LittleEndian.AppendUint32(r.b, uint32(samples))
	r.b = binary.LittleEndian.AppendUint32(r.b, uint32(hists))
	lenAt := len(r.b)
	r.b = binary.LittleEndian.AppendUint32(r.b, 0)
	n := snappy.MaxEncodedLen(len(raw))
	r.b = slices.Grow(r.b, n)
	enc := snappy.Encode(r.b[len(r.b):len(r.b)+n], raw)
	binary.LittleEndian.PutUint32(r.b[lenAt:], uint32(len(enc)))
	r.b = r.b[:len(r.b)+len(enc)]
	r.parts++
	binary.LittleEndian.PutUint32(r.b[10:], uint32(r.parts))
}

// part is one decoded request of a record.
type part struct {
	samples, hists int
	body           []byte // aliases the record
}

// recordInfo is a decoded record header.
type recordInfo struct {
	version Version
	ts      int64
	parts   []part
	samples int
	hists   int
}

// decodeRecord parses a record read back from disk. It checks every
// length against the data, so a damaged record is an error, never a panic
// or a huge allocation. parts is reused.
func decodeRecord(b []byte, parts []part) (recordInfo, error) {
	var ri recordInfo
	if len(b) < recordHeaderSize || b[0] != recordFormat {
		return ri, errCorrupt
	}
	ri.version = Version(b[1])
	if ri.version != V1 && ri.version != V2 {
		return ri, errCorrupt
	}
	ri.ts = int64(binary.LittleEndian.Uint64(b[2:]))
	n := binary.LittleEndian.Uint32(b[10:])
	rest := b[recordHeaderSize:]
	if uint64(n)*partHeaderSize > uint64(len(rest)) {
		return ri, errCorrupt
	}
	ri.parts = parts[:0]
	for i := uint32(0); i < n; i++ {
		if len(rest) < partHeaderSize {
			return ri, errCorrupt
		}
		s := binary.LittleEndian.Uint32(rest)
		h := binary.LittleEndian.Uint32(rest[4:])
		l := binary.LittleEndian.Uint32(rest[8:])
		rest = rest[partHeaderSize:]
		if uint64(l) > uint64(len(rest)) {
			return ri, errCorrupt
		}
		ri.parts = append(ri.parts, part{samples: int(s), hists: int(h), body: rest[:l:l]})
		ri.samples += int(s)
		ri.hists += int(h)
		rest = rest[l:]
	}
	if len(rest) != 0 {
		return ri, errCorrupt
	}
	return ri, nil
}

// symbols is a 2.0 request's string table; Reset clears the map, which
// keeps its storage for the next part.
type symbols struct {
	index map[string]uint32
	list  []string // list[0] is "", as the specification requires
}

func (t *symbols) Symbolize(s string) uint32 {
	if ref, ok := t.index[s]; ok {
		return ref
	}
	ref := uint32(len(t.list))
	t.list = append(t.list, s)
	t.index[s] = ref
	return ref
}

func (t *symbols) Reset() {
	clear(t.index)
	t.index[""] = 0
	t.list = t.list[:1]
}

// encoder encodes a push in one protocol version.
type encoder struct {
	version Version
	max     int // samples per part
	cat     *catalog
	rec     recordBuilder
	raw     []byte
	hv      metric.HistogramValue
	ts      int64

	// 1.0
	req1 prompb.WriteRequest
	ts1  []prompb.TimeSeries

	// 2.0
	req2 writev2.Request
	ts2  []writev2.TimeSeries
	syms symbols
	cnt  []*writev2.Histogram_CountInt
	zero []*writev2.Histogram_ZeroCountInt

	n, nSamples, nHists  int // series, samples, histograms in the open part
	totSamples, totHists int // in the record
}

func newEncoder(v Version, maxPerPart int, cat *catalog) *encoder {
	return &encoder{version: v, max: maxPerPart, cat: cat, syms: symbols{index: map[string]uint32{}, list: []string{""}}}
}

// encode reads every kept series of fams at ts and returns the record. The
// record's bytes stay valid until the next encode.
func (e *encoder) encode(fams []*metric.Family, ts int64) []byte {
	e.ts = ts
	e.rec.reset(e.version, ts)
	e.n, e.nSamples, e.nHists, e.totSamples, e.totHists = 0, 0, 0, 0, 0
	if e.version == V2 {
		e.syms.Reset()
	}
	for _, f := range fams {
		for _, en := range e.cat.entries(f) {
			if !en.keep {
				continue
			}
			if f.Kind == metric.KindHistogram {
				if en.s.Histogram == nil {
					continue
				}
				en.s.Histogram.Read(&e.hv)
				if e.version == V1 {
					e.classic(en)
				} else {
					e.native(en)
				}
				continue
			}
			v := en.s.Value()
			if e.version == V1 {
				e.sample1(en.labels, v)
			} else {
				e.sample2(en, v)
			}
		}
	}
	e.flush()
	return e.rec.b
}

func (e *encoder) full() bool { return e.nSamples+e.nHists >= e.max }

func (e *encoder) slot1() *prompb.TimeSeries {
	if e.full() {
		e.flush()
	}
	if e.n == len(e.ts1) {
		e.ts1 = append(e.ts1, prompb.TimeSeries{Samples: make([]prompb.Sample, 0, 1)})
	}
	t := &e.ts1[e.n]
	e.n++
	return t
}

func (e *encoder) sample1(labels []prompb.Label, v float64) {
	t := e.slot1()
	t.Labels = labels
	t.Samples = append(t.Samples[:0], prompb.Sample{Value: v, Timestamp: e.ts})
	e.nSamples++
}

// classic sends a histogram as Prometheus' classic series: cumulative
// _bucket{le} counts, _sum and _count, exactly what /metrics shows.
func (e *encoder) classic(en *entry) {
	e.cat.classic(en, e.hv.ClassicBounds)
	for i, c := range e.hv.ClassicCounts {
		e.sample1(en.buckets[i], float64(c))
	}
	e.sample1(en.buckets[len(en.buckets)-1], float64(e.hv.Count))
	e.sample1(en.sum, e.hv.Sum)
	e.sample1(en.count, float64(e.hv.Count))
}

func (e *encoder) slot2(en *entry) *writev2.TimeSeries {
	if e.full() {
		e.flush()
	}
	if e.n == len(e.ts2) {
		e.ts2 = append(e.ts2, writev2.TimeSeries{})
		e.cnt = append(e.cnt, &writev2.Histogram_CountInt{})
		e.zero = append(e.zero, &writev2.Histogram_ZeroCountInt{})
	}
	t := &e.ts2[e.n]
	e.n++
	t.LabelsRefs = t.LabelsRefs[:0]
	for _, l := range en.labels {
		t.LabelsRefs = append(t.LabelsRefs, e.syms.Symbolize(l.Name), e.syms.Symbolize(l.Value))
	}
	t.Metadata.HelpRef = e.syms.Symbolize(en.fam.Help)
	t.Metadata.UnitRef = e.syms.Symbolize(en.fam.Unit)
	switch en.fam.Kind {
	case metric.KindCounter:
		t.Metadata.Type = writev2.Metadata_METRIC_TYPE_COUNTER
	case metric.KindGauge:
		t.Metadata.Type = writev2.Metadata_METRIC_TYPE_GAUGE
	case metric.KindHistogram:
		t.Metadata.Type = writev2.Metadata_METRIC_TYPE_HISTOGRAM
	}
	t.Samples = t.Samples[:0]
	t.Histograms = t.Histograms[:0]
	return t
}

func (e *encoder) sample2(en *entry, v float64) {
	t := e.slot2(en)
	t.Samples = append(t.Samples, writev2.Sample{Value: v, Timestamp: e.ts, StartTimestamp: en.start})
	e.nSamples++
}

// native sends a histogram as a native histogram at vitals' schema (6):
// the buckets are Prometheus' own, so the mapping is exact.
func (e *encoder) native(en *entry) {
	t := e.slot2(en)
	i := e.n - 1
	if cap(t.Histograms) == 0 {
		t.Histograms = make([]writev2.Histogram, 0, 1)
	}
	t.Histograms = t.Histograms[:1]
	h := &t.Histograms[0]
	hv := &e.hv
	e.cnt[i].CountInt = hv.Count
	e.zero[i].ZeroCountInt = hv.ZeroCount
	h.Count = e.cnt[i]
	h.ZeroCount = e.zero[i]
	h.Sum = hv.Sum
	h.Schema = hv.Schema
	h.ZeroThreshold = hv.ZeroThreshold
	h.Timestamp = e.ts
	h.StartTimestamp = en.start
	h.ResetHint = writev2.Histogram_RESET_HINT_UNSPECIFIED
	h.PositiveSpans, h.PositiveDeltas = appendSpans(h.PositiveSpans[:0], h.PositiveDeltas[:0], hv.Buckets)
	e.nHists++
}

// appendSpans renders ascending buckets as Prometheus spans and deltas:
// a span's offset is the gap (in buckets) since the previous span, the
// first span's the index of its first bucket; deltas are each count minus
// the previous one.
func appendSpans(spans []writev2.BucketSpan, deltas []int64, bs []metric.Bucket) ([]writev2.BucketSpan, []int64) {
	var prevKey int32
	var prevCount int64
	for i, b := range bs {
		switch {
		case i == 0:
			spans = append(spans, writev2.BucketSpan{Offset: b.Key, Length: 1})
		case b.Key == prevKey+1:
			spans[len(spans)-1].Length++
		default:
			spans = append(spans, writev2.BucketSpan{Offset: b.Key - prevKey - 1, Length: 1})
		}
		deltas = append(deltas, int64(b.Count)-prevCount)
		prevKey, prevCount = b.Key, int64(b.Count)
	}
	return spans, deltas
}

// flush encodes the open part into the record.
func (e *encoder) flush() {
	if e.n == 0 {
		return
	}
	var size int
	if e.version == V1 {
		e.req1.Timeseries = e.ts1[:e.n]
		size = e.req1.Size()
		e.raw = slices.Grow(e.raw[:0], size)[:size]
		n, err := e.req1.MarshalToSizedBuffer(e.raw)
		if err != nil || n != size {
			panic("remotewrite: encoding a 1.0 request: " + errString(err))
		}
	} else {
		e.req2.Symbols = e.syms.list
		e.req2.Timeseries = e.ts2[:e.n]
		size = e.req2.Size()
		e.raw = slices.Grow(e.raw[:0], size)[:size]
		n, err := e.req2.MarshalToSizedBuffer(e.raw)
		if err != nil || n != size {
			panic("remotewrite: encoding a 2.0 request: " + errString(err))
		}
		e.syms.Reset()
	}
	e.rec.addPart(e.raw, e.nSamples, e.nHists)
	e.totSamples += e.nSamples
	e.totHists += e.nHists
	e.n, e.nSamples, e.nHists = 0, 0, 0
}

func errString(err error) string {
	if err == nil {
		return "short write"
	}
	return err.Error()
}
