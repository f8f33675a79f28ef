package history

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"slices"
	"sync"

	"github.com/bizra/vitals/metric"
)

// The on-disk format (docs/HISTORY.md has the reader's version).
//
// A frame is every series' record for one step of one tier, stored under
// the step's start (8 bytes, big-endian Unix seconds) in the tier's
// bucket. Frames are written once, in time order, so bbolt's B+tree only
// ever appends; they are self-contained (no reference to another frame),
// so retention deletes whole keys.
//
//	frame   = version(1) uvarint(ticks) uvarint(ms) uvarint(n)
//	          n × (uvarint(record length<<1 | 1 if the series number is
//	          not the previous one's plus 1) [uvarint(number difference)])
//	          records… crc32c(4, little-endian, over everything before)
//	record  = header(1) [uvarint ticks] [uvarint ms] [uvarint n] body
//	header  = kind (bits 0–1: 1 counter, 2 gauge, 3 histogram)
//	          | 1<<2 ticks differ from the frame's | 1<<3 ms differ
//	          | 1<<4 n present (gauges)
//	counter = tags(1) increase minIncrease maxIncrease (a counter's value
//	          is not kept: it restarts with the process, and the increase
//	          is what a history is read for; 3 bytes a record less)
//	gauge   = tags(1) sum min max last, or (header bit 5, integers)
//	          tags(1) sum varint(min-m) varint(max-m) varint(last-m) with
//	          m = int(sum)/n: integer gauges sit near their mean
//	histo   = uvarint(count) uvarint(zeroCount) uvarint(flags)
//	          tags(1) sum min max zeroThreshold varint(schema) uvarint(n)
//	          [varint(first key) uvarint(last-first) keys uvarint(len) counts]
//	keys    = a bitmap of last-first+1 bits (flag 1), or
//	          uvarint(runs) runs × ([uvarint(gap)] uvarint(length))
//	counts  = n adaptive Rice codes (bits.go) of count-1, or (flag 2) of
//	          zigzag differences from the previous bucket's count
//	flags   = 1 bitmap | 2 differences | 4 min is the first bucket's lower
//	          bound | 8 max is the last bucket's upper bound | 16 the
//	          default zero threshold | k0<<5 (the Rice coder's first k)
//
// Omitted values (flags 4, 8, 16) are written as 0.

// A tags byte holds a 2-bit tag for each of up to four floats, first float
// in the low bits: 0 zero (no bytes), 1 an integer up to 2^53 (zigzag
// varint), 2 a float32 that is exact (4 bytes), 3 a float64 (8 bytes).
// Counters and integer gauges, most of the data, so take 1–3 bytes a
// value. A histogram bucket takes 4 to 12 bits (BenchmarkHistory90Days):
// its key is a bit in a bitmap or free within a run, its count a Rice
// code.
const frameVersion = 1

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// errCorrupt is wrapped by every decoding error.
var errCorrupt = errors.New("corrupt history frame")

func corrupt(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{errCorrupt}, args...)...)
}

const (
	hdrKindMask = 3
	hdrTicks    = 1 << 2
	hdrMs       = 1 << 3
	hdrN        = 1 << 4
	hdrRel      = 1 << 5 // gauge extremes and last as differences from the mean
	hdrUnknown  = 0xc0
)

const (
	tagZero = iota
	tagInt
	tagF32
	tagF64
)

func floatTag(v float64) byte {
	switch {
	case v == 0 && !math.Signbit(v):
		return tagZero
	case v != 0 && v == math.Trunc(v) && math.Abs(v) <= 1<<53: // -0 is not an integer here
		return tagInt
	case float64(float32(v)) == v:
		return tagF32
	}
	return tagF64
}

// isInt reports whether v is an integer that int64 and float64 both hold
// exactly.
func isInt(v float64) bool {
	return v == math.Trunc(v) && math.Abs(v) <= 1<<53 && !(v == 0 && math.Signbit(v))
}

