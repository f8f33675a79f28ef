package exposition

import (
	"bytes"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/bizra/vitals/metric"
)

func TestWriteTextExact(t *testing.T) {
	t.Parallel()
	reg := metric.NewRegistry()
	reg.Counter(metric.Opts{Name: "app_jobs_total", Help: `Jobs done \ per "queue"` + "\nsecond line"}).Add(3)
	reg.GaugeVec(metric.Opts{Name: "app_queue_depth", Help: "Depth.", Labels: []string{"queue"}}).With(`a"b\c` + "\n").Set(-2)
	reg.FloatGauge(metric.Opts{Name: "app_ratio", Help: "Ratio."}).Set(math.Inf(-1))
	h := reg.Histogram(metric.Opts{Name: "app_size_bytes", Help: "Size.", Buckets: []float64{0.5}})
	h.Observe(0.25)
	h.Observe(3)

	var buf bytes.Buffer
	if err := WriteText(&buf, reg, func(name string) bool { return strings.HasPrefix(name, "app_") }); err != nil {
		t.Fatal(err)
	}
	want := `# HELP app_jobs_total Jobs done \\ per "queue"\nsecond line
# TYPE app_jobs_total counter
app_jobs_total 3
# HELP app_queue_depth Depth.
# TYPE app_queue_depth gauge
app_queue_depth{queue="a\"b\\c\n"} -2
# HELP app_ratio Ratio.
# TYPE app_ratio gauge
app_ratio -Inf
# HELP app_size_bytes Size.
# TYPE app_size_bytes histogram
app_size_bytes_bucket{le="0.5"} 1
app_size_bytes_bucket{le="+Inf"} 2
app_size_bytes_sum 3.25
app_size_bytes_count 2
`
	if got := buf.String(); got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}

func TestWriteTextRoundTrip(t *testing.T) {
	t.Parallel()
	reg := newFixture(t)
	var buf bytes.Buffer
	if err := WriteText(&buf, reg, nil); err != nil {
		t.Fatal(err)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	got, err := p.TextToMetricFamilies(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatalf("text parser: %v\n%s", err, buf.String())
	}
	checkDecoded(t, reg, got, func(f *metric.Family) string { return f.Name }, false)
	for name := range got {
		if reg.Family(name) == nil {
			t.Errorf("unexpected family %s", name)
		}
	}
}

func TestAppendFloat(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		in   float64
		want string
	}{
		{0, "0"}, {math.Copysign(0, -1), "0"}, {1, "1"}, {-1, "-1"}, {0.1, "0.1"},
		{1e6, "1e+06"}, {123456, "123456"}, {6.103515625e-05, "6.103515625e-05"},
		{math.MaxFloat64, "1.7976931348623157e+308"}, {5e-324, "5e-324"},
		{math.Inf(1), "+Inf"}, {math.Inf(-1), "-Inf"}, {math.NaN(), "NaN"},
	} {
		if got := string(appendFloat(nil, c.in)); got != c.want {
			t.Errorf("appendFloat(%g) = %q, want %q", c.in, got, c.want)
		}
	}
}

// failWriter fails after n successful writes.
type failWriter struct{ n int }

var errBroken = errors.New("broken pipe")

func (w *failWriter) Write(p []byte) (int, error) {
	if w.n == 0 {
		return 0, errBroken
	}
	w.n--
	return len(p), nil
}

func TestWriteTextStopsAtWriteError(t *testing.T) {
	t.Parallel()
	reg := metric.NewRegistry()
	v := reg.CounterVec(metric.Opts{Name: "big_total", Help: "Many series.", Labels: []string{"i"}, MaxSeries: 2000})
	for i := range 2000 {
		v.With(strings.Repeat("x", 20) + string(rune('a'+i%26)) + string(rune('0'+i/26%10)) + string(rune('0'+i/260))).Inc()
	}
	w := &failWriter{n: 1}
	if err := WriteText(w, reg, nil); !errors.Is(err, errBroken) {
		t.Fatalf("err = %v, want %v", err, errBroken)
	}
}

func TestWriteTextAllocs(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 10,000-series registry")
	}
	if raceEnabled {
		t.Skip("allocation counts are meaningless under the race detector (sync.Pool drops items on purpose)")
	}
	reg := newBenchRegistry()
	filter := func(string) bool { return true }
	// Warm the pool and the scratch slices.
	if err := WriteText(discard{}, reg, filter); err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(5, func() {
		if err := WriteText(discard{}, reg, filter); err != nil {
			t.Fatal(err)
		}
	})
	// A handful per scrape, not per series: 10,000 series would show up
	// as thousands.
	if allocs > 5 {
		t.Fatalf("WriteText of 10,000 series: %.0f allocations per scrape, want <= 5", allocs)
	}
}

// discard is io.Discard without the ReaderFrom fast path, so benchmarks
// measure what a network writer sees.
type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
