package exposition

import (
	"bytes"
	"math"
	"runtime"
	"slices"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"google.golang.org/protobuf/encoding/protodelim"
	"google.golang.org/protobuf/proto"

	"github.com/bizra/vitals/metric"
)

// nativeRuntimeFamilies scrapes the native runtime families of an empty
// registry in the protobuf format (the one that carries units), less the
// handler's self-metrics.
func nativeRuntimeFamilies(t *testing.T) map[string]*dto.MetricFamily {
	t.Helper()
	reg := metric.NewRegistry()
	rec := scrape(t, Handler(reg, nil), "GET", "/metrics", "Accept", ContentTypeProtobuf)
	got := decodeAll(t, rec.Body.Bytes(), expfmt.FmtProtoDelim)
	for _, f := range reg.Families() {
		delete(got, f.Name)
	}
	return got
}

// TestRuntimeMatchesClientGolang compares the native runtime and process
// families with those of client_golang's collectors (the opt-in bridge,
// configured as client_golang's defaults plus the same additions): the
// same names, types, units, HELP texts, label names, bucket bounds and
// quantiles, and the same values where they cannot move between the two
// readings.
func TestRuntimeMatchesClientGolang(t *testing.T) {
	want, err := newRuntimeBridge().Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := nativeRuntimeFamilies(t)
	for _, w := range want {
		name := w.GetName()
		g := got[name]
		if g == nil {
			// Outside Linux, vitals reads only the portable process
			// subset (process_unix.go, process_other.go).
			if runtime.GOOS != "linux" && strings.HasPrefix(name, "process_") {
				continue
			}
			t.Errorf("%s: missing in the native runtime metrics", name)
			continue
		}
		delete(got, name)
		if g.GetType() != w.GetType() || g.GetHelp() != w.GetHelp() || g.GetUnit() != w.GetUnit() {
			t.Errorf("%s: native %v %q unit %q, client_golang %v %q unit %q", name,
				g.GetType(), g.GetHelp(), g.GetUnit(), w.GetType(), w.GetHelp(), w.GetUnit())
		}
		if len(g.Metric) != 1 || len(w.Metric) != 1 {
			t.Errorf("%s: %d series native, %d client_golang", name, len(g.Metric), len(w.Metric))
			continue
		}
		gm, wm := g.Metric[0], w.Metric[0]
		if labelKey(gm.Label) != labelKey(wm.Label) {
			t.Errorf("%s: labels %s, client_golang %s", name, labelKey(gm.Label), labelKey(wm.Label))
		}
		switch {
		case wm.Histogram != nil:
			var gb, wb []float64
			for _, b := range gm.GetHistogram().GetBucket() {
				gb = append(gb, b.GetUpperBound())
			}
			for _, b := range wm.GetHistogram().GetBucket() {
				wb = append(wb, b.GetUpperBound())
			}
			if !slices.Equal(gb, wb) {
				t.Errorf("%s: bounds %v, client_golang %v", name, gb, wb)
			}
		case wm.Summary != nil:
			var gq, wq []float64
			for _, q := range gm.GetSummary().GetQuantile() {
				gq = append(gq, q.GetQuantile())
			}
			for _, q := range wm.GetSummary().GetQuantile() {
				wq = append(wq, q.GetQuantile())
			}
			if !slices.Equal(gq, wq) {
				t.Errorf("%s: quantiles %v, client_golang %v", name, gq, wq)
			}
		}
		gv, wv := scalar(gm), scalar(wm)
		switch name {
		case "go_info", "go_gc_gogc_percent", "go_gc_gomemlimit_bytes", "go_sched_gomaxprocs_threads",
			"process_max_fds", "process_virtual_memory_max_bytes", "process_start_time_seconds":
			if gv != wv {
				t.Errorf("%s = %v, client_golang %v", name, gv, wv)
			}
		case "process_open_fds":
			if math.Abs(gv-wv) > 4 {
				t.Errorf("%s = %v, client_golang %v", name, gv, wv)
			}
		case "process_resident_memory_bytes", "process_virtual_memory_bytes", "go_memstats_sys_bytes":
			if gv < wv/2 || gv > wv*2 {
				t.Errorf("%s = %v, client_golang %v", name, gv, wv)
			}
		}
	}
	// Beyond client_golang's families: nothing.
	for name := range got {
		t.Errorf("%s: native only", name)
	}
}

