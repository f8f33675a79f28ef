package exposition

import (
	"math"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/bizra/vitals/metric"
)

// The delimited protobuf format is written here directly in the wire
// format of io.prometheus.client.MetricFamily (client_model's
// metrics.proto), with the same fields, in the same order, that
// proto.Marshal writes for the client_model tree familyToDTO builds:
// TestProtobufMatchesDTO compares the two byte for byte. Building that
// tree costs several allocations per series; this costs none.
//
// A message's length precedes it but is known only at its end: each
// message reserves one byte for its length and, in the rare case the
// message is 128 bytes or longer, moves its body to make room for a longer
// varint. A family is therefore held in the buffer until it is complete.

// beginMessage appends the tag of a length-delimited field and a one-byte
// length placeholder; it returns the offset where the body starts.
func beginMessage(b []byte, num protowire.Number) ([]byte, int) {
	b = appendTag(b, num, protowire.BytesType)
	return beginDelimited(b)
}

// beginDelimited appends a one-byte length placeholder (the delimiter of a
// top-level message) and returns the offset where the body starts.
func beginDelimited(b []byte) ([]byte, int) {
	b = append(b, 0)
	return b, len(b)
}

// endMessage writes the length of the body started at start, moving the
// body if the length needs more than the byte reserved.
func endMessage(b []byte, start int) []byte { return endDelimited(b, start) }

func endDelimited(b []byte, start int) []byte {
	n := len(b) - start
	if n < 0x80 {
		b[start-1] = byte(n)
		return b
	}
	k := protowire.SizeVarint(uint64(n))
	for range k - 1 {
		b = append(b, 0)
	}
	copy(b[start+k-1:], b[start:start+n])
	protowire.AppendVarint(b[:start-1], uint64(n))
	return b
}

// appendTag appends the tag of field num (below 16, as every field written
// here is) in its one byte.
func appendTag(b []byte, num protowire.Number, typ protowire.Type) []byte {
	return append(b, byte(num)<<3|byte(typ))
}

// appendVarint is protowire.AppendVarint with the one-byte case inlined:
// most counts, lengths and deltas are below 128.
func appendVarint(b []byte, v uint64) []byte {
	if v < 0x80 {
		return append(b, byte(v))
	}
	return protowire.AppendVarint(b, v)
}

func appendDouble(b []byte, num protowire.Number, v float64) []byte {
	b = appendTag(b, num, protowire.Fixed64Type)
	return protowire.AppendFixed64(b, math.Float64bits(v))
}

func appendUvarint(b []byte, num protowire.Number, v uint64) []byte {
	b = appendTag(b, num, protowire.VarintType)
	return appendVarint(b, v)
}

// appendStringField appends a string (or bytes) field.
func appendStringField(b []byte, num protowire.Number, s string) []byte {
	b = appendTag(b, num, protowire.BytesType)
	b = appendVarint(b, uint64(len(s)))
	return append(b, s...)
}

// appendLabelPair appends a LabelPair (field 1 of Metric), whose length is
// known up front.
func appendLabelPair(b []byte, name, value string) []byte {
	n := 2 + protowire.SizeVarint(uint64(len(name))) + len(name) + protowire.SizeVarint(uint64(len(value))) + len(value)
	b = appendTag(b, 1, protowire.BytesType)
	b = appendVarint(b, uint64(n))
	b = appendStringField(b, 1, name)
	return appendStringField(b, 2, value)
}

// appendFamilyHeaderProto appends MetricFamily's name, help and type.
func appendFamilyHeaderProto(b []byte, name, help string, typ uint64) []byte {
	b = appendStringField(b, 1, name)
	b = appendStringField(b, 2, help)
	return appendUvarint(b, 3, typ)
}

// appendValueMessage appends a Gauge, Counter or Untyped message (all have
// value as field 1) as field num of Metric.
func appendValueMessage(b []byte, num protowire.Number, v float64) []byte {
	b = appendTag(b, num, protowire.BytesType)
	b = append(b, 9) // tag (1 byte) + fixed64 (8 bytes)
	return appendDouble(b, 1, v)
}

// appendCountSumProto appends a Histogram's or Summary's sample_count (1)
// and sample_sum (2).
func appendCountSumProto(b []byte, count uint64, sum float64) []byte {
	b = appendUvarint(b, 1, count)
	return appendDouble(b, 2, sum)
}

// appendBucketProto appends a classic Bucket (field 3 of Histogram).
func appendBucketProto(b []byte, cumulative uint64, upper float64) []byte {
	b = appendTag(b, 3, protowire.BytesType)
	b = append(b, byte(10+protowire.SizeVarint(cumulative))) // at most 20 bytes
	b = appendUvarint(b, 1, cumulative)
	return appendDouble(b, 2, upper)
}

