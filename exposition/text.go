package exposition

import (
	"io"
	"math"
	"slices"
	"strconv"
	"sync"
	"unicode/utf8"

	"github.com/bizra/vitals/metric"
)

// WriteText writes the families of reg whose name filter accepts (all of
// them when filter is nil) to w in the Prometheus text format 0.0.4, in
// registration order. Families without series are left out, as promhttp
// does. It returns the first error from w; encoding itself cannot fail.
//
// Performance: the encoder appends into a pooled 32 KiB buffer with
// strconv.Append*, reads histograms into a reused HistogramValue and
// renders each distinct set of le bounds once, so a scrape costs a handful
// of allocations whatever the number of series (BenchmarkWriteText10k:
// 9,000 counters and 1,000 histograms). Counter and integer gauge values
// are written as exact integers; float values as strconv 'g' -1, with
// +Inf, -Inf and NaN spelled as Prometheus spells them.
//
// Label values are those the registry already rendered (Series.Text), so
// nothing is escaped per scrape. filter is called once per family; it must
// not block.
func WriteText(w io.Writer, reg *metric.Registry, filter func(name string) bool) error {
	e := getEncoder(w)
	e.writeRegistry(reg, filter)
	e.flush()
	err := e.err
	putEncoder(e)
	return err
}

const (
	// flushThreshold bounds the memory of a scrape: the buffer goes to the
	// writer whenever it holds this much. 32 KiB keeps the number of Write
	// calls (and gzip blocks) low without holding a whole large exposition.
	flushThreshold = 32 << 10
	// maxPooledBuffer keeps an encoder whose buffer grew for one huge line
	// (a megabyte label value) from pinning that memory in the pool. The
	// protobuf format holds a whole family in the buffer (its length comes
	// first), so the bound leaves room for a family of about 2,000
	// histograms.
	maxPooledBuffer = 1 << 20
)

// textEncoder is a buffered writer that formats metric families. It also
// serves as the buffer under the expfmt encoders (it implements the
// WriteString, WriteByte and WriteRune methods expfmt looks for, so expfmt
// does not wrap it in a bufio.Writer of its own).
//
// Write and friends only append; the encoder hands the buffer to w in
// maybeFlush and flush, between families or series, so that output that
// fails half-way through a family can still be dropped (see truncate).
type textEncoder struct {
	buf []byte
	w   io.Writer
	err error // first error from w; nothing is written after it

	hv metric.HistogramValue // scratch, reused across series and scrapes

	// The le="..." texts of the last bounds seen: histograms of one family
	// (and all histograms with default buckets) share their bounds, so the
	// floats are formatted once per family rather than once per series.
	leBounds []float64
	leText   []byte
	leEnd    []int
	leOM     bool // leText is in OpenMetrics' spelling

	order []int // label indices sorted by name (protobuf)

	// onPanic, when set, hears of a callback series whose callback
	// panicked; its value is written as NaN either way.
	onPanic func(f *metric.Family, s *metric.Series, r any)
}

var encoderPool = sync.Pool{New: func() any {
	return &textEncoder{buf: make([]byte, 0, flushThreshold+4096)}
}}

func getEncoder(w io.Writer) *textEncoder {
	e := encoderPool.Get().(*textEncoder)
	e.w = w
	e.err = nil
	return e
}

func putEncoder(e *textEncoder) {
	if cap(e.buf) > maxPooledBuffer {
		return
	}
	e.buf = e.buf[:0]
	e.w = nil
	e.err = nil
	e.onPanic = nil
	encoderPool.Put(e)
}

// Write appends p to the buffer. It never fails.
func (e *textEncoder) Write(p []byte) (int, error) {
	e.buf = append(e.buf, p...)
	return len(p), nil
}

// WriteString appends s to the buffer. It never fails.
func (e *textEncoder) WriteString(s string) (int, error) {
	e.buf = append(e.buf, s...)
	return len(s), nil
}

// WriteByte appends c to the buffer. It never fails.
func (e *textEncoder) WriteByte(c byte) error {
	e.buf = append(e.buf, c)
	return nil
}

// WriteRune appends r, UTF-8 encoded, to the buffer. It never fails.
func (e *textEncoder) WriteRune(r rune) (int, error) {
	n := len(e.buf)
	e.buf = utf8.AppendRune(e.buf, r)
	return len(e.buf) - n, nil
}

// flush hands the buffer to w.
func (e *textEncoder) flush() {
	if len(e.buf) > 0 && e.err == nil {
		_, e.err = e.w.Write(e.buf)
	}
	e.buf = e.buf[:0]
}

func (e *textEncoder) maybeFlush() {
	if len(e.buf) >= flushThreshold {
		e.flush()
	}
}

// truncate drops what was appended after mark; used when an encoder fails
// half-way through a family. It is only valid while no flush happened
// since mark was taken.
func (e *textEncoder) truncate(mark int) {
	if mark <= len(e.buf) {
		e.buf = e.buf[:mark]
	}
}

func (e *textEncoder) writeRegistry(reg *metric.Registry, filter func(string) bool) {
	for _, f := range reg.Families() {
		if e.err != nil {
			return
		}
		if filter != nil && !filter(f.Name) {
			continue
		}
		e.writeFamily(f)
	}
}