func scalar(m *dto.Metric) float64 {
	switch {
	case m.Gauge != nil:
		return m.GetGauge().GetValue()
	case m.Counter != nil:
		return m.GetCounter().GetValue()
	}
	return math.NaN()
}

// TestRuntimeGCCPUCounters checks the two counters a GC CPU alert divides:
// present, counters, and the GC's share at most the total.
func TestRuntimeGCCPUCounters(t *testing.T) {
	runtime.GC()
	got := nativeRuntimeFamilies(t)
	gc, total := got[GCCPUSecondsName], got[TotalCPUSecondsName]
	if gc.GetType() != dto.MetricType_COUNTER || total.GetType() != dto.MetricType_COUNTER {
		t.Fatalf("%s %v, %s %v", GCCPUSecondsName, gc.GetType(), TotalCPUSecondsName, total.GetType())
	}
	g, a := gc.Metric[0].GetCounter().GetValue(), total.Metric[0].GetCounter().GetValue()
	if g <= 0 || g > a {
		t.Errorf("GC CPU %v s of %v s", g, a)
	}
}

// constToDTO builds the client_model tree client_golang builds for c.
func constToDTO(c *constFamily) *dto.MetricFamily {
	mf := &dto.MetricFamily{Name: new(c.name), Help: new(c.help)}
	if c.unit != "" {
		mf.Unit = new(c.unit)
	}
	m := &dto.Metric{}
	if c.labelName != "" {
		m.Label = []*dto.LabelPair{{Name: new(c.labelName), Value: new(c.labelValue)}}
	}
	switch c.kind {
	case constCounter:
		mf.Type = dto.MetricType_COUNTER.Enum()
		m.Counter = &dto.Counter{Value: new(c.value)}
	case constGauge:
		mf.Type = dto.MetricType_GAUGE.Enum()
		m.Gauge = &dto.Gauge{Value: new(c.value)}
	case constSummary:
		mf.Type = dto.MetricType_SUMMARY.Enum()
		m.Summary = &dto.Summary{SampleCount: new(c.count), SampleSum: new(c.sum)}
		for i, q := range c.bounds {
			m.Summary.Quantile = append(m.Summary.Quantile, &dto.Quantile{Quantile: new(q), Value: new(c.qvalues[i])})
		}
	case constHistogram:
		mf.Type = dto.MetricType_HISTOGRAM.Enum()
		m.Histogram = &dto.Histogram{SampleCount: new(c.count), SampleSum: new(c.sum)}
		for i, ub := range c.bounds {
			m.Histogram.Bucket = append(m.Histogram.Bucket, &dto.Bucket{UpperBound: new(ub), CumulativeCount: new(c.counts[i])})
		}
	}
	mf.Metric = []*dto.Metric{m}
	return mf
}

// TestConstFamiliesMatchExpfmt writes one reading of every runtime family
// natively and through expfmt's encoders of the equivalent client_model
// tree: the three formats agree byte for byte.
func TestConstFamiliesMatchExpfmt(t *testing.T) {
	s := newRTScratch(runtimeTable())
	runtimeTable().read(s)
	for i := range s.fams {
		c := &s.fams[i]
		if c.skip {
			continue
		}
		mf := constToDTO(c)
		for _, f := range []format{formatText, formatOpenMetrics, formatProtobuf} {
			for _, unknown := range []bool{false, true} {
				if unknown && (f != formatOpenMetrics || c.kind != constCounter) {
					continue
				}
				e := getEncoder(nil)
				var want bytes.Buffer
				var err error
				switch f {
				case formatText:
					e.writeConstText(c)
					_, err = expfmt.MetricFamilyToText(&want, mf)
				case formatOpenMetrics:
					e.writeConstOM(c, unknown)
					m := mf
					if unknown {
						m = counterAsUnknown(mf)
					}
					_, err = expfmt.MetricFamilyToOpenMetrics(&want, m)
				default:
					e.writeConstProto(c)
					_, err = protodelim.MarshalTo(&want, mf)
				}
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(e.buf, want.Bytes()) {
					t.Errorf("%s %v (unknown %v):\nnative  %q\nexpfmt  %q", c.name, f, unknown, e.buf, want.Bytes())
				}
				putEncoder(e)
			}
		}
	}
}

