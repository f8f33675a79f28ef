package window

import (
	"encoding/binary"
	"math"

	"github.com/bizra/vitals/metric"
)

// addHist adds the observations of d into acc: counts, sums and buckets.
// Min and Max are not touched: a window keeps its extremes per slot,
// because they cannot be subtracted.
func addHist(acc, d *metric.HistogramValue) {
	if acc.Count == 0 && len(acc.Buckets) == 0 {
		acc.Schema, acc.ZeroThreshold = d.Schema, d.ZeroThreshold
	}
	acc.Count += d.Count
	acc.ZeroCount += d.ZeroCount
	acc.Sum += d.Sum
	acc.Buckets = metric.AddBuckets(acc.Buckets, d.Buckets)
}

// resetHist empties h and keeps its bucket array for reuse.
func resetHist(h *metric.HistogramValue) {
	b := h.Buckets[:0]
	*h = metric.HistogramValue{Schema: h.Schema, ZeroThreshold: h.ZeroThreshold, Buckets: b}
}

// Encoded slots. A closed slot's observations are kept as bytes rather
// than []metric.Bucket (16 bytes a bucket): runs of neighbouring keys
// cost a few bytes a run, counts a uvarint each, so a bucket takes little
// more than its count (1–2 bytes). That is most of a histogram window's
// memory. The bytes never leave the process and are read only by
// subEncoded, so the format has no version and no validation.
//
//	uvarint count, uvarint zeroCount, 8 bytes sum, uvarint runs,
//	runs × (varint first key | uvarint gap after the previous run,
//	        uvarint length, length × uvarint count)
func appendEncoded(b []byte, h *metric.HistogramValue) []byte {
	b = binary.AppendUvarint(b, h.Count)
	b = binary.AppendUvarint(b, h.ZeroCount)
	b = binary.LittleEndian.AppendUint64(b, math.Float64bits(h.Sum))
	b = binary.AppendUvarint(b, uint64(runs(h.Buckets)))
	bs := h.Buckets
	for i := 0; i < len(bs); {
		j := runEnd(bs, i)
		if i == 0 {
			b = binary.AppendVarint(b, int64(bs[0].Key))
		} else {
			b = binary.AppendUvarint(b, uint64(bs[i].Key-bs[i-1].Key-1))
		}
		b = binary.AppendUvarint(b, uint64(j-i))
		for _, bk := range bs[i:j] {
			b = binary.AppendUvarint(b, bk.Count)
		}
		i = j
	}
	return b
}

// encodedSize is the length appendEncoded needs, so that a slot's buffer
// can be sized exactly.
func encodedSize(h *metric.HistogramValue) int {
	n := uvarintLen(h.Count) + uvarintLen(h.ZeroCount) + 8 + uvarintLen(uint64(runs(h.Buckets)))
	bs := h.Buckets
	for i := 0; i < len(bs); {
		j := runEnd(bs, i)
		if i == 0 {
			n += uvarintLen(uint64(bs[0].Key)<<1 ^ uint64(bs[0].Key>>31))
		} else {
			n += uvarintLen(uint64(bs[i].Key - bs[i-1].Key - 1))
		}
		n += uvarintLen(uint64(j - i))
		for _, bk := range bs[i:j] {
			n += uvarintLen(bk.Count)
		}
		i = j
	}
	return n
}

func uvarintLen(x uint64) int {
	n := 1
	for x >= 0x80 {
		x >>= 7
		n++
	}
	return n
}

func runs(bs []metric.Bucket) int {
	n := 0
	for i := range bs {
		if i == 0 || bs[i].Key != bs[i-1].Key+1 {
			n++
		}
	}
	return n
}

// runEnd returns the end of the run of consecutive keys starting at i.
func runEnd(bs []metric.Bucket, i int) int {
	j := i + 1
	for j < len(bs) && bs[j].Key == bs[j-1].Key+1 {
		j++
	}
	return j
}

// decodeEncoded sets h's counts, sum and buckets from enc, reusing h's
// bucket array.
func decodeEncoded(h *metric.HistogramValue, enc []byte) {
	uv := func() uint64 {
		v, n := binary.Uvarint(enc)
		enc = enc[n:]
		return v
	}
	h.Count = uv()
	h.ZeroCount = uv()
	h.Sum = math.Float64frombits(binary.LittleEndian.Uint64(enc))
	enc = enc[8:]
	nruns := uv()
	h.Buckets = h.Buckets[:0]
	key := int32(0)
	for r := uint64(0); r < nruns; r++ {
		if r == 0 {
			v, n := binary.Varint(enc)
			enc = enc[n:]
			key = int32(v)
		} else {
			key += int32(uv()) + 1
		}
		length := uv()
		for k := uint64(0); k < length; k++ {
			h.Buckets = append(h.Buckets, metric.Bucket{Key: key, Count: uv()})
			key++
		}
		key--
	}
}