func (e *textEncoder) writeFamily(f *metric.Family) {
	series := f.Series()
	if len(series) == 0 {
		return
	}
	switch f.Kind {
	case metric.KindCounter, metric.KindGauge, metric.KindHistogram:
	default:
		return // a kind this package does not know: leave it out rather than mislabel it
	}
	e.writeHeader(f)
	if f.Kind == metric.KindHistogram {
		for _, s := range series {
			if s.Histogram != nil {
				e.writeHistogram(f.Name, s, false)
				e.maybeFlush()
				if e.err != nil {
					return
				}
			}
		}
		return
	}
	for _, s := range series {
		b := appendSeriesName(e.buf, f.Name, "", s.Text)
		b = append(b, ' ')
		switch {
		case s.Counter != nil:
			b = strconv.AppendUint(b, s.Counter.Value(), 10)
		case s.Gauge != nil:
			b = strconv.AppendInt(b, s.Gauge.Value(), 10)
		default:
			b = appendFloat(b, e.value(f, s))
		}
		e.buf = append(b, '\n')
		e.maybeFlush()
		if e.err != nil {
			return
		}
	}
}

func (e *textEncoder) writeHeader(f *metric.Family) {
	b := append(e.buf, "# HELP "...)
	b = append(b, f.Name...)
	b = append(b, ' ')
	b = appendHelp(b, f.Help)
	b = append(b, "\n# TYPE "...)
	b = append(b, f.Name...)
	b = append(b, ' ')
	b = append(b, f.Kind.String()...)
	e.buf = append(b, '\n')
}

// writeHistogram writes a histogram series in the text format or, with om,
// in OpenMetrics (floats with a '.' or an exponent).
func (e *textEncoder) writeHistogram(name string, s *metric.Series, om bool) {
	hv := &e.hv
	s.Histogram.Read(hv)
	e.prepareLe(hv.ClassicBounds, om)
	b := e.buf
	start := 0
	for i := range hv.ClassicBounds {
		b = appendBucketPrefix(b, name, s.Text)
		b = append(b, e.leText[start:e.leEnd[i]]...)
		start = e.leEnd[i]
		b = append(b, "} "...)
		var c uint64
		if i < len(hv.ClassicCounts) {
			c = hv.ClassicCounts[i]
		}
		b = strconv.AppendUint(b, c, 10)
		b = append(b, '\n')
	}
	b = appendBucketPrefix(b, name, s.Text)
	b = append(b, `le="+Inf"} `...)
	b = strconv.AppendUint(b, hv.Count, 10)
	b = append(b, '\n')

	b = appendSeriesName(b, name, "_sum", s.Text)
	b = append(b, ' ')
	if om {
		b = appendFloatOM(b, hv.Sum)
	} else {
		b = appendFloat(b, hv.Sum)
	}
	b = append(b, '\n')

	b = appendSeriesName(b, name, "_count", s.Text)
	b = append(b, ' ')
	b = strconv.AppendUint(b, hv.Count, 10)
	e.buf = append(b, '\n')
}

// prepareLe renders le="bound" for each bound unless the previous
// histogram had the same bounds (in the same format).
func (e *textEncoder) prepareLe(bounds []float64, om bool) {
	if e.leOM == om && len(e.leEnd) == len(bounds) && slices.Equal(e.leBounds, bounds) {
		return
	}
	e.leOM = om
	e.leBounds = append(e.leBounds[:0], bounds...)
	e.leText = e.leText[:0]
	e.leEnd = e.leEnd[:0]
	for _, v := range bounds {
		e.leText = append(e.leText, `le="`...)
		if om {
			e.leText = appendFloatOM(e.leText, v)
		} else {
			e.leText = appendFloat(e.leText, v)
		}
		e.leText = append(e.leText, '"')
		e.leEnd = append(e.leEnd, len(e.leText))
	}
}

// appendBucketPrefix appends `name_bucket{labels,` or `name_bucket{`.
func appendBucketPrefix(b []byte, name, labels string) []byte {
	b = append(b, name...)
	b = append(b, "_bucket{"...)
	if labels != "" {
		b = append(b, labels...)
		b = append(b, ',')
	}
	return b
}

// appendSeriesName appends name+suffix and the braced labels, if any.
func appendSeriesName(b []byte, name, suffix, labels string) []byte {
	b = append(b, name...)
	b = append(b, suffix...)
	if labels != "" {
		b = append(b, '{')
		b = append(b, labels...)
		b = append(b, '}')
	}
	return b
}

// appendHelp escapes a HELP text as the text format requires: backslash
// and newline (double quotes stay as they are).
func appendHelp(b []byte, help string) []byte {
	for i := 0; i < len(help); i++ {
		switch c := help[i]; c {
		case '\\':
			b = append(b, '\\', '\\')
		case '\n':
			b = append(b, '\\', 'n')
		default:
			b = append(b, c)
		}
	}
	return b
}

// appendFloat formats f as the Prometheus clients do (expfmt's writeFloat):
// strconv 'g' with the shortest exact precision, 0 for both zeros, and
// +Inf, -Inf and NaN for the special values.
func appendFloat(b []byte, f float64) []byte {
	switch {
	case f == 0:
		return append(b, '0')
	case math.IsNaN(f):
		return append(b, "NaN"...)
	case math.IsInf(f, 1):
		return append(b, "+Inf"...)
	case math.IsInf(f, -1):
		return append(b, "-Inf"...)
	}
	return strconv.AppendFloat(b, f, 'g', -1, 64)
}

// value returns a counter or gauge series' value. A callback that panics
// is contained: the series reads NaN, the rest of the scrape goes on, and
// onPanic (the Handler's count and log) hears of it.
func (e *textEncoder) value(f *metric.Family, s *metric.Series) float64 {
	if !s.IsFunc() {
		return s.Value()
	}
	return e.callback(f, s)
}

func (e *textEncoder) callback(f *metric.Family, s *metric.Series) (v float64) {
	defer func() {
		if r := recover(); r != nil {
			v = math.NaN()
			if e.onPanic != nil {
				e.onPanic(f, s, r)
			}
		}
	}()
	return s.Value()
}