// TestProtobufMatchesDTO writes every fixture family natively and through
// familyToDTO and proto.Marshal: byte for byte the same.
func TestProtobufMatchesDTO(t *testing.T) {
	reg := newFixture(t)
	reg.GaugeFunc(metric.Opts{Name: "test_func_value", Help: "A callback."}, func() float64 { return 2.5 })
	h := reg.HistogramVec(metric.Opts{Name: "test_sparse_seconds", Help: "Sparse native buckets.", Labels: []string{"z", "a"}})
	for _, v := range []float64{1e-9, 0.001, 0.0011, 0.5, 0.51, 2, 3, 1000, 1e6} {
		h.With("x", "y").Observe(v)
	}
	var hv metric.HistogramValue
	for _, f := range reg.Families() {
		e := getEncoder(nil)
		e.writeFamilyProto(f)
		mf := familyToDTO(f, &hv, true)
		var want []byte
		if mf != nil {
			b, err := proto.Marshal(mf)
			if err != nil {
				t.Fatal(err)
			}
			want = protodelimPrefix(b)
		}
		if !bytes.Equal(e.buf, want) {
			t.Errorf("%s:\nnative %x\ndto    %x", f.Name, e.buf, want)
		}
		putEncoder(e)
	}
}

func protodelimPrefix(b []byte) []byte {
	var buf bytes.Buffer
	n := uint64(len(b))
	for n >= 0x80 {
		buf.WriteByte(byte(n) | 0x80)
		n >>= 7
	}
	buf.WriteByte(byte(n))
	buf.Write(b)
	return buf.Bytes()
}

// TestOpenMetricsMatchesDTO writes every fixture family natively and
// through expfmt from familyToDTO: the same lines, once each label set is
// in the same order (the native encoder keeps the family's label order).
func TestOpenMetricsMatchesDTO(t *testing.T) {
	reg := newFixture(t)
	reg.Counter(metric.Opts{Name: "test_plain", Help: "A counter without _total."}).Inc()
	var hv metric.HistogramValue
	for _, f := range reg.Families() {
		for _, unknown := range []bool{false, true} {
			if unknown && f.Kind != metric.KindCounter {
				continue
			}
			e := getEncoder(nil)
			e.writeFamilyOM(f, unknown)
			var want bytes.Buffer
			if mf := familyToDTO(f, &hv, false); mf != nil {
				if unknown {
					mf = counterAsUnknown(mf)
				}
				if _, err := expfmt.MetricFamilyToOpenMetrics(&want, mf); err != nil {
					t.Fatal(err)
				}
			}
			if g, w := sortedLines(f, e.buf), sortedLines(f, want.Bytes()); g != w {
				t.Errorf("%s (unknown %v):\nnative\n%s\nexpfmt\n%s", f.Name, unknown, g, w)
			}
			putEncoder(e)
		}
	}
}

// sortedLines rewrites each sample line's labels in name order.
func sortedLines(f *metric.Family, b []byte) string {
	var out []string
	for line := range strings.Lines(string(b)) {
		open, close_ := strings.IndexByte(line, '{'), strings.LastIndexByte(line, '}')
		if open < 0 || strings.HasPrefix(line, "#") {
			out = append(out, line)
			continue
		}
		pairs := splitLabels(line[open+1 : close_])
		slices.Sort(pairs)
		out = append(out, line[:open+1]+strings.Join(pairs, ",")+line[close_:])
	}
	return strings.Join(out, "")
}

// splitLabels splits a rendered label set at the commas between pairs.
func splitLabels(s string) []string {
	var out []string
	inQuote, start := false, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '"':
			inQuote = !inQuote
		case ',':
			if !inQuote {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	return append(out, s[start:])
}