// subEncoded removes the observations encoded in enc from total. Every
// key in enc is in total (total is the sum of the slots), so it seeks
// forward; it subtracts in place and compacts only if a bucket emptied.
func subEncoded(total *metric.HistogramValue, enc []byte) {
	if len(enc) == 0 {
		return
	}
	uv := func() uint64 {
		v, n := binary.Uvarint(enc)
		enc = enc[n:]
		return v
	}
	count := uv()
	zero := uv()
	sum := math.Float64frombits(binary.LittleEndian.Uint64(enc))
	enc = enc[8:]
	nruns := uv()
	total.Count -= min(total.Count, count)
	total.ZeroCount -= min(total.ZeroCount, zero)
	total.Sum -= sum
	emptied := false
	i := 0
	key := int32(0)
	for r := uint64(0); r < nruns; r++ {
		if r == 0 {
			v, n := binary.Varint(enc)
			enc = enc[n:]
			key = int32(v)
		} else {
			key += int32(uv()) + 1
		}
		length := uv()
		for k := uint64(0); k < length; k++ {
			c := uv()
			i = metric.SeekBucket(total.Buckets, i, key)
			if i < len(total.Buckets) && total.Buckets[i].Key == key {
				b := &total.Buckets[i]
				b.Count -= min(b.Count, c)
				emptied = emptied || b.Count == 0
			}
			key++
		}
		key-- // the run's last key, which the next gap counts from
	}
	if emptied {
		out := total.Buckets[:0]
		for _, b := range total.Buckets {
			if b.Count != 0 {
				out = append(out, b)
			}
		}
		total.Buckets = out
	}
	if total.Count == 0 {
		// Keep float drift from accumulating in an empty window.
		total.Sum = 0
		total.ZeroCount = 0
	}
}

// quantiles fills out[i] with the qs[i]-quantile (qs ascending, in (0,1))
// of the observations in a and b together, without merging them: one walk
// over both bucket lists. The definition is HistogramValue.Quantile's
// (nearest rank; the geometric middle of the bucket, clamped to [lo, hi];
// the zero bucket reads lo), so a window's quantiles keep the instruments'
// error bound.
func quantiles(a, b *metric.HistogramValue, qs []float64, lo, hi float64, out []float64) {
	count := a.Count + b.Count
	for i := range out {
		out[i] = math.NaN()
	}
	if count == 0 {
		return
	}
	schema := a.Schema
	if a.Count == 0 && len(a.Buckets) == 0 {
		schema = b.Schema
	}
	run := a.ZeroCount + b.ZeroCount
	qi := 0
	rank := func(q float64) uint64 { return max(1, uint64(math.Ceil(q*float64(count)))) }
	for qi < len(qs) && rank(qs[qi]) <= run {
		out[qi] = lo
		qi++
	}
	i, j := 0, 0
	for qi < len(qs) && (i < len(a.Buckets) || j < len(b.Buckets)) {
		var key int32
		var c uint64
		switch {
		case j >= len(b.Buckets) || (i < len(a.Buckets) && a.Buckets[i].Key < b.Buckets[j].Key):
			key, c = a.Buckets[i].Key, a.Buckets[i].Count
			i++
		case i >= len(a.Buckets) || b.Buckets[j].Key < a.Buckets[i].Key:
			key, c = b.Buckets[j].Key, b.Buckets[j].Count
			j++
		default:
			key, c = a.Buckets[i].Key, a.Buckets[i].Count+b.Buckets[j].Count
			i++
			j++
		}
		run += c
		for qi < len(qs) && rank(qs[qi]) <= run {
			out[qi] = clamp(metric.BucketMid(schema, key), lo, hi)
			qi++
		}
	}
	for ; qi < len(qs); qi++ { // counts and buckets disagree: report the top
		out[qi] = hi
	}
}

func clamp(x, lo, hi float64) float64 {
	if !math.IsNaN(hi) && x > hi {
		x = hi
	}
	if !math.IsNaN(lo) && x < lo {
		x = lo
	}
	return x
}

// nanMin and nanMax treat NaN as "no value yet".
func nanMin(a, b float64) float64 {
	if math.IsNaN(b) {
		return a
	}
	if math.IsNaN(a) || b < a {
		return b
	}
	return a
}

func nanMax(a, b float64) float64 {
	if math.IsNaN(b) {
		return a
	}
	if math.IsNaN(a) || b > a {
		return b
	}
	return a
}