// appendFloats appends a tags byte and the values of up to four floats.
func appendFloats(b []byte, vs ...float64) []byte {
	var tags byte
	for i, v := range vs {
		tags |= floatTag(v) << (2 * i)
	}
	b = append(b, tags)
	for i, v := range vs {
		switch tags >> (2 * i) & 3 {
		case tagInt:
			b = binary.AppendVarint(b, int64(v))
		case tagF32:
			b = binary.LittleEndian.AppendUint32(b, math.Float32bits(float32(v)))
		case tagF64:
			b = binary.LittleEndian.AppendUint64(b, math.Float64bits(v))
		}
	}
	return b
}

// reader decodes with bounds checks: on-disk bytes are outside input.
type reader struct {
	b   []byte
	err error
}

func (r *reader) fail(what string) {
	if r.err == nil {
		r.err = corrupt("truncated or invalid %s", what)
	}
	r.b = nil
}

func (r *reader) byte(what string) byte {
	if len(r.b) < 1 {
		r.fail(what)
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *reader) uvarint(what string) uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail(what)
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) varint(what string) int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail(what)
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) floats(out []*float64) {
	tags := r.byte("float tags")
	for i, p := range out {
		switch tags >> (2 * i) & 3 {
		case tagZero:
			*p = 0
		case tagInt:
			*p = float64(r.varint("integer"))
		case tagF32:
			if len(r.b) < 4 {
				r.fail("float32")
				return
			}
			*p = float64(math.Float32frombits(binary.LittleEndian.Uint32(r.b)))
			r.b = r.b[4:]
		case tagF64:
			if len(r.b) < 8 {
				r.fail("float64")
				return
			}
			*p = math.Float64frombits(binary.LittleEndian.Uint64(r.b))
			r.b = r.b[8:]
		}
	}
	if tags>>(2*len(out)) != 0 {
		r.fail("float tags")
	}
}

// appendRecord appends r's record; ticks and ms are the frame's defaults.
func appendRecord(b []byte, r *rollup, ticks, ms uint64) []byte {
	hdr := byte(r.kind) & hdrKindMask
	if r.ticks != ticks {
		hdr |= hdrTicks
	}
	if r.ms != ms {
		hdr |= hdrMs
	}
	if r.kind == metric.KindGauge && r.n != r.ticks {
		hdr |= hdrN
	}
	rel := r.kind == metric.KindGauge && r.n > 0 && isInt(r.a) && isInt(r.lo) && isInt(r.hi) && isInt(r.last)
	if rel {
		hdr |= hdrRel
	}
	b = append(b, hdr)
	if hdr&hdrTicks != 0 {
		b = binary.AppendUvarint(b, r.ticks)
	}
	if hdr&hdrMs != 0 {
		b = binary.AppendUvarint(b, r.ms)
	}
	if hdr&hdrN != 0 {
		b = binary.AppendUvarint(b, r.n)
	}
	switch r.kind {
	case metric.KindCounter:
		b = appendFloats(b, r.a, r.lo, r.hi)
	case metric.KindGauge:
		if rel {
			m := int64(r.a) / int64(r.n)
			b = appendFloats(b, r.a)
			b = binary.AppendVarint(b, int64(r.lo)-m)
			b = binary.AppendVarint(b, int64(r.hi)-m)
			b = binary.AppendVarint(b, int64(r.last)-m)
		} else {
			b = appendFloats(b, r.a, r.lo, r.hi, r.last)
		}
	case metric.KindHistogram:
		b = appendHistogram(b, r)
	}
	return b
}

// Histogram keys run from -4095 to 4096 at schema 6; anything far outside
// is corruption, and the bound keeps a bad length from allocating.
const maxSpanBuckets = 1 << 14

const (
	hfBitmap = 1 << iota
	hfDelta
	hfLoBound
	hfHiBound
	hfZeroThreshold
	hfK0Shift = iota
)

