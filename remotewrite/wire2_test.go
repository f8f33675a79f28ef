package remotewrite

import (
	"bytes"
	"math"
	"strconv"
	"testing"
	"time"

	"github.com/klauspost/compress/snappy"
	writev2 "github.com/prometheus/prometheus/prompb/io/prometheus/write/v2"

	"github.com/bizra/vitals"
	"github.com/bizra/vitals/metric"
)

// The hand-written 2.0 encoding is byte for byte what the Prometheus
// project's generated marshaller writes for the same Request: every
// request of a push is decoded with the generated code, marshalled again
// and compared. The registry covers the cases the encoder branches on:
// zero and negative values, NaN, an empty histogram, buckets with gaps
// and below 1 (negative keys), no unit, no labels, a start
// timestamp and none, several parts.
func TestWire2MatchesGenerated(t *testing.T) {
	m := vitals.New(nil)
	r := m.Registry()
	r.Counter(metric.Opts{Name: "zero_total", Help: "Never incremented."})
	c := r.CounterVec(metric.Opts{Name: "c_total", Help: "c.", Labels: []string{"a", "b"}})
	for i := range 300 {
		c.With(strconv.Itoa(i), strconv.Itoa(i%7)).Add(uint64(i) << (i % 50))
	}
	g := r.FloatGaugeVec(metric.Opts{Name: "g_ratio", Unit: "ratio", Help: "g.", Labels: []string{"k"}})
	g.With("neg").Set(-2.5)
	g.With("nan").Set(math.NaN())
	g.With("inf").Set(math.Inf(1))
	g.With("zero").Set(0)
	r.GaugeFunc(metric.Opts{Name: "f", Help: "A callback."}, func() float64 { return 42 })
	h := r.HistogramVec(metric.Opts{Name: "h_seconds", Unit: "seconds", Help: "h.", Labels: []string{"k"}})
	h.With("empty")
	for i := range 50 {
		hh := h.With(strconv.Itoa(i))
		for j := range 30 {
			hh.Observe(math.Pow(10, float64(j%9-6)) * float64(1+i)) // gaps, keys below and above 1
		}
		hh.Observe(0) // the zero bucket
	}
	cat := newCatalog(newLabelSet("job", "inst", map[string]string{"region": "eu"}), nil, time.Now().UnixMilli())
	enc := newEncoder(V2, 100, cat)
	fams := r.Families()
	for push := range 2 {
		ri, err := decodeRecord(enc.encode(fams, time.Now().UnixMilli()+int64(push)), nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(ri.parts) < 3 {
			t.Fatalf("%d parts, want several", len(ri.parts))
		}
		var series, samples, hists int
		for i, p := range ri.parts {
			raw, err := snappy.Decode(nil, p.body)
			if err != nil {
				t.Fatal(err)
			}
			var req writev2.Request
			if err := req.Unmarshal(raw); err != nil {
				t.Fatalf("part %d: %v", i, err)
			}
			again, err := req.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(raw, again) {
				t.Fatalf("push %d part %d: %d bytes encoded, the generated marshaller writes %d (or other bytes)", push, i, len(raw), len(again))
			}
			var ps, ph int
			for _, ts := range req.Timeseries {
				ps += len(ts.Samples)
				ph += len(ts.Histograms)
			}
			if ps != p.samples || ph != p.hists {
				t.Errorf("part %d: header says %d samples %d histograms, request has %d and %d", i, p.samples, p.hists, ps, ph)
			}
			series += len(req.Timeseries)
			samples += ps
			hists += ph
		}
		if hists < 51 || series != samples+hists {
			t.Errorf("%d series, %d samples, %d histograms; want at least 51 histograms and one sample or histogram per series", series, samples, hists)
		}
	}
}
