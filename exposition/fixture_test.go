package exposition

import (
	"math"
	"slices"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"

	"github.com/bizra/vitals/metric"
)

// trickyValues are label values that must survive every format: quotes,
// backslashes, newlines, UTF-8 and the empty string.
var trickyValues = []string{`quo"te`, `back\slash`, "new\nline", "héllo ✓ 日本", "", `\n`, `"\"`}

// newFixture returns a registry with one of everything the formats must
// carry. Its names are lint-clean (promtool runs on it); newFixture adds
// no counter without _total.
func newFixture(tb testing.TB) *metric.Registry {
	tb.Helper()
	reg := metric.NewRegistry()

	reg.Counter(metric.Opts{Name: "test_requests_total", Help: "Requests.\nA second line with a \\ backslash and \"quotes\"."}).Add(42)
	ops := reg.CounterVec(metric.Opts{Name: "test_operations_total", Help: "Operations, by op and path.", Labels: []string{"path", "op"}})
	ops.With("/a", "get").Add(3)
	for i, v := range trickyValues {
		ops.With(v, trickyValues[len(trickyValues)-1-i]).Add(uint64(10 + i))
	}
	reg.CounterVec(metric.Opts{Name: "test_unused_total", Help: "Never touched: a family without series.", Labels: []string{"x"}})

	reg.Gauge(metric.Opts{Name: "test_queue_depth", Help: "Queue depth."}).Set(-7)
	temp := reg.FloatGaugeVec(metric.Opts{Name: "test_temperature_celsius", Help: "Temperature.", Unit: "celsius", Labels: []string{"room"}})
	temp.With("lab").Set(21.5)
	temp.With("tiny").Set(5e-324)
	temp.With("huge").Set(math.MaxFloat64)
	temp.With("negative").Set(-0.125)
	temp.With("nan").Set(math.NaN())
	temp.With("inf").Set(math.Inf(1))
	temp.With("neginf").Set(math.Inf(-1))
	temp.With("negzero").Set(math.Copysign(0, -1))

	reg.GaugeFunc(metric.Opts{Name: "test_uptime_seconds", Help: "Uptime.", Unit: "seconds"}, func() float64 { return 12.25 })
	reg.CounterFunc(metric.Opts{Name: "test_callbacks_total", Help: "Callbacks."}, func() float64 { return 7 })
	reg.GaugeFuncVec(metric.Opts{Name: "test_pool_connections", Help: "Connections, by state.", Labels: []string{"state"}}).
		Bind(func() float64 { return 3 }, "idle")

	lat := reg.HistogramVec(metric.Opts{Name: "test_latency_seconds", Help: "Latency with default buckets.", Unit: "seconds", Labels: []string{"route"}})
	for _, v := range []float64{0, 1e-6, 0.001, 0.0625, 0.0625, 0.5, 0.7, 3, 100, 1e30} {
		lat.With("/x").Observe(v)
	}
	lat.With(`we"ird\` + "\n").Observe(0.25)
	lat.With("untouched") // pre-initialised, no observations

	size := reg.Histogram(metric.Opts{Name: "test_size_bytes", Help: "Sizes with custom buckets.", Unit: "bytes", Buckets: []float64{100, 1000, 10000}})
	for _, v := range []float64{50, 100, 150, 5000, 20000, 1e9} {
		size.Observe(v)
	}
	pow := reg.Histogram(metric.Opts{Name: "test_wait_seconds", Help: "Waits with power-of-two buckets.", Unit: "seconds", Buckets: metric.PowersOfTwo(-2, 2)})
	for _, v := range []float64{0.3, 1, 1.5, 7, 0.25} {
		pow.Observe(v)
	}
	reg.Histogram(metric.Opts{Name: "test_only_inf_seconds", Help: "Only the +Inf bucket.", Buckets: []float64{}}).Observe(2)
	return reg
}

// labelKey is a series' identity: label pairs sorted by name.
func labelKey(pairs []*dto.LabelPair) string {
	kv := make([]string, 0, len(pairs))
	for _, p := range pairs {
		kv = append(kv, p.GetName()+"\x00"+p.GetValue())
	}
	slices.Sort(kv)
	return strings.Join(kv, "\x01")
}

func seriesKey(f *metric.Family, s *metric.Series) string {
	kv := make([]string, 0, len(f.Labels))
	for i, n := range f.Labels {
		kv = append(kv, n+"\x00"+s.Values[i])
	}
	slices.Sort(kv)
	return strings.Join(kv, "\x01")
}

func sameFloat(a, b float64) bool {
	return a == b || (math.IsNaN(a) && math.IsNaN(b))
}

// checkDecoded compares decoded families with the registry they were
// encoded from. nameOf maps a vitals family to the name the decoder gives
// it; native says whether native-histogram fields must be there.
func checkDecoded(t *testing.T, reg *metric.Registry, got map[string]*dto.MetricFamily, nameOf func(*metric.Family) string, native bool) {
	t.Helper()
	seen := 0
	for _, f := range reg.Families() {
		if f.Name == ScrapeDurationName {
			continue // the scrape that produced got observed into it afterwards
		}
		name := nameOf(f)
		mf := got[name]
		if len(f.Series()) == 0 {
			if mf != nil {
				t.Errorf("%s: family without series was exposed", f.Name)
			}
			continue
		}
		if mf == nil {
			t.Errorf("%s: missing from the decoded output (as %q)", f.Name, name)
			continue
		}
		seen++
		if mf.GetHelp() != f.Help {
			t.Errorf("%s: help %q, want %q", f.Name, mf.GetHelp(), f.Help)
		}
		byKey := make(map[string]*dto.Metric, len(mf.Metric))
		for _, m := range mf.Metric {
			k := labelKey(m.Label)
			if byKey[k] != nil {
				t.Errorf("%s: series %q decoded twice", f.Name, k)
			}
			byKey[k] = m
		}
		if len(byKey) != len(f.Series()) {
			t.Errorf("%s: %d series decoded, want %d", f.Name, len(byKey), len(f.Series()))
		}
		var hv metric.HistogramValue
		for _, s := range f.Series() {
			k := seriesKey(f, s)
			m := byKey[k]
			if m == nil {
				t.Errorf("%s: series %q missing", f.Name, s.Text)
				continue
			}
			switch f.Kind {
			case metric.KindCounter:
				if mf.GetType() != dto.MetricType_COUNTER && mf.GetType() != dto.MetricType_UNTYPED {
					t.Errorf("%s: type %v, want counter", f.Name, mf.GetType())
				}
				var v float64
				switch {
				case m.Counter != nil:
					v = m.Counter.GetValue()
				case m.Untyped != nil:
					v = m.Untyped.GetValue()
				}
				if !sameFloat(v, s.Value()) {
					t.Errorf("%s{%s} = %g, want %g", f.Name, s.Text, v, s.Value())
				}
			case metric.KindGauge:
				if mf.GetType() != dto.MetricType_GAUGE {
					t.Errorf("%s: type %v, want gauge", f.Name, mf.GetType())
				}
				if v := m.GetGauge().GetValue(); !sameFloat(v, s.Value()) {
					t.Errorf("%s{%s} = %g, want %g", f.Name, s.Text, v, s.Value())
				}
			case metric.KindHistogram:
				if mf.GetType() != dto.MetricType_HISTOGRAM {
					t.Errorf("%s: type %v, want histogram", f.Name, mf.GetType())
				}
				s.Histogram.Read(&hv)
				checkHistogram(t, f.Name+"{"+s.Text+"}", m.GetHistogram(), &hv, native)
			}
		}
	}
	if seen == 0 {
		t.Fatal("no family compared")
	}
}

func checkHistogram(t *testing.T, what string, h *dto.Histogram, hv *metric.HistogramValue, native bool) {
	t.Helper()
	if h == nil {
		t.Errorf("%s: no histogram", what)
		return
	}
	if h.GetSampleCount() != hv.Count || !sameFloat(h.GetSampleSum(), hv.Sum) {
		t.Errorf("%s: count/sum %d/%g, want %d/%g", what, h.GetSampleCount(), h.GetSampleSum(), hv.Count, hv.Sum)
	}
	i := 0
	for _, b := range h.Bucket {
		if math.IsInf(b.GetUpperBound(), 1) {
			if b.GetCumulativeCount() != hv.Count {
				t.Errorf("%s: +Inf bucket %d, want count %d", what, b.GetCumulativeCount(), hv.Count)
			}
			continue
		}
		if i >= len(hv.ClassicBounds) {
			t.Errorf("%s: extra bucket le=%g", what, b.GetUpperBound())
			continue
		}
		if b.GetUpperBound() != hv.ClassicBounds[i] || b.GetCumulativeCount() != hv.ClassicCounts[i] {
			t.Errorf("%s: bucket %d is le=%g %d, want le=%g %d", what, i, b.GetUpperBound(), b.GetCumulativeCount(), hv.ClassicBounds[i], hv.ClassicCounts[i])
		}
		i++
	}
	if i != len(hv.ClassicBounds) {
		t.Errorf("%s: %d classic buckets, want %d", what, i, len(hv.ClassicBounds))
	}
	if !native {
		return
	}
	if h.GetSchema() != hv.Schema || h.GetZeroThreshold() != hv.ZeroThreshold || h.GetZeroCount() != hv.ZeroCount {
		t.Errorf("%s: schema/zero threshold/zero count %d/%g/%d, want %d/%g/%d", what,
			h.GetSchema(), h.GetZeroThreshold(), h.GetZeroCount(), hv.Schema, hv.ZeroThreshold, hv.ZeroCount)
	}
	if len(h.NegativeSpan) != 0 || len(h.NegativeDelta) != 0 {
		t.Errorf("%s: negative buckets present", what)
	}
	got := bucketsFromSpans(t, h.PositiveSpan, h.PositiveDelta)
	if !slices.Equal(got, hv.Buckets) {
		t.Errorf("%s: native buckets from spans %v, want %v", what, got, hv.Buckets)
	}
}

// bucketsFromSpans reconstructs sparse buckets from spans and deltas, the
// way Prometheus reads them, dropping the zero-count fillers.
func bucketsFromSpans(t *testing.T, spans []*dto.BucketSpan, deltas []int64) []metric.Bucket {
	t.Helper()
	var out []metric.Bucket
	var key int32
	var count int64
	d := 0
	for i, sp := range spans {
		if i == 0 {
			key = sp.GetOffset()
		} else {
			key += sp.GetOffset() + 1
		}
		for j := uint32(0); j < sp.GetLength(); j++ {
			if j > 0 {
				key++
			}
			if d >= len(deltas) {
				t.Fatalf("spans promise more buckets than the %d deltas", len(deltas))
			}
			count += deltas[d]
			d++
			if count < 0 {
				t.Fatalf("negative bucket count %d at key %d", count, key)
			}
			if count > 0 {
				out = append(out, metric.Bucket{Key: key, Count: uint64(count)})
			}
		}
	}
	if d != len(deltas) {
		t.Fatalf("%d deltas, spans cover %d", len(deltas), d)
	}
	return out
}
