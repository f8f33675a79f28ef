package history

import (
	"encoding/binary"
	"errors"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"

	"github.com/bizra/vitals/metric"
)

func sameFloat(a, b float64) bool { return a == b || (math.IsNaN(a) && math.IsNaN(b)) }

func randRollup(rng *rand.Rand) rollup {
	var r rollup
	kind := metric.Kind(1 + rng.IntN(3))
	r.reset(kind)
	r.ticks = uint64(rng.IntN(70))
	r.ms = r.ticks * 1000
	if rng.IntN(4) == 0 {
		r.ms += uint64(rng.IntN(999))
	}
	pick := func() float64 {
		switch rng.IntN(6) {
		case 0:
			return 0
		case 1:
			return float64(rng.IntN(1 << 20))
		case 2:
			return float64(float32(rng.Float64() * 100))
		case 3:
			return math.NaN()
		case 4:
			return -float64(rng.Int64N(1 << 53))
		}
		return rng.NormFloat64() * 1e6
	}
	switch kind {
	case metric.KindCounter:
		r.a, r.lo, r.hi = pick(), pick(), pick() // a counter keeps no last value
	case metric.KindGauge:
		r.n = uint64(rng.IntN(int(r.ticks) + 1))
		r.a, r.lo, r.hi, r.last = pick(), pick(), pick(), pick()
	case metric.KindHistogram:
		r.lo, r.hi = pick(), pick()
		r.h.Schema = int32(rng.IntN(13) - 4)
		r.h.ZeroThreshold = metric.ZeroThreshold
		r.h.ZeroCount = uint64(rng.IntN(3))
		k := int32(rng.IntN(8000) - 4000)
		for range rng.IntN(300) {
			k += int32(1 + rng.IntN(3)*rng.IntN(2)*rng.IntN(40))
			r.h.Buckets = append(r.h.Buckets, metric.Bucket{Key: k, Count: uint64(1 + rng.IntN(100000))})
		}
		r.h.Count = r.h.ZeroCount
		for _, b := range r.h.Buckets {
			r.h.Count += b.Count
		}
		r.h.Sum = pick()
	}
	return r
}

func equalRollup(a, b *rollup) bool {
	return a.kind == b.kind && a.ticks == b.ticks && a.ms == b.ms && a.n == b.n && sameFloat(a.a, b.a) &&
		sameFloat(a.lo, b.lo) && sameFloat(a.hi, b.hi) && sameFloat(a.last, b.last) &&
		a.h.Count == b.h.Count && a.h.ZeroCount == b.h.ZeroCount && sameFloat(a.h.Sum, b.h.Sum) &&
		a.h.Schema == b.h.Schema && a.h.ZeroThreshold == b.h.ZeroThreshold &&
		(slices.Equal(a.h.Buckets, b.h.Buckets) || len(a.h.Buckets)+len(b.h.Buckets) == 0)
}

func TestFrameRoundTrip(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 1))
	for range 200 {
		var fw frameWriter
		want := map[uint32]rollup{}
		ticks, ms := uint64(rng.IntN(70)), uint64(rng.IntN(70000))
		for range rng.IntN(50) {
			num := uint32(1 + rng.IntN(5000))
			if _, dup := want[num]; dup {
				continue
			}
			r := randRollup(rng)
			if r.kind != metric.KindGauge {
				r.n = 0
			}
			want[num] = r
			fw.addRollup(num, &r, ticks, ms)
		}
		b := fw.appendTo(nil, ticks, ms)
		var f frame
		if err := parseFrame(b, &f); err != nil {
			t.Fatal(err)
		}
		if f.n != uint64(len(want)) || f.ticks != ticks || f.ms != ms {
			t.Fatalf("header %d %d %d", f.n, f.ticks, f.ms)
		}
		for num, w := range want {
			rec, ok := f.find(num)
			if !ok {
				t.Fatalf("series %d not found", num)
			}
			var got rollup
			if err := decodeRecord(rec, f.ticks, f.ms, &got); err != nil {
				t.Fatal(err)
			}
			if !equalRollup(&got, &w) {
				t.Fatalf("series %d:\n got %+v\nwant %+v", num, got, w)
			}
		}
		if _, ok := f.find(6000); ok {
			t.Fatal("found a series not written")
		}
		// Every single-bit flip is caught by the checksum.
		if len(b) > 0 {
			i := rng.IntN(len(b))
			b[i] ^= 1 << rng.IntN(8)
			if err := parseFrame(b, &f); !errors.Is(err, errCorrupt) {
				t.Fatalf("flipped byte %d: %v", i, err)
			}
		}
	}
}