type histEncodeScratch struct {
	raw, diff []uint64
	bits      []byte
}

var histScratch = sync.Pool{New: func() any { return new(histEncodeScratch) }}

func appendHistogram(b []byte, r *rollup) []byte {
	h := &r.h
	bs := h.Buckets
	var flags uint64
	lo, hi, zt := r.lo, r.hi, h.ZeroThreshold
	if len(bs) > 0 {
		if l, _ := metric.BucketBounds(h.Schema, bs[0].Key); lo == l {
			flags |= hfLoBound
			lo = 0
		}
		if _, u := metric.BucketBounds(h.Schema, bs[len(bs)-1].Key); hi == u {
			flags |= hfHiBound
			hi = 0
		}
	}
	if zt == metric.ZeroThreshold {
		flags |= hfZeroThreshold
		zt = 0
	}
	var keys, counts []byte
	if len(bs) > 0 {
		span := int(bs[len(bs)-1].Key - bs[0].Key)
		nruns := 0
		for i := range bs {
			if i == 0 || bs[i].Key != bs[i-1].Key+1 {
				nruns++
			}
		}
		runs := binary.AppendUvarint(nil, uint64(nruns))
		for i := 0; i < len(bs); {
			j := i + 1
			for j < len(bs) && bs[j].Key == bs[j-1].Key+1 {
				j++
			}
			if i > 0 {
				runs = binary.AppendUvarint(runs, uint64(bs[i].Key-bs[i-1].Key-1))
			}
			runs = binary.AppendUvarint(runs, uint64(j-i))
			i = j
		}
		if bm := (span + 8) / 8; bm < len(runs) {
			flags |= hfBitmap
			keys = make([]byte, bm)
			for _, bk := range bs {
				off := int(bk.Key - bs[0].Key)
				keys[off/8] |= 1 << (off % 8)
			}
		} else {
			keys = runs
		}
		sc := histScratch.Get().(*histEncodeScratch)
		defer histScratch.Put(sc)
		raw, diff := sc.raw[:0], sc.diff[:0]
		prev := uint64(1)
		for _, bk := range bs {
			c := max(bk.Count, 1) // a stored bucket is populated
			raw = append(raw, c-1)
			diff = append(diff, zigzag(int64(c-prev)))
			prev = c
		}
		sc.raw, sc.diff = raw, diff
		xs, k0 := raw, riceK0(raw)
		if k0d := riceK0(diff); riceBits(diff, k0d) < riceBits(raw, k0) {
			xs, k0 = diff, k0d
			flags |= hfDelta
		}
		w := bitWriter{b: sc.bits[:0]}
		riceEncode(&w, xs, k0)
		counts = w.finish()
		sc.bits = counts
		flags |= uint64(k0) << hfK0Shift
	}
	b = binary.AppendUvarint(b, h.Count)
	b = binary.AppendUvarint(b, h.ZeroCount)
	b = binary.AppendUvarint(b, flags)
	b = appendFloats(b, h.Sum, lo, hi, zt)
	b = binary.AppendVarint(b, int64(h.Schema))
	b = binary.AppendUvarint(b, uint64(len(bs)))
	if len(bs) == 0 {
		return b
	}
	b = binary.AppendVarint(b, int64(bs[0].Key))
	b = binary.AppendUvarint(b, uint64(bs[len(bs)-1].Key-bs[0].Key))
	b = append(b, keys...)
	b = binary.AppendUvarint(b, uint64(len(counts)))
	return append(b, counts...)
}

