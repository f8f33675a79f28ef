package exposition

import (
	"bytes"
	"math"
	"strconv"
	"strings"

	dto "github.com/prometheus/client_model/go"

	"github.com/bizra/vitals/metric"
)

// OpenMetrics 1.0 is written here as expfmt's MetricFamilyToOpenMetrics
// writes the client_model tree of the same family (TestOpenMetricsMatchesDTO
// compares the two), without building that tree: the family name loses
// the _total of a counter, floats always carry a '.' or an exponent, and
// HELP texts escape double quotes too.
//
// OpenMetrics names a counter family without its _total suffix, so a
// counter foo_total and a gauge foo would both be family foo: an invalid
// exposition that strict parsers reject. client_golang's own Go collector
// does this (go_memstats_alloc_bytes and go_memstats_alloc_bytes_total).
// Such counters are exposed in OpenMetrics as type unknown under their full
// name, which keeps every sample and its name; the other formats are not
// affected.

// appendHeaderOM appends the HELP, TYPE and (if unit is set) UNIT lines.
func appendHeaderOM(b []byte, name, help, typ, unit string) []byte {
	b = append(b, "# HELP "...)
	b = append(b, name...)
	b = append(b, ' ')
	b = appendLabelValue(b, help)
	b = append(b, "\n# TYPE "...)
	b = append(b, name...)
	b = append(b, ' ')
	b = append(b, typ...)
	b = append(b, '\n')
	if unit != "" {
		b = append(b, "# UNIT "...)
		b = append(b, name...)
		b = append(b, ' ')
		b = appendLabelValue(b, unit)
		b = append(b, '\n')
	}
	return b
}

// writeFamilyOM writes f in OpenMetrics. asUnknown writes a counter as
// unknown under its full name (see openMetricsClash).
func (e *textEncoder) writeFamilyOM(f *metric.Family, asUnknown bool) {
	series := f.Series()
	if len(series) == 0 {
		return
	}
	omName, typ, unit := f.Name, f.Kind.String(), ""
	if unitAllowed(f) {
		unit = f.Unit
	}
	switch f.Kind {
	case metric.KindCounter:
		switch {
		case asUnknown:
			typ, unit = "unknown", ""
		case !strings.HasSuffix(f.Name, "_total"):
			typ = "unknown" // as expfmt types a counter without _total
		default:
			omName = strings.TrimSuffix(f.Name, "_total")
		}
	case metric.KindGauge, metric.KindHistogram:
	default:
		return
	}
	e.buf = appendHeaderOM(e.buf, omName, f.Help, typ, unit)
	for _, s := range series {
		if f.Kind == metric.KindHistogram {
			if s.Histogram != nil {
				e.writeHistogram(f.Name, s, true)
			}
		} else {
			b := appendSeriesName(e.buf, f.Name, "", s.Text)
			b = append(b, ' ')
			e.buf = appendFloatOM(b, e.value(f, s))
			e.buf = append(e.buf, '\n')
		}
		e.maybeFlush()
		if e.err != nil {
			return
		}
	}
}

// appendFloatOM formats f as expfmt's OpenMetrics encoder does: like
// appendFloat, with ".0" added to a number that has neither a '.' nor an
// exponent.
func appendFloatOM(b []byte, f float64) []byte {
	switch {
	case f == 0:
		return append(b, "0.0"...)
	case math.IsNaN(f):
		return append(b, "NaN"...)
	case math.IsInf(f, 1):
		return append(b, "+Inf"...)
	case math.IsInf(f, -1):
		return append(b, "-Inf"...)
	}
	n := len(b)
	b = strconv.AppendFloat(b, f, 'g', -1, 64)
	if !bytes.ContainsAny(b[n:], "e.") {
		b = append(b, '.', '0')
	}
	return b
}

// appendLabelValue escapes a label value (or an OpenMetrics HELP text):
// backslash, newline and double quote.
func appendLabelValue(b []byte, v string) []byte {
	for i := 0; i < len(v); i++ {
		switch c := v[i]; c {
		case '\\':
			b = append(b, '\\', '\\')
		case '\n':
			b = append(b, '\\', 'n')
		case '"':
			b = append(b, '\\', '"')
		default:
			b = append(b, c)
		}
	}
	return b
}

// counterAsUnknown returns a copy of a counter family typed unknown
// (untyped in dto), which OpenMetrics names by its full name. Used for
// the families of extra gatherers.
func counterAsUnknown(mf *dto.MetricFamily) *dto.MetricFamily {
	out := &dto.MetricFamily{
		Name:   mf.Name,
		Help:   mf.Help,
		Type:   dto.MetricType_UNTYPED.Enum(),
		Metric: make([]*dto.Metric, len(mf.Metric)),
	}
	// A unit stays valid only if the name still ends in it, which the
	// _total suffix prevents: drop it.
	for i, m := range mf.Metric {
		out.Metric[i] = &dto.Metric{
			Label:       m.Label,
			Untyped:     &dto.Untyped{Value: new(m.GetCounter().GetValue())},
			TimestampMs: m.TimestampMs,
		}
	}
	return out
}
