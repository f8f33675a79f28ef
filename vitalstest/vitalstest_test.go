package vitalstest

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/bizra/vitals/metric"
)

type recordingTB struct {
	testing.TB
	failed string
}

func (r *recordingTB) Helper() {}
func (r *recordingTB) Fatalf(format string, args ...any) {
	r.failed = format
}

func TestHelpers(t *testing.T) {
	m, clk := NewMonitor(t)
	op := m.Operation("checkout")
	fail := errors.New("declined")
	op.Start().End(&fail)
	op.Start().End(nil)
	s := Tick(m, clk, time.Second)
	if !s.Time.Equal(Epoch.Add(time.Second)) {
		t.Fatalf("tick at %v", s.Time)
	}
	if v := Value(t, m.Registry(), "vitals_operation_errors_total", "checkout"); v != 1 {
		t.Fatalf("errors %v, want 1", v)
	}
	if h := Histogram(t, m.Registry(), "vitals_operation_duration_seconds", "checkout"); h.Count != 2 {
		t.Fatalf("count %d, want 2", h.Count)
	}
	rec := &recordingTB{TB: t}
	Value(rec, m.Registry(), "vitals_operation_errors_total", "refund")
	if !strings.Contains(rec.failed, "no series") {
		t.Fatalf("a missing series must fail the test, got %q", rec.failed)
	}
	rec.failed = ""
	Value(rec, m.Registry(), "no_such_metric_total")
	if !strings.Contains(rec.failed, "no metric") {
		t.Fatalf("a missing metric must fail the test, got %q", rec.failed)
	}
}

func TestCompareText(t *testing.T) {
	reg := metric.NewRegistry()
	c := reg.CounterVec(metric.Opts{Name: "jobs_total", Help: "Jobs done.", Labels: []string{"queue"}})
	c.With("mail").Add(3)
	err := CompareText(reg, `
		# HELP jobs_total Jobs done.
		# TYPE jobs_total counter
		jobs_total{queue="mail"} 3
	`, "jobs_total")
	if err != nil {
		t.Fatal(err)
	}
	if err := CompareText(reg, `jobs_total{queue="mail"} 4`, "jobs_total"); err == nil || !strings.Contains(err.Error(), "--- want") {
		t.Fatalf("a mismatch must be an error showing both, got %v", err)
	}
}
