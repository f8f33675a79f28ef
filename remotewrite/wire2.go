package remotewrite

import (
	"encoding/binary"
	"math"
	"math/bits"
	"slices"

	"github.com/bizra/vitals/metric"
)

// Remote-Write 2.0 wire encoding: io.prometheus.write.v2.Request, written
// field by field into buffers the encoder keeps, in the order and with the
// omissions of the generated (gogo) marshaller of the Prometheus project's
// types, so the bytes are the same (TestWire2MatchesGenerated). A nested
// message is preceded by its length, so each one's size is computed before
// it is written; nothing is encoded twice.

// Field tags (field number << 3 | wire type) of the messages used.
const (
	wireVarint  = 0
	wireFixed64 = 1
	wireBytes   = 2

	tagRequestSymbols    = 4<<3 | wireBytes
	tagRequestTimeseries = 5<<3 | wireBytes

	tagSeriesLabelsRefs = 1<<3 | wireBytes
	tagSeriesSamples    = 2<<3 | wireBytes
	tagSeriesHistograms = 3<<3 | wireBytes
	tagSeriesMetadata   = 5<<3 | wireBytes

	tagSampleValue = 1<<3 | wireFixed64
	tagSampleTS    = 2<<3 | wireVarint
	tagSampleStart = 3<<3 | wireVarint

	tagMetadataType = 1<<3 | wireVarint
	tagMetadataHelp = 3<<3 | wireVarint
	tagMetadataUnit = 4<<3 | wireVarint

	tagHistCountInt      = 1<<3 | wireVarint
	tagHistSum           = 3<<3 | wireFixed64
	tagHistSchema        = 4<<3 | wireVarint
	tagHistZeroThreshold = 5<<3 | wireFixed64
	tagHistZeroCountInt  = 6<<3 | wireVarint
	tagHistPosSpans      = 11<<3 | wireBytes
	tagHistPosDeltas     = 12<<3 | wireBytes
	tagHistTS            = 15<<3 | wireVarint
	tagHistStart         = 17<<3 | wireVarint // two bytes as a varint

	tagSpanOffset = 1<<3 | wireVarint
	tagSpanLength = 2<<3 | wireVarint
)

// Metadata.MetricType values.
const (
	metricTypeCounter   = 1
	metricTypeGauge     = 2
	metricTypeHistogram = 3
)

// span is a BucketSpan: a run of Length consecutive buckets, Offset
// buckets after the previous run (or at index Offset for the first).
type span struct {
	offset int32
	length uint32
}

func sizeVarint(v uint64) int { return (bits.Len64(v|1) + 6) / 7 }

func zigzag32(v int32) uint64 { return uint64(uint32(v<<1) ^ uint32(v>>31)) }

func zigzag64(v int64) uint64 { return uint64(v<<1) ^ uint64(v>>63) }

// sizeField is the size of a varint field, 0 when v is 0 (proto3 omits
// zero scalars).
func sizeField(tag, v uint64) int {
	if v == 0 {
		return 0
	}
	return sizeVarint(tag) + sizeVarint(v)
}

func appendField(b []byte, tag, v uint64) []byte {
	if v == 0 {
		return b
	}
	return binary.AppendUvarint(binary.AppendUvarint(b, tag), v)
}

func sizeDouble(v float64) int {
	if v == 0 {
		return 0
	}
	return 9
}

func appendDouble(b []byte, tag byte, v float64) []byte {
	if v == 0 {
		return b
	}
	return binary.LittleEndian.AppendUint64(append(b, tag), math.Float64bits(v))
}

// sizeLen is the size of a length-delimited field holding n bytes.
func sizeLen(n int) int { return 1 + sizeVarint(uint64(n)) + n }

func appendLen(b []byte, tag byte, n int) []byte {
	return binary.AppendUvarint(append(b, tag), uint64(n))
}