func TestFloatEncodingSizes(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		v    float64
		size int
	}{{0, 0}, {1, 1}, {-1, 1}, {63, 1}, {64, 2}, {1e15, 8}, {0.5, 4}, {0.1, 8}, {math.NaN(), 8}, {math.Inf(1), 4}, {math.Copysign(0, -1), 4}} {
		b := appendFloats(nil, c.v)
		if len(b)-1 != c.size {
			t.Errorf("%v takes %d bytes, want %d", c.v, len(b)-1, c.size)
		}
		rd := reader{b: b}
		var got float64
		rd.floats([]*float64{&got})
		if rd.err != nil || !sameFloat(got, c.v) || math.Signbit(got) != math.Signbit(c.v) {
			t.Errorf("%v decoded as %v (%v)", c.v, got, rd.err)
		}
	}
}

// FuzzDecodeFrame feeds arbitrary bytes to the decoders of stored data:
// they must return an error or a value, never panic or allocate without
// bound, and what decodes must encode back to a frame that decodes the
// same.
func FuzzDecodeFrame(f *testing.F) {
	rng := rand.New(rand.NewPCG(2, 2))
	for range 8 {
		var fw frameWriter
		for i := range 3 {
			r := randRollup(rng)
			fw.addRollup(uint32(i+1), &r, 60, 60000)
		}
		f.Add(fw.appendTo(nil, 60, 60000))
	}
	f.Add([]byte{})
	f.Add([]byte{1, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		var fr frame
		if err := parseFrame(b, &fr); err != nil {
			if !errors.Is(err, errCorrupt) {
				t.Fatalf("error not wrapping errCorrupt: %v", err)
			}
			// Also try the records without the checksum, which a
			// fuzzer cannot forge.
			for i := 0; i+1 < len(b) && i < 64; i++ {
				var r rollup
				_ = decodeRecord(b[i:], 60, 60000, &r)
			}
			_, _ = decodeDef(b)
			return
		}
		var fw frameWriter
		_ = fr.each(func(num uint32, rec []byte) error {
			var r rollup
			if err := decodeRecord(rec, fr.ticks, fr.ms, &r); err == nil {
				fw.addRollup(num, &r, fr.ticks, fr.ms)
			}
			return nil
		})
		var again frame
		if err := parseFrame(fw.appendTo(nil, fr.ticks, fr.ms), &again); err != nil {
			t.Fatalf("re-encoded frame does not decode: %v", err)
		}
	})
}

func TestRiceRoundTrip(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(5, 5))
	for range 300 {
		xs := make([]uint64, rng.IntN(400))
		scale := rng.IntN(64)
		for i := range xs {
			switch rng.IntN(20) {
			case 0:
				xs[i] = math.MaxUint64 >> rng.IntN(64)
			case 1:
				xs[i] = 0
			default:
				xs[i] = rng.Uint64() >> (63 - scale)
			}
		}
		k0 := riceK0(xs)
		var w bitWriter
		riceEncode(&w, xs, k0)
		b := w.finish()
		if got := (riceBits(xs, k0) + 7) / 8; got != len(b) {
			t.Fatalf("riceBits says %d bytes, wrote %d", got, len(b))
		}
		out := make([]uint64, len(xs))
		r := bitReader{b: b}
		if !riceDecode(&r, out, k0) || !slices.Equal(out, xs) {
			t.Fatalf("round trip failed for %v", xs)
		}
		if len(xs) > 0 {
			r = bitReader{b: b[:len(b)/2]}
			if riceDecode(&r, out, k0) && len(b) > 8 {
				t.Fatalf("a truncated stream decoded")
			}
		}
	}
}

// TestDecodeBoundsClaimedLengths: a damaged record that claims thousands
// of buckets in a few bytes is refused before anything is allocated for
// it.
func TestDecodeBoundsClaimedLengths(t *testing.T) {
	rec := []byte{byte(metric.KindHistogram)}
	rec = binary.AppendUvarint(rec, 100) // count
	rec = binary.AppendUvarint(rec, 0)   // zero count
	rec = binary.AppendUvarint(rec, 0)   // flags: runs
	rec = append(rec, 0)                 // four zero floats
	rec = binary.AppendVarint(rec, 0)    // schema
	rec = binary.AppendUvarint(rec, maxSpanBuckets)
	rec = binary.AppendVarint(rec, 0)
	rec = binary.AppendUvarint(rec, maxSpanBuckets)
	rec = append(rec, 1, 1, 1, 1)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for i := 0; i < 100; i++ {
		var r rollup
		if err := decodeRecord(rec, 1, 1000, &r); err == nil {
			t.Fatal("decoded")
		}
	}
	runtime.ReadMemStats(&after)
	// Only the errors: allocating the claimed buckets would take 100 × 256 KiB.
	if b := after.TotalAlloc - before.TotalAlloc; b > 1<<20 {
		t.Fatalf("%d bytes allocated decoding 100 records that claim %d buckets", b, maxSpanBuckets)
	}
}