// writeFamilyProto writes f as a delimited MetricFamily. It writes nothing
// for a family without series or of a kind this package does not know, as
// familyToDTO returns nil for them.
func (e *textEncoder) writeFamilyProto(f *metric.Family) {
	series := f.Series()
	if len(series) == 0 {
		return
	}
	var typ uint64
	switch f.Kind {
	case metric.KindCounter:
		typ = protoCounter
	case metric.KindGauge:
		typ = protoGauge
	case metric.KindHistogram:
		typ = protoHistogram
	default:
		return
	}
	e.sortLabels(f.Labels)
	b, fam := beginDelimited(e.buf)
	b = appendFamilyHeaderProto(b, f.Name, f.Help, typ)
	for _, s := range series {
		if f.Kind == metric.KindHistogram && s.Histogram == nil {
			continue
		}
		var m int
		b, m = beginMessage(b, 4)
		if len(e.order) > 0 && len(s.Values) == len(f.Labels) {
			for _, j := range e.order {
				b = appendLabelPair(b, f.Labels[j], s.Values[j])
			}
		}
		switch f.Kind {
		case metric.KindCounter:
			b = appendValueMessage(b, 3, e.value(f, s))
		case metric.KindGauge:
			b = appendValueMessage(b, 2, e.value(f, s))
		case metric.KindHistogram:
			s.Histogram.Read(&e.hv)
			b = appendHistogramProto(b, &e.hv)
		}
		b = endMessage(b, m)
	}
	if unitAllowed(f) {
		b = appendStringField(b, 5, f.Unit)
	}
	e.buf = endDelimited(b, fam)
}

// appendHistogramProto appends a Histogram message (field 7 of Metric)
// with its classic buckets and its native (sparse) buckets, the fields
// histogramToDTO sets with native on.
func appendHistogramProto(b []byte, hv *metric.HistogramValue) []byte {
	b, h := beginMessage(b, 7)
	b = appendCountSumProto(b, hv.Count, hv.Sum)
	for i, ub := range hv.ClassicBounds {
		var c uint64
		if i < len(hv.ClassicCounts) {
			c = hv.ClassicCounts[i]
		}
		b = appendBucketProto(b, c, ub)
	}
	b = appendUvarint(b, 5, protowire.EncodeZigZag(int64(hv.Schema)))
	b = appendDouble(b, 6, hv.ZeroThreshold)
	b = appendUvarint(b, 7, hv.ZeroCount)
	b = appendNativeSpans(b, hv.Buckets)
	return endMessage(b, h)
}

// appendNativeSpans writes the positive spans (field 12) and then the
// deltas (field 13) of sparse ascending buckets, as nativeSpans computes
// them: gaps of one or two empty buckets are filled with zero buckets
// rather than opening a new span.
func appendNativeSpans(b []byte, buckets []metric.Bucket) []byte {
	if len(buckets) == 0 {
		return b
	}
	// Spans first: each span's offset, then its length once the span ends.
	var (
		length uint32
		offset int32
		last   int32
	)
	writeSpan := func(b []byte) []byte {
		off := protowire.EncodeZigZag(int64(offset))
		b = appendTag(b, 12, protowire.BytesType)
		b = append(b, byte(2+protowire.SizeVarint(off)+protowire.SizeVarint(uint64(length)))) // at most 17 bytes
		b = appendUvarint(b, 1, off)
		return appendUvarint(b, 2, uint64(length))
	}
	for i, bk := range buckets {
		switch gap := int64(bk.Key) - int64(last) - 1; {
		case i == 0:
			offset = bk.Key
		case gap > 2:
			b = writeSpan(b)
			offset, length = int32(gap), 0
		default:
			length += uint32(gap)
		}
		length++
		last = bk.Key
	}
	b = writeSpan(b)
	// Then the deltas, with the zero buckets that fill small gaps.
	var prev int64
	for i, bk := range buckets {
		if gap := int64(bk.Key) - int64(last) - 1; i > 0 && gap <= 2 {
			for range gap {
				b = appendUvarint(b, 13, protowire.EncodeZigZag(-prev))
				prev = 0
			}
		}
		c := int64(bk.Count)
		b = appendUvarint(b, 13, protowire.EncodeZigZag(c-prev))
		prev = c
		last = bk.Key
	}
	return b
}

// sortLabels sets e.order to the indices of names sorted by name (dto
// label pairs are sorted by name), without allocating once e.order has
// grown.
func (e *textEncoder) sortLabels(names []string) {
	e.order = e.order[:0]
	for i := range names {
		e.order = append(e.order, i)
	}
	for i := 1; i < len(e.order); i++ {
		for j := i; j > 0 && names[e.order[j]] < names[e.order[j-1]]; j-- {
			e.order[j], e.order[j-1] = e.order[j-1], e.order[j]
		}
	}
}