func decodeHistogram(rd *reader, r *rollup) error {
	h := &r.h
	h.Count = rd.uvarint("count")
	h.ZeroCount = rd.uvarint("zero count")
	flags := rd.uvarint("histogram flags")
	rd.floats([]*float64{&h.Sum, &r.lo, &r.hi, &h.ZeroThreshold})
	schema := rd.varint("schema")
	n := rd.uvarint("bucket count")
	if rd.err != nil {
		return rd.err
	}
	if flags>>hfK0Shift > 63 {
		return corrupt("histogram flags %#x", flags)
	}
	if schema < -4 || schema > 8 {
		return corrupt("schema %d", schema)
	}
	h.Schema = int32(schema)
	if flags&hfZeroThreshold != 0 {
		h.ZeroThreshold = metric.ZeroThreshold
	}
	if n > maxSpanBuckets {
		return corrupt("%d buckets", n)
	}
	h.Buckets = h.Buckets[:0]
	if n == 0 {
		if flags&(hfLoBound|hfHiBound) != 0 {
			return corrupt("bucket bounds of no buckets")
		}
		return nil
	}
	first := rd.varint("first key")
	span := rd.uvarint("key span")
	if rd.err != nil {
		return rd.err
	}
	if first < -4*maxSpanBuckets || first > 4*maxSpanBuckets || span > 4*maxSpanBuckets || span+1 < n {
		return corrupt("keys %d+%d for %d buckets", first, span, n)
	}
	// Every bucket takes at least one bit of its count's code: a header
	// claiming more buckets than the bytes left can hold is damage, found
	// before allocating for it.
	if n > 8*uint64(len(rd.b)) {
		return corrupt("%d buckets in %d bytes", n, len(rd.b))
	}
	if cap(h.Buckets) < int(n) {
		h.Buckets = make([]metric.Bucket, 0, n)
	}
	if flags&hfBitmap != 0 {
		bm := int(span+8) / 8
		if len(rd.b) < bm {
			return corrupt("truncated key bitmap")
		}
		for off := 0; off <= int(span); off++ {
			if rd.b[off/8]&(1<<(off%8)) != 0 {
				if len(h.Buckets) == int(n) {
					return corrupt("key bitmap holds more than %d keys", n)
				}
				h.Buckets = append(h.Buckets, metric.Bucket{Key: int32(first + int64(off))})
			}
		}
		rd.b = rd.b[bm:]
	} else {
		nruns := rd.uvarint("runs")
		if nruns < 1 || nruns > n {
			return corrupt("%d runs of %d buckets", nruns, n)
		}
		key := first
		for i := uint64(0); i < nruns && rd.err == nil; i++ {
			if i > 0 {
				key += 1 + int64(min(rd.uvarint("gap"), 4*maxSpanBuckets))
			}
			l := rd.uvarint("run length")
			if l < 1 || uint64(len(h.Buckets))+l > n {
				return corrupt("run of %d", l)
			}
			for k := uint64(0); k < l; k++ {
				h.Buckets = append(h.Buckets, metric.Bucket{Key: int32(key)})
				key++
			}
			key--
		}
		if rd.err != nil {
			return rd.err
		}
	}
	bs := h.Buckets
	if len(bs) != int(n) || int64(bs[0].Key) != first || int64(bs[len(bs)-1].Key) != first+int64(span) {
		return corrupt("keys do not match their span")
	}
	cl := rd.uvarint("counts length")
	if rd.err != nil || cl > uint64(len(rd.b)) {
		return corrupt("truncated counts")
	}
	br := bitReader{b: rd.b[:cl]}
	rd.b = rd.b[cl:]
	var buf [256]uint64
	xs := buf[:0]
	if n > uint64(len(buf)) {
		xs = make([]uint64, 0, n)
	}
	xs = xs[:n]
	if !riceDecode(&br, xs, uint(flags>>hfK0Shift)) {
		return corrupt("bucket counts")
	}
	prev := uint64(1)
	for i, x := range xs {
		c := x + 1
		if flags&hfDelta != 0 {
			d := unzigzag(x)
			c = prev + uint64(d)
			if (d < 0 && uint64(-d) >= prev) || (d > 0 && c < prev) {
				return corrupt("bucket count out of range")
			}
		} else if c == 0 {
			return corrupt("bucket count overflow")
		}
		bs[i].Count = c
		prev = c
	}
	if flags&hfLoBound != 0 {
		r.lo, _ = metric.BucketBounds(h.Schema, bs[0].Key)
	}
	if flags&hfHiBound != 0 {
		_, r.hi = metric.BucketBounds(h.Schema, bs[len(bs)-1].Key)
	}
	return nil
}

