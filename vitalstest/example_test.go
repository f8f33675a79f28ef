package vitalstest_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/bizra/vitals/metric"
	"github.com/bizra/vitals/vitalstest"
)

func ExampleCompareText() {
	reg := metric.NewRegistry()
	reg.Counter(metric.Opts{Name: "emails_sent_total", Help: "Emails sent."}).Add(2)
	err := vitalstest.CompareText(reg, `
		# HELP emails_sent_total Emails sent.
		# TYPE emails_sent_total counter
		emails_sent_total 2
	`, "emails_sent_total")
	fmt.Println(err)
	// Output: <nil>
}

func ExampleNewMonitor() {
	t := &testing.T{} // in a test, the *testing.T you are given
	m, clk := vitalstest.NewMonitor(t)
	op := m.Operation("store.get")
	op.Observe(20*time.Millisecond, nil)
	vitalstest.Tick(m, clk, time.Second)
	st, _ := m.OperationStats("store.get")
	fmt.Println(st.Count, st.P50.Round(time.Millisecond))
	// Output: 1 20ms
}
