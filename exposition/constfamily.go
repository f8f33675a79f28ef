package exposition

import (
	"strconv"
	"strings"

	"google.golang.org/protobuf/encoding/protowire"
)

// constKind is the type of a constFamily: the metric.Kind values plus the
// summary, which only the runtime metrics use (go_gc_duration_seconds).
type constKind uint8

const (
	constCounter constKind = iota
	constGauge
	constSummary
	constHistogram
)

// constFamily is a family with one series whose value is read at scrape
// time: a Go runtime or process metric. The runtime source fills its value
// fields in place on every scrape; the encoders write it in each format
// without building client_model trees.
type constFamily struct {
	name, help, unit string
	kind             constKind

	// An optional single label (go_info's version): its pair and, for the
	// text formats, its rendering `name="value"`.
	labelName, labelValue, labelText string

	// skip leaves the family out of this scrape (its source failed).
	skip bool

	value float64 // counter, gauge

	// Summary and histogram.
	count uint64
	sum   float64
	// bounds are the histogram's inclusive upper bounds, without +Inf, or
	// the summary's quantiles; counts the cumulative count at each bound
	// (histogram) and qvalues the value at each quantile (summary).
	bounds  []float64
	counts  []uint64
	qvalues []float64
	// boundText and quantileText are bounds rendered as label values, for
	// the text format and OpenMetrics (bounds never change).
	boundText, boundTextOM []string
}

func (k constKind) String() string {
	switch k {
	case constCounter:
		return "counter"
	case constGauge:
		return "gauge"
	case constSummary:
		return "summary"
	}
	return "histogram"
}

// renderBounds fills boundText and boundTextOM from bounds.
func (c *constFamily) renderBounds() {
	c.boundText = make([]string, len(c.bounds))
	c.boundTextOM = make([]string, len(c.bounds))
	for i, b := range c.bounds {
		c.boundText[i] = string(appendFloat(nil, b))
		c.boundTextOM[i] = string(appendFloatOM(nil, b))
	}
}

// writeConstText writes c in the text format 0.0.4, as expfmt writes the
// same family.
func (e *textEncoder) writeConstText(c *constFamily) {
	b := append(e.buf, "# HELP "...)
	b = append(b, c.name...)
	b = append(b, ' ')
	b = appendHelp(b, c.help)
	b = append(b, "\n# TYPE "...)
	b = append(b, c.name...)
	b = append(b, ' ')
	b = append(b, c.kind.String()...)
	b = append(b, '\n')
	e.buf = appendConstSamples(b, c, false)
}

// writeConstOM writes c in OpenMetrics 1.0, as expfmt writes the same
// family. asUnknown writes a counter as unknown under its full name (see
// openmetrics.go).
func (e *textEncoder) writeConstOM(c *constFamily, asUnknown bool) {
	typ := c.kind.String()
	unit := c.unit
	omName := c.name
	if c.kind == constCounter {
		switch {
		case asUnknown:
			typ, unit = "unknown", ""
		case !strings.HasSuffix(c.name, "_total"):
			typ = "unknown"
		default:
			omName = strings.TrimSuffix(c.name, "_total")
		}
	}
	b := appendHeaderOM(e.buf, omName, c.help, typ, unit)
	e.buf = appendConstSamples(b, c, true)
}

// appendConstSamples appends c's sample lines in the text format or, with
// om, in OpenMetrics (which differ only in how floats are written).
func appendConstSamples(b []byte, c *constFamily, om bool) []byte {
	float := appendFloat
	bounds := c.boundText
	if om {
		float, bounds = appendFloatOM, c.boundTextOM
	}
	switch c.kind {
	case constCounter, constGauge:
		b = appendSeriesName(b, c.name, "", c.labelText)
		b = append(b, ' ')
		return append(float(b, c.value), '\n')
	case constSummary:
		for i, q := range bounds {
			b = append(b, c.name...)
			b = append(b, `{quantile="`...)
			b = append(b, q...)
			b = append(b, `"} `...)
			b = append(float(b, c.qvalues[i]), '\n')
		}
	case constHistogram:
		for i, le := range bounds {
			b = append(b, c.name...)
			b = append(b, `_bucket{le="`...)
			b = append(b, le...)
			b = append(b, `"} `...)
			b = append(strconv.AppendUint(b, c.counts[i], 10), '\n')
		}
		b = append(b, c.name...)
		b = append(b, `_bucket{le="+Inf"} `...)
		b = append(strconv.AppendUint(b, c.count, 10), '\n')
	}
	b = append(b, c.name...)
	b = append(b, "_sum "...)
	b = append(float(b, c.sum), '\n')
	b = append(b, c.name...)
	b = append(b, "_count "...)
	b = strconv.AppendUint(b, c.count, 10)
	return append(b, '\n')
}

// writeConstProto writes c as a delimited io.prometheus.client.MetricFamily,
// with the fields client_golang's registry sets for the same family.
func (e *textEncoder) writeConstProto(c *constFamily) {
	b, fam := beginDelimited(e.buf)
	b = appendFamilyHeaderProto(b, c.name, c.help, constTypeProto[c.kind])
	b, m := beginMessage(b, 4) // metric
	if c.labelName != "" {
		b = appendLabelPair(b, c.labelName, c.labelValue)
	}
	switch c.kind {
	case constCounter, constGauge:
		num := protowire.Number(2) // gauge
		if c.kind == constCounter {
			num = 3
		}
		b = appendValueMessage(b, num, c.value)
	case constSummary:
		var s int
		b, s = beginMessage(b, 4)
		b = appendCountSumProto(b, c.count, c.sum)
		for i, q := range c.bounds {
			var qm int
			b, qm = beginMessage(b, 3)
			b = appendDouble(b, 1, q)
			b = appendDouble(b, 2, c.qvalues[i])
			b = endMessage(b, qm)
		}
		b = endMessage(b, s)
	case constHistogram:
		var h int
		b, h = beginMessage(b, 7)
		b = appendCountSumProto(b, c.count, c.sum)
		for i, ub := range c.bounds {
			b = appendBucketProto(b, c.counts[i], ub)
		}
		b = endMessage(b, h)
	}
	b = endMessage(b, m)
	if c.unit != "" {
		b = appendStringField(b, 5, c.unit)
	}
	e.buf = endDelimited(b, fam)
}

// dto.MetricType values.
const (
	protoCounter   = 0
	protoGauge     = 1
	protoSummary   = 2
	protoUntyped   = 3
	protoHistogram = 4
)

var constTypeProto = [...]uint64{constCounter: protoCounter, constGauge: protoGauge, constSummary: protoSummary, constHistogram: protoHistogram}
