package remotewrite

import (
	"encoding/binary"
	"slices"
	"strconv"
	"strings"

	"github.com/klauspost/compress/snappy"
	"github.com/prometheus/prometheus/prompb"

	"github.com/bizra/vitals/metric"
)

// The encoder turns one read of the registry into a record: the push's
// requests, each already protobuf-encoded and snappy-compressed, ready to
// be queued and sent as they are. 1.0 uses the Prometheus project's own
// generated message types (prompb); 2.0 is written straight to the wire
// format of io.prometheus.write.v2.Request (wire2.go), because the
// generated marshaller allocates a scratch buffer for every packed field
// (one per series). Every buffer is kept between pushes, so a push in
// steady state allocates nothing (TestEncodeSteadyStateAllocatesNothing);
// the 2.0 bytes are checked against the generated marshaller's
// (TestWire2MatchesGenerated).
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
	// The last two parts of a push share what the full ones leave
	// (balanceTail): fullParts parts of max samples, then tail each.
	fullParts, tail int
	cat             *catalog
	rec             recordBuilder
	raw             []byte
	hv              metric.HistogramValue
	ts              int64

	// 1.0
	req1 prompb.WriteRequest
	ts1  []prompb.TimeSeries

	// 2.0 (wire2.go)
	syms   symbols
	body   []byte   // the open part's encoded TimeSeries fields
	refs   []uint32 // one series' label refs
	spans  []span
	deltas []int64

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
	e.fullParts, e.tail = balanceTail(e.totSamples+e.totHists, e.max)
	e.n, e.nSamples, e.nHists, e.totSamples, e.totHists = 0, 0, 0, 0, 0
	if e.version == V2 {
		e.syms.Reset()
		e.body = e.body[:0]
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

func (e *encoder) full() bool {
	limit := e.max
	if e.rec.parts >= e.fullParts {
		limit = e.tail
	}
	return e.nSamples+e.nHists >= limit
}

// balanceTail plans the parts of a push like the last one (total
// samples): full parts of max samples, except the last two, which share
// the rest evenly, instead of a full part and a small remainder. Parts
// are then within a factor of two of each other, and in steady state the
// snappy encoder allocates nothing: klauspost/compress keeps its hash
// tables in pools, and one pool serves both its table for inputs above
// 64 KiB and the one for 4-16 KiB, so large parts plus a small last one
// allocated both tables again every push (0.6 MiB; BenchmarkEncode).
// Only the tail is balanced: a full part often holds whole families,
// whose names and help texts its symbol table then holds alone (evenly
// sized parts cost 2% more bytes on the wire).
func balanceTail(total, max int) (fullParts, tail int) {
	if total <= max {
		return 1, max
	}
	parts := (total + max - 1) / max
	rest := total - (parts-2)*max
	return parts - 2, (rest + 1) / 2
}

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

func (e *encoder) sample2(en *entry, v float64) {
	if e.full() {
		e.flush()
	}
	e.appendSeries2(en, v, nil)
	e.n++
	e.nSamples++
}

// native sends a histogram as a native histogram at vitals' schema (6):
// the buckets are Prometheus' own, so the mapping is exact.
func (e *encoder) native(en *entry) {
	if e.full() {
		e.flush()
	}
	e.appendSeries2(en, 0, &e.hv)
	e.n++
	e.nHists++
}

// flush encodes the open part into the record.
func (e *encoder) flush() {
	if e.n == 0 {
		return
	}
	if e.version == V1 {
		e.req1.Timeseries = e.ts1[:e.n]
		size := e.req1.Size()
		e.raw = slices.Grow(e.raw[:0], size)[:size]
		n, err := e.req1.MarshalToSizedBuffer(e.raw)
		if err != nil || n != size {
			panic("remotewrite: encoding a 1.0 request: " + errString(err))
		}
	} else {
		e.raw = e.appendRequest2(e.raw[:0])
		e.syms.Reset()
		e.body = e.body[:0]
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
