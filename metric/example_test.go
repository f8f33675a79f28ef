package metric_test

import (
	"fmt"
	"math"
	"time"

	"github.com/bizra/vitals/metric"
)

func ExampleRegistry_CounterVec() {
	reg := metric.NewRegistry()
	jobs := reg.CounterVec(metric.Opts{Name: "app_jobs_total", Help: "Jobs processed, by queue.", Labels: []string{"queue"}})
	email := jobs.With("email") // keep the handle; With is not for hot paths
	email.Inc()
	email.Add(2)
	fmt.Println(email.Value())
	// Output: 3
}

func ExampleRegistry_Histogram() {
	reg := metric.NewRegistry()
	lat := reg.Histogram(metric.Opts{Name: "app_request_duration_seconds", Help: "Request duration.", Unit: "seconds"})
	for i := 1; i <= 1000; i++ {
		lat.Observe(float64(i) / 1000) // 1 ms ... 1 s
	}
	var v metric.HistogramValue
	lat.Read(&v)
	fmt.Printf("count=%d sum=%.1f min=%g max=%g\n", v.Count, v.Sum, v.Min, v.Max)
	fmt.Printf("p50=%.3f p99=%.3f\n", v.Quantile(0.5), v.Quantile(0.99))
	// Output:
	// count=1000 sum=500.5 min=0.001 max=1
	// p50=0.497 p99=0.995
}

func ExampleHistogram_StartTimer() {
	var h metric.Histogram // the zero value works
	t := h.StartTimer()
	time.Sleep(time.Millisecond)
	t.End()
	var v metric.HistogramValue
	h.Read(&v)
	fmt.Println(h.Count(), v.Min >= 0.001)
	// Output: 1 true
}

// Dashboards written for client_golang's default buckets query le="0.1"
// and friends; PromDefBuckets gives a histogram exactly those bounds.
func ExamplePromDefBuckets() {
	reg := metric.NewRegistry()
	h := reg.Histogram(metric.Opts{Name: "http_request_duration_seconds", Unit: "seconds",
		Help: "Request latency.", Buckets: metric.PromDefBuckets()})
	h.Observe(0.07)
	h.Observe(0.1)
	h.Observe(3)
	var v metric.HistogramValue
	h.Read(&v)
	for i, b := range v.ClassicBounds {
		if b == 0.1 || b == 5 {
			fmt.Printf("le=%g: %d\n", b, v.ClassicCounts[i])
		}
	}
	// Output:
	// le=0.1: 2
	// le=5: 3
}

func ExampleRejectReason() {
	var h metric.Histogram
	h.Observe(math.Inf(1))
	for _, r := range []metric.RejectReason{metric.RejectNaN, metric.RejectInf, metric.RejectNegative} {
		fmt.Println(r, h.Rejected(r))
	}
	// Output:
	// nan 0
	// inf 1
	// negative 0
}

func ExampleHistogram_Observe_badValues() {
	var h metric.Histogram
	h.Observe(math.NaN())
	h.Observe(-1)
	h.Observe(0.5)
	fmt.Println(h.Count(), h.Rejected(metric.RejectNaN), h.Rejected(metric.RejectNegative))
	// Output: 1 1 1
}

func ExampleRegistry_GaugeFunc() {
	reg := metric.NewRegistry()
	queue := make(chan int, 10)
	queue <- 1
	reg.GaugeFunc(metric.Opts{Name: "app_queue_length", Help: "Items waiting."}, func() float64 { return float64(len(queue)) })
	s := reg.Family("app_queue_length").Series()[0]
	fmt.Println(s.Value())
	// Output: 1
}

func ExampleVec_With_overflow() {
	reg := metric.NewRegistry()
	byUser := reg.CounterVec(metric.Opts{Name: "app_logins_total", Help: "Logins.", Labels: []string{"user"}, MaxSeries: 2})
	byUser.With("ann").Inc()
	byUser.With("bob").Inc()
	byUser.With("cy").Inc() // past the cap: folded into the overflow series
	byUser.With("dee").Inc()
	for _, s := range byUser.Family().Series() {
		fmt.Println(s.Values, s.Value(), s.Overflow)
	}
	fmt.Println("folded:", byUser.Family().Overflowed())
	// Output:
	// [ann] 1 false
	// [bob] 1 false
	// [__overflow__] 2 true
	// folded: 2
}

func ExampleHistogramValue_Downscale() {
	var h metric.Histogram
	h.Observe(1.1)
	h.Observe(1.2)
	h.Observe(3)
	var v metric.HistogramValue
	h.Read(&v)
	v.Downscale(0) // one bucket per power of two: (1,2] and (2,4]
	fmt.Println(v.Schema, v.Buckets)
	// Output: 0 [{1 2} {2 1}]
}

func ExampleGauge() {
	reg := metric.NewRegistry()
	inFlight := reg.Gauge(metric.Opts{Name: "app_jobs_in_flight", Help: "Jobs being processed."})
	inFlight.Inc()
	inFlight.Inc()
	inFlight.Dec()
	fmt.Println(inFlight.Value())
	// Output: 1
}

func ExampleFloatGauge() {
	reg := metric.NewRegistry()
	temp := reg.FloatGauge(metric.Opts{Name: "app_disk_temperature_celsius", Help: "Disk temperature.", Unit: "celsius"})
	temp.Set(41.5)
	temp.Add(-0.25)
	fmt.Println(temp.Value())
	// Output: 41.25
}

func ExampleCounter() {
	var c metric.Counter // the zero value works; registry counters are sharded per core
	c.Inc()
	c.Add(41)
	fmt.Println(c.Value())
	// Output: 42
}
