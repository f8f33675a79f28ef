package exposition

import (
	"bytes"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"github.com/bizra/vitals/metric"
)

func TestCollectorRoundTrip(t *testing.T) {
	t.Parallel()
	reg := newFixture(t)
	pr := prometheus.NewPedanticRegistry()
	pr.MustRegister(NewCollector(reg))
	mfs, err := pr.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := make(map[string]*dto.MetricFamily, len(mfs))
	for _, mf := range mfs {
		got[mf.GetName()] = mf
	}
	checkDecoded(t, reg, got, sameName, true)
	if u := got["test_size_bytes"].GetUnit(); u != "bytes" {
		t.Errorf("unit %q, want bytes", u)
	}

	// Families registered after the collector are exported too.
	reg.Counter(metric.Opts{Name: "late_total", Help: "Registered late."}).Add(2)
	n, err := testutil.GatherAndCount(pr, "late_total")
	if err != nil || n != 1 {
		t.Fatalf("late family: %d series, err %v", n, err)
	}
	// And unregistered ones disappear, taking their cached Desc along.
	reg.Unregister("late_total")
	if n, err := testutil.GatherAndCount(pr, "late_total"); err != nil || n != 0 {
		t.Fatalf("unregistered family: %d series, err %v", n, err)
	}
}

func TestCollectorText(t *testing.T) {
	t.Parallel()
	reg := metric.NewRegistry()
	reg.CounterVec(metric.Opts{Name: "app_jobs_total", Help: "Jobs.", Labels: []string{"queue", "kind"}}).With("mail", "a\"b").Add(3)
	h := reg.Histogram(metric.Opts{Name: "app_size_bytes", Help: "Size.", Buckets: []float64{1, 10}})
	h.Observe(5)
	pr := prometheus.NewRegistry()
	pr.MustRegister(NewCollector(reg))
	want := `# HELP app_jobs_total Jobs.
# TYPE app_jobs_total counter
app_jobs_total{kind="a\"b",queue="mail"} 3
# HELP app_size_bytes Size.
# TYPE app_size_bytes histogram
app_size_bytes_bucket{le="1"} 0
app_size_bytes_bucket{le="10"} 1
app_size_bytes_bucket{le="+Inf"} 1
app_size_bytes_sum 5
app_size_bytes_count 1
`
	if err := testutil.GatherAndCompare(pr, strings.NewReader(want), "app_jobs_total", "app_size_bytes"); err != nil {
		t.Fatal(err)
	}
}

// TestCollectorMatchesHandler checks that the adapter and the handler
// agree byte for byte on the text of a family (the registry sorts series
// by labels; this family has one).
func TestCollectorMatchesHandler(t *testing.T) {
	t.Parallel()
	reg := newFixture(t)
	pr := prometheus.NewRegistry()
	pr.MustRegister(NewCollector(reg))
	var fromHandler bytes.Buffer
	if err := WriteText(&fromHandler, reg, func(n string) bool { return n == "test_size_bytes" }); err != nil {
		t.Fatal(err)
	}
	if err := testutil.GatherAndCompare(pr, &fromHandler, "test_size_bytes"); err != nil {
		t.Fatal(err)
	}
}
