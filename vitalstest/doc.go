// Package vitalstest helps users test code instrumented with vitals: drive
// a Monitor with a manual clock, read one series' value, and compare a
// registry's exposition with the text you expect.
//
//	func TestCheckoutCountsErrors(t *testing.T) {
//		m, clk := vitalstest.NewMonitor(t)
//		shop := NewShop(m) // the code under test, instrumented with m
//		shop.Checkout(badCard)
//		vitalstest.Tick(m, clk, time.Second)
//
//		if v := vitalstest.Value(t, m.Registry(), "vitals_operation_errors_total", "checkout"); v != 1 {
//			t.Fatalf("errors = %v, want 1", v)
//		}
//		st, _ := m.OperationStats("checkout")
//		// ...
//	}
//
// The helpers take a testing.TB and fail the test with a message that names
// the series, so a test reads as what it checks.
package vitalstest