// decodeRecord fills r from rec, reusing r's bucket array. ticks and ms are
// the frame's defaults.
func decodeRecord(rec []byte, ticks, ms uint64, r *rollup) error {
	rd := reader{b: rec}
	hdr := rd.byte("record header")
	kind := metric.Kind(hdr & hdrKindMask)
	if hdr&hdrUnknown != 0 || kind == 0 {
		return corrupt("record header %#x", hdr)
	}
	r.reset(kind)
	r.ticks, r.ms = ticks, ms
	if hdr&hdrTicks != 0 {
		r.ticks = rd.uvarint("ticks")
	}
	if hdr&hdrMs != 0 {
		r.ms = rd.uvarint("ms")
	}
	r.n = r.ticks
	if hdr&hdrN != 0 {
		r.n = rd.uvarint("n")
	}
	switch kind {
	case metric.KindCounter:
		if hdr&hdrRel != 0 {
			return corrupt("record header %#x", hdr)
		}
		r.n = 0
		rd.floats([]*float64{&r.a, &r.lo, &r.hi})
	case metric.KindGauge:
		if hdr&hdrRel == 0 {
			rd.floats([]*float64{&r.a, &r.lo, &r.hi, &r.last})
			break
		}
		rd.floats([]*float64{&r.a})
		if r.n == 0 || !isInt(r.a) {
			return corrupt("relative gauge record")
		}
		m := int64(r.a) / int64(r.n)
		for _, p := range []*float64{&r.lo, &r.hi, &r.last} {
			d := rd.varint("gauge difference")
			v := m + d
			if d > 1<<54 || d < -(1<<54) || !isInt(float64(v)) {
				return corrupt("gauge difference %d", d)
			}
			*p = float64(v)
		}
	case metric.KindHistogram:
		if hdr&hdrRel != 0 {
			return corrupt("record header %#x", hdr)
		}
		r.n = 0
		if err := decodeHistogram(&rd, r); err != nil {
			return err
		}
	}
	if rd.err != nil {
		return rd.err
	}
	if len(rd.b) != 0 {
		return corrupt("%d bytes after a record", len(rd.b))
	}
	return nil
}

// frameWriter assembles a frame from records given in any order.
type frameWriter struct {
	ents []frameEnt
	recs []byte
}

type frameEnt struct {
	num        uint32
	start, end int
}

func (w *frameWriter) reset() {
	w.ents = w.ents[:0]
	w.recs = w.recs[:0]
}

// add appends a record for series num.
func (w *frameWriter) add(num uint32, rec []byte) {
	s := len(w.recs)
	w.recs = append(w.recs, rec...)
	w.ents = append(w.ents, frameEnt{num, s, len(w.recs)})
}

// addRollup encodes r for series num.
func (w *frameWriter) addRollup(num uint32, r *rollup, ticks, ms uint64) {
	s := len(w.recs)
	w.recs = appendRecord(w.recs, r, ticks, ms)
	w.ents = append(w.ents, frameEnt{num, s, len(w.recs)})
}