// appendSeries2 appends one TimeSeries field to e.body: the series' label
// refs and metadata, and either the sample v (hv nil) or the native
// histogram hv.
func (e *encoder) appendSeries2(en *entry, v float64, hv *metric.HistogramValue) {
	e.refs = e.refs[:0]
	refsSize := 0
	for _, l := range en.labels {
		n, val := e.syms.Symbolize(l.Name), e.syms.Symbolize(l.Value)
		e.refs = append(e.refs, n, val)
		refsSize += sizeVarint(uint64(n)) + sizeVarint(uint64(val))
	}
	var typ uint64
	switch en.fam.Kind {
	case metric.KindCounter:
		typ = metricTypeCounter
	case metric.KindGauge:
		typ = metricTypeGauge
	case metric.KindHistogram:
		typ = metricTypeHistogram
	}
	help := uint64(e.syms.Symbolize(en.fam.Help))
	unit := uint64(e.syms.Symbolize(en.fam.Unit))
	mdSize := sizeField(tagMetadataType, typ) + sizeField(tagMetadataHelp, help) + sizeField(tagMetadataUnit, unit)

	ts, start := uint64(e.ts), uint64(en.start)
	var valSize, spansSize, deltasSize int
	if hv == nil {
		valSize = sizeDouble(v) + sizeField(tagSampleTS, ts) + sizeField(tagSampleStart, start)
	} else {
		e.spans, e.deltas = appendSpans(e.spans[:0], e.deltas[:0], hv.Buckets)
		for _, s := range e.spans {
			spansSize += sizeLen(sizeSpan(s))
		}
		for _, d := range e.deltas {
			deltasSize += sizeVarint(zigzag64(d))
		}
		valSize = 1 + sizeVarint(hv.Count) + sizeDouble(hv.Sum) + sizeField(tagHistSchema, zigzag32(hv.Schema)) +
			sizeDouble(hv.ZeroThreshold) + 1 + sizeVarint(hv.ZeroCount) + spansSize +
			sizeField(tagHistTS, ts) + sizeField(tagHistStart, start)
		if deltasSize > 0 {
			valSize += sizeLen(deltasSize)
		}
	}
	size := sizeLen(valSize) + sizeLen(mdSize)
	if refsSize > 0 {
		size += sizeLen(refsSize)
	}

	b := appendLen(e.body, tagRequestTimeseries, size)
	if refsSize > 0 {
		b = appendLen(b, tagSeriesLabelsRefs, refsSize)
		for _, r := range e.refs {
			b = binary.AppendUvarint(b, uint64(r))
		}
	}
	if hv == nil {
		b = appendLen(b, tagSeriesSamples, valSize)
		b = appendDouble(b, tagSampleValue, v)
		b = appendField(b, tagSampleTS, ts)
		b = appendField(b, tagSampleStart, start)
	} else {
		b = appendLen(b, tagSeriesHistograms, valSize)
		// count and zero_count are oneof members: written even when 0.
		b = binary.AppendUvarint(append(b, tagHistCountInt), hv.Count)
		b = appendDouble(b, tagHistSum, hv.Sum)
		b = appendField(b, tagHistSchema, zigzag32(hv.Schema))
		b = appendDouble(b, tagHistZeroThreshold, hv.ZeroThreshold)
		b = binary.AppendUvarint(append(b, tagHistZeroCountInt), hv.ZeroCount)
		for _, s := range e.spans {
			b = appendLen(b, tagHistPosSpans, sizeSpan(s))
			b = appendField(b, tagSpanOffset, zigzag32(s.offset))
			b = appendField(b, tagSpanLength, uint64(s.length))
		}
		if deltasSize > 0 {
			b = appendLen(b, tagHistPosDeltas, deltasSize)
			for _, d := range e.deltas {
				b = binary.AppendUvarint(b, zigzag64(d))
			}
		}
		// reset_hint stays unspecified (0, omitted): a restarted
		// service's histogram did reset.
		b = appendField(b, tagHistTS, ts)
		b = appendField(b, tagHistStart, start)
	}
	b = appendLen(b, tagSeriesMetadata, mdSize)
	b = appendField(b, tagMetadataType, typ)
	b = appendField(b, tagMetadataHelp, help)
	b = appendField(b, tagMetadataUnit, unit)
	e.body = b
}

func sizeSpan(s span) int {
	return sizeField(tagSpanOffset, zigzag32(s.offset)) + sizeField(tagSpanLength, uint64(s.length))
}

// appendRequest2 appends the open part's Request to b: the symbol table,
// then the series.
func (e *encoder) appendRequest2(b []byte) []byte {
	n := len(e.body)
	for _, s := range e.syms.list {
		n += sizeLen(len(s))
	}
	b = slices.Grow(b, n)
	for _, s := range e.syms.list {
		b = append(appendLen(b, tagRequestSymbols, len(s)), s...)
	}
	return append(b, e.body...)
}

// appendSpans renders ascending buckets as Prometheus spans and deltas:
// a span's offset is the gap (in buckets) since the previous span, the
// first span's the index of its first bucket; deltas are each count minus
// the previous one.
func appendSpans(spans []span, deltas []int64, bs []metric.Bucket) ([]span, []int64) {
	var prevKey int32
	var prevCount int64
	for i, b := range bs {
		switch {
		case i == 0:
			spans = append(spans, span{offset: b.Key, length: 1})
		case b.Key == prevKey+1:
			spans[len(spans)-1].length++
		default:
			spans = append(spans, span{offset: b.Key - prevKey - 1, length: 1})
		}
		deltas = append(deltas, int64(b.Count)-prevCount)
		prevKey, prevCount = b.Key, int64(b.Count)
	}
	return spans, deltas
}
