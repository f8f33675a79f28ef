package history

import (
	"encoding/binary"
	"math/bits"
)

// Adaptive Rice coding of histogram bucket counts.
//
// A bucket count is coded as q = x>>k in unary (q ones, a zero) and the
// low k bits of x, where k follows the magnitude of the recent values
// (the running-mean rule of LOCO-I/JPEG-LS). Neighbouring buckets of a
// latency histogram have similar counts, so k tracks them and a count
// costs about log2(count)+2 bits: 4–5 bits for the small counts of a
// minute, against 8 for a uvarint byte. Quotients of 24 or more escape to
// a 6-bit length and the value's bits, so no input inflates the stream by
// more than a few bits a value.

const (
	riceEscape = 24 // unary run that announces an escaped value
	riceWindow = 16 // values in the running mean before it halves
)

type bitWriter struct {
	b   []byte
	acc uint64 // pending bits, least significant first
	n   uint   // number of pending bits (< 8 after a flush)
}

func (w *bitWriter) write(v uint64, n uint) {
	if n > 32 {
		w.write(v, 32)
		w.write(v>>32, n-32)
		return
	}
	// Fewer than 32 bits are pending, so 64 hold them and n more; they
	// leave 32 at a time.
	w.acc |= (v & (1<<n - 1)) << w.n
	w.n += n
	if w.n >= 32 {
		w.b = binary.LittleEndian.AppendUint32(w.b, uint32(w.acc))
		w.acc >>= 32
		w.n -= 32
	}
}

func (w *bitWriter) ones(q uint) {
	for q >= 32 {
		w.write(1<<32-1, 32)
		q -= 32
	}
	w.write(1<<q-1, q)
}

func (w *bitWriter) finish() []byte {
	for w.n > 0 {
		w.b = append(w.b, byte(w.acc))
		w.acc >>= 8
		w.n -= min(w.n, 8)
	}
	return w.b
}

type bitReader struct {
	b   []byte
	acc uint64
	n   uint
	bad bool // read past the end
}

func (r *bitReader) fill() {
	for r.n <= 56 && len(r.b) > 0 {
		r.acc |= uint64(r.b[0]) << r.n
		r.b = r.b[1:]
		r.n += 8
	}
}

func (r *bitReader) read(n uint) uint64 {
	var v uint64
	var got uint
	for n > 0 {
		if r.n == 0 {
			r.fill()
			if r.n == 0 {
				r.bad = true
				return 0
			}
		}
		take := min(n, r.n)
		v |= (r.acc & (1<<take - 1)) << got
		r.acc >>= take
		r.n -= take
		got += take
		n -= take
	}
	return v
}

// unary reads ones up to a zero, at most max of them.
func (r *bitReader) unary(max uint) uint {
	q := uint(0)
	for q < max {
		if r.n == 0 {
			r.fill()
			if r.n == 0 {
				r.bad = true
				return q
			}
		}
		if r.acc&1 == 0 {
			r.acc >>= 1
			r.n--
			return q
		}
		r.acc >>= 1
		r.n--
		q++
	}
	return q
}

// riceState is the running mean that picks k.
type riceState struct{ a, n uint64 }

func newRice(k uint) riceState { return riceState{a: 1 << k, n: 1} }

// k is the smallest k with n<<k >= a.
func (s *riceState) k() uint {
	if s.a <= s.n {
		return 0
	}
	return uint(bits.Len64((s.a - 1) / s.n))
}

func (s *riceState) update(x uint64) {
	s.a += min(x, 1<<40)
	s.n++
	if s.n >= riceWindow {
		s.a >>= 1
		s.n >>= 1
	}
}

// riceEncode appends xs to w.
func riceEncode(w *bitWriter, xs []uint64, k0 uint) {
	st := newRice(k0)
	for _, x := range xs {
		k := st.k()
		if q := x >> k; q < riceEscape && q+1+uint64(k) <= 32 {
			// q ones, a zero, then the low k bits: one write.
			w.write((x&(1<<k-1))<<(q+1)|(1<<q-1), uint(q)+1+k)
		} else if q < riceEscape {
			w.ones(uint(q))
			w.write(0, 1)
			w.write(x, k)
		} else {
			w.ones(riceEscape)
			l := uint(bits.Len64(x))
			w.write(uint64(l), 7)
			w.write(x, l)
		}
		st.update(x)
	}
}

// riceBits returns the bits riceEncode would write, so that a caller can
// choose between codings without writing both.
func riceBits(xs []uint64, k0 uint) int {
	st := newRice(k0)
	n := 0
	for _, x := range xs {
		k := st.k()
		if q := x >> k; q < riceEscape {
			n += int(q) + 1 + int(k)
		} else {
			n += riceEscape + 7 + bits.Len64(x)
		}
		st.update(x)
	}
	return n
}

// riceDecode reads len(out) values; false when the stream is short or
// malformed.
func riceDecode(r *bitReader, out []uint64, k0 uint) bool {
	st := newRice(k0)
	for i := range out {
		k := st.k()
		q := r.unary(riceEscape)
		var x uint64
		if q < riceEscape {
			x = uint64(q)<<k | r.read(k)
		} else {
			l := uint(r.read(7))
			if l > 64 {
				return false
			}
			x = r.read(l)
		}
		if r.bad {
			return false
		}
		out[i] = x
		st.update(x)
	}
	return true
}

// riceK0 is a good starting k for xs: from the mean of the first few.
func riceK0(xs []uint64) uint {
	var sum uint64
	n := min(len(xs), 8)
	for _, x := range xs[:n] {
		sum += min(x, 1<<40)
	}
	if n == 0 {
		return 0
	}
	return uint(bits.Len64(sum / uint64(n)))
}

func zigzag(v int64) uint64   { return uint64(v<<1) ^ uint64(v>>63) }
func unzigzag(u uint64) int64 { return int64(u>>1) ^ -int64(u&1) }