// appendTo appends the frame, with records sorted by series number.
func (w *frameWriter) appendTo(b []byte, ticks, ms uint64) []byte {
	slices.SortFunc(w.ents, func(a, b frameEnt) int { return int(a.num) - int(b.num) })
	start := len(b)
	b = append(b, frameVersion)
	b = binary.AppendUvarint(b, ticks)
	b = binary.AppendUvarint(b, ms)
	b = binary.AppendUvarint(b, uint64(len(w.ents)))
	prev := uint32(0)
	for _, e := range w.ents {
		// Series numbers are dense, so most entries are one byte: the
		// length of a scalar record with the "next number" bit clear.
		l := uint64(e.end-e.start) << 1
		if e.num != prev+1 {
			b = binary.AppendUvarint(b, l|1)
			b = binary.AppendUvarint(b, uint64(e.num-prev))
		} else {
			b = binary.AppendUvarint(b, l)
		}
		prev = e.num
	}
	for _, e := range w.ents {
		b = append(b, w.recs[e.start:e.end]...)
	}
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b[start:], crcTable))
}

// frame is a parsed frame header. Records are found by scanning the index,
// which is cheaper than materialising it: a query reads one record of a
// frame.
type frame struct {
	ticks, ms uint64
	n         uint64
	index     []byte // n entries, see indexEntry
	recs      []byte
}

// parseFrame checks b's version and checksum and splits it.
func parseFrame(b []byte, f *frame) error {
	if len(b) < 5 {
		return corrupt("frame of %d bytes", len(b))
	}
	body, sum := b[:len(b)-4], binary.LittleEndian.Uint32(b[len(b)-4:])
	if crc32.Checksum(body, crcTable) != sum {
		return corrupt("checksum mismatch")
	}
	rd := reader{b: body}
	if v := rd.byte("version"); v != frameVersion {
		return corrupt("frame version %d", v)
	}
	f.ticks = rd.uvarint("ticks")
	f.ms = rd.uvarint("ms")
	f.n = rd.uvarint("record count")
	if rd.err != nil {
		return rd.err
	}
	if f.n > uint64(len(rd.b)) {
		return corrupt("%d records in %d bytes", f.n, len(rd.b))
	}
	idx := rd.b
	total := uint64(0)
	prev := uint64(0)
	for i := uint64(0); i < f.n; i++ {
		d, l, rest, ok := indexEntry(rd.b)
		if !ok {
			return corrupt("truncated index")
		}
		rd.b = rest
		if d == 0 || prev+d > math.MaxUint32 {
			return corrupt("series numbers out of order")
		}
		prev += d
		total += l
		if total > uint64(len(rd.b)) {
			return corrupt("records overrun the frame")
		}
	}
	f.index = idx[:len(idx)-len(rd.b)]
	if total != uint64(len(rd.b)) {
		return corrupt("records take %d of %d bytes", total, len(rd.b))
	}
	f.recs = rd.b
	return nil
}

// indexEntry reads one index entry: the series number's difference from
// the previous entry's and the record's length.
func indexEntry(idx []byte) (d, l uint64, rest []byte, ok bool) {
	v, n := binary.Uvarint(idx)
	if n <= 0 {
		return 0, 0, nil, false
	}
	idx = idx[n:]
	d = 1
	if v&1 != 0 {
		if d, n = binary.Uvarint(idx); n <= 0 {
			return 0, 0, nil, false
		}
		idx = idx[n:]
	}
	return d, v >> 1, idx, true
}

// find returns the record of series num.
func (f *frame) find(num uint32) ([]byte, bool) {
	idx := f.index
	cur, off := uint64(0), uint64(0)
	for len(idx) > 0 {
		d, l, rest, _ := indexEntry(idx)
		idx = rest
		cur += d
		if cur == uint64(num) {
			return f.recs[off : off+l], true
		}
		if cur > uint64(num) {
			return nil, false
		}
		off += l
	}
	return nil, false
}

// each calls fn for every record in series order. parseFrame has
// validated the index.
func (f *frame) each(fn func(num uint32, rec []byte) error) error {
	idx := f.index
	cur, off := uint64(0), uint64(0)
	for len(idx) > 0 {
		d, l, rest, _ := indexEntry(idx)
		idx = rest
		cur += d
		if err := fn(uint32(cur), f.recs[off:off+l]); err != nil {
			return err
		}
		off += l
	}
	return nil
}
