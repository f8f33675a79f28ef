package rules

import (
	"fmt"
	"time"
)

func (b *builder) system() []Rule {
	by := b.by()
	growth, heapMin := b.p.Value("heap-growth"), b.p.Value("heap-min-bytes")
	gc := b.p.Value("gc-pause-fraction")
	gcCPU := b.p.Value("gc-cpu-fraction")
	sched := b.p.Value("sched-latency-p99")
	gr, grMin := b.p.Value("goroutine-growth"), b.p.Value("goroutine-min")
	fd := b.p.Value("fd-ratio")
	tick := b.p.Value("tick-p99")
	stale := b.p.Value("tick-stale")
	health := b.p.Value("health-score")
	heap := b.s(HeapInuse)
	gor := b.s(Goroutines)
	last := b.s(CollectorLastTick)
	return []Rule{
		{Alert: "VitalsHeapGrowth", Severity: Warning, For: 30 * time.Minute,
			Expr:    fmt.Sprintf("avg_over_time(%[1]s[10m]) > %[2]s * avg_over_time(%[1]s[10m] offset 1h) and %[1]s > %[3]s", heap, num(growth), num(heapMin)),
			Summary: "Heap of {{ $labels.instance }} grew more than " + num(growth) + "x in an hour",
			Description: "The Go heap in use on {{ $labels.instance }} (job {{ $labels.job }}) has stayed more than " + num(growth) +
				" times its level of an hour earlier for 30 minutes (and above " + num(heapMin/(1<<20)) + " MiB): a leak, or a cache without a bound.",
			Test: &Case{EvalAt: 110 * time.Minute, Series: func(fire bool) []Series {
				base := 2 * heapMin
				return []Series{series(HeapInuse, gauge2(base, 60, pick(fire, base*growth+1<<20, base*growth), 60))}
			}}},
		{Alert: "VitalsGCPauseHigh", Severity: Warning, For: 15 * time.Minute,
			Expr:        fmt.Sprintf("sum %s (rate(%s[5m])) > %s", by, b.s(GCDuration+"_sum"), num(gc)),
			Summary:     "GC stops {{ $labels.instance }} more than " + pct(gc) + " of the time",
			Description: "Garbage-collection stop-the-world pauses on {{ $labels.instance }} (job {{ $labels.job }}) took more than " + pct(gc) + " of wall time over 5 minutes, for 15 minutes: allocation rate is too high for the heap size (GOGC, GOMEMLIMIT).",
			Test: &Case{EvalAt: 25 * time.Minute, Series: func(fire bool) []Series {
				per := 60 * gc
				return []Series{series(GCDuration+"_sum", counter(pick(fire, per*1.01, per*0.99), 30))}
			}}},
		{Alert: "VitalsGCCPUHigh", Severity: Warning, For: 15 * time.Minute,
			Expr:        fmt.Sprintf("sum %[1]s (rate(%[2]s[5m])) / sum %[1]s (rate(%[3]s[5m])) > %[4]s", by, b.s(GCCPUSeconds), b.s(TotalCPUSeconds), num(gcCPU)),
			Summary:     "GC uses more than " + pct(gcCPU) + " of the CPU of {{ $labels.instance }}",
			Description: "The Go garbage collector, concurrent marking included, used more than " + pct(gcCPU) + " of the CPU available to {{ $labels.instance }} (job {{ $labels.job }}, GOMAXPROCS × wall time) over 5 minutes, for 15 minutes: that CPU is taken from requests; allocation rate is too high for the heap size (GOGC, GOMEMLIMIT).",
			Test: &Case{EvalAt: 25 * time.Minute, Series: func(fire bool) []Series {
				total := 120.0 // two CPUs' seconds per minute
				return []Series{
					series(GCCPUSeconds, counter(pick(fire, total*gcCPU*1.01, total*gcCPU*0.99), 30)),
					series(TotalCPUSeconds, counter(total, 30)),
				}
			}}},
		{Alert: "VitalsSchedulerLatencyHigh", Severity: Warning, For: 10 * time.Minute,
			Expr:        fmt.Sprintf("histogram_quantile(0.99, sum %s (rate(%s[5m]))) > %s", b.by("le"), b.s(SchedLatencies+"_bucket"), num(sched)),
			Summary:     "Goroutines on {{ $labels.instance }} wait more than " + dur(sched) + " for a CPU",
			Description: "The 99th percentile of the time runnable goroutines on {{ $labels.instance }} (job {{ $labels.job }}) waited for a CPU (go_sched_latencies_seconds) has been above " + dur(sched) + " for 10 minutes: the process is CPU-starved (GOMAXPROCS above the CPU quota, or a noisy neighbour).",
			Test: &Case{EvalAt: 20 * time.Minute, Series: func(fire bool) []Series {
				// Classic buckets: all observations just below or just
				// above the threshold's bucket boundary.
				below, above := 60.0, 0.0
				if fire {
					below, above = 0, 60
				}
				return []Series{
					series(SchedLatencies+"_bucket", counter(0, 25), "le", num(sched/2)),
					series(SchedLatencies+"_bucket", counter(below, 25), "le", num(sched)),
					series(SchedLatencies+"_bucket", counter(below+above, 25), "le", num(sched*2)),
					series(SchedLatencies+"_bucket", counter(60, 25), "le", "+Inf"),
				}
			}}},
		{Alert: "VitalsGoroutineLeak", Severity: Warning, For: 15 * time.Minute,
			Expr:    fmt.Sprintf("%[1]s > %[2]s * avg_over_time(%[1]s[1h] offset 1h) and %[1]s > %[3]s", gor, num(gr), num(grMin)),
			Summary: "Goroutines on {{ $labels.instance }} more than " + num(gr) + "x an hour earlier",
			Description: "{{ $labels.instance }} (job {{ $labels.job }}) runs more than " + num(gr) + " times as many goroutines as on average in the hour before the last one (and more than " + num(grMin) +
				"), for 15 minutes: goroutines are started and never end.",
			Test: &Case{EvalAt: 110 * time.Minute, Series: func(fire bool) []Series {
				base := grMin
				return []Series{series(Goroutines, gauge2(base, 60, pick(fire, base*gr+1, base*gr), 60))}
			}}},
		{Alert: "VitalsFileDescriptorsNearLimit", Severity: Critical, For: 5 * time.Minute,
			Expr:        fmt.Sprintf("%s / %s > %s", b.s(ProcessOpenFDs), b.s(ProcessMaxFDs), num(fd)),
			Summary:     "{{ $labels.instance }} uses more than " + pct(fd) + " of its file descriptors",
			Description: "{{ $labels.instance }} (job {{ $labels.job }}) has had more than " + pct(fd) + " of its file-descriptor limit open for 5 minutes: new connections and files will soon fail with EMFILE.",
			Test: &Case{EvalAt: 10 * time.Minute, Series: func(fire bool) []Series {
				return []Series{
					series(ProcessMaxFDs, gauge(1000, 15)),
					series(ProcessOpenFDs, gauge(pick(fire, 1000*fd+1, 1000*fd), 15)),
				}
			}}},
		{Alert: "VitalsCollectorTickSlow", Severity: Warning, For: 10 * time.Minute,
			Expr:        fmt.Sprintf("histogram_quantile(0.99, sum %s (rate(%s[5m]))) > %s", by, b.s(CollectorTickDuration), num(tick)),
			Summary:     "vitals collector ticks on {{ $labels.instance }} take more than " + dur(tick),
			Description: "The 99th percentile of the vitals collector's tick on {{ $labels.instance }} (job {{ $labels.job }}) has been above " + dur(tick) + " for 10 minutes: too many series, or a slow consumer; windows, scores and alerts lag.",
			Test: &Case{EvalAt: 20 * time.Minute, Series: func(fire bool) []Series {
				idx := histBelow(tick)
				if fire {
					idx = histAbove(tick)
				}
				return []Series{series(CollectorTickDuration, hist(idx, 60, 25))}
			}}},
		{Alert: "VitalsCollectorStalled", Severity: Critical, For: time.Minute,
			Expr:        fmt.Sprintf("timestamp(%[1]s) - %[1]s > %[2]s", last, num(stale)),
			Summary:     "vitals collector on {{ $labels.instance }} stopped ticking",
			Description: "When /metrics of {{ $labels.instance }} (job {{ $labels.job }}) was last scraped, the vitals collector's last tick was more than " + dur(stale) + " old, for a minute: windows, health scores and in-process alerts are frozen.",
			Test: &Case{EvalAt: 10 * time.Minute, Series: func(fire bool) []Series {
				// The sample at t holds the time of the last tick, stale
				// seconds (plus one on the firing side) before t.
				return []Series{series(CollectorLastTick, fmt.Sprintf("%s+60x15", num(-stale-pick(fire, 1, 0))))}
			}}},
		{Alert: "VitalsHistoryWriteErrors", Severity: Warning, For: 5 * time.Minute,
			Expr:        fmt.Sprintf("sum %s (rate(%s[5m])) > 0", by, b.s(HistoryWriteErrors)),
			Summary:     "vitals history store on {{ $labels.instance }} fails to write",
			Description: "The vitals history store on {{ $labels.instance }} (job {{ $labels.job }}) has failed writes for 5 minutes: rollups are kept in memory and retried, and are lost if the process stops.",
			Test: &Case{EvalAt: 15 * time.Minute, Series: func(fire bool) []Series {
				return []Series{series(HistoryWriteErrors, counter(pick(fire, 1, 0), 20))}
			}}},
		{Alert: "VitalsHistoryNotWritable", Severity: Warning, For: 5 * time.Minute,
			Expr:        fmt.Sprintf("%s == 0", b.s(HistoryWritable)),
			Summary:     "vitals history store on {{ $labels.instance }} is not writable",
			Description: "The vitals history store on {{ $labels.instance }} (job {{ $labels.job }}) has been running without a writable file for 5 minutes (read-only or full disk, or the file is locked): history survives no restart.",
			Test: &Case{EvalAt: 10 * time.Minute, Series: func(fire bool) []Series {
				return []Series{series(HistoryWritable, gauge(pick(fire, 0, 1), 15))}
			}}},
		{Alert: "VitalsHealthScoreLow", Severity: Warning, For: 10 * time.Minute,
			Expr:        fmt.Sprintf("%s < %s", b.s(HealthScore, `component="overall"`), num(health)),
			Summary:     "Overall health score of {{ $labels.instance }} below " + num(health),
			Description: "The overall vitals health score of {{ $labels.instance }} (job {{ $labels.job }}) has been below " + num(health) + " of 100 for 10 minutes; /health/performance lists each component's score and advice.",
			Test: &Case{EvalAt: 15 * time.Minute, Labels: map[string]string{"component": "overall"},
				Series: func(fire bool) []Series {
					return []Series{series(HealthScore, gauge(pick(fire, health-1, health), 20), "component", "overall")}
				}}},
	}
}
