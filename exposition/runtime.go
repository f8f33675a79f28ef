package exposition

import (
	"math"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"slices"
	"strings"
	"sync"
	"time"
)

// The Go runtime and process metrics are read natively: runtime/metrics,
// debug.ReadGCStats and, on Linux, /proc/self. The names, types, units and
// HELP texts are those of client_golang's default Go and process
// collectors (TestRuntimeMatchesClientGolang compares them family by
// family), so dashboards and alerts written against client_golang keep
// working. On top of client_golang's defaults come:
//
//   - go_sched_latencies_seconds: how long runnable goroutines waited for
//     a CPU (client_golang leaves it opt-in);
//   - go_sched_pauses_{stopping,total}_{gc,other}_seconds: stop-the-world
//     pause histograms;
//   - go_cpu_classes_gc_total_cpu_seconds_total and
//     go_cpu_classes_total_cpu_seconds_total: CPU time spent by the GC
//     (pauses and concurrent marking) and CPU time available to the
//     process, so the GC's share of CPU can be alerted on:
//     rate(go_cpu_classes_gc_total_cpu_seconds_total[5m]) /
//     rate(go_cpu_classes_total_cpu_seconds_total[5m]).
//
// Names come from runtime/metrics names by client_golang's rule
// (/cpu/classes/gc/total:cpu-seconds → go_cpu_classes_gc_total_cpu_seconds_total),
// so HandlerOpts.ClientGolangRuntime exposes the same names.
//
// Performance: a scrape reads about 30 runtime/metrics samples and the GC
// pause history into scratch space kept in a pool, and three /proc files
// with raw system calls, so the runtime and process metrics cost no
// allocation in steady state (TestDefaultScrapeAllocs), against about 1,100
// for client_golang's collectors.

// runtimeMetricNames are the runtime/metrics exposed under their own name,
// besides the memstats-style families (BenchmarkHandler measures their cost).
var runtimeMetricNames = []string{
	// client_golang's default rule.
	"/gc/gogc:percent",
	"/gc/gomemlimit:bytes",
	"/sched/gomaxprocs:threads",
	// Added by vitals.
	"/sched/latencies:seconds",
	"/sched/pauses/stopping/gc:seconds",
	"/sched/pauses/stopping/other:seconds",
	"/sched/pauses/total/gc:seconds",
	"/sched/pauses/total/other:seconds",
	"/cpu/classes/gc/total:cpu-seconds",
	"/cpu/classes/total:cpu-seconds",
}

// GCCPUSecondsName is the counter of CPU seconds the Go garbage collector
// used (runtime/metrics /cpu/classes/gc/total:cpu-seconds), and
// TotalCPUSecondsName the CPU seconds available to the Go process
// (/cpu/classes/total:cpu-seconds). Their rates' ratio is the GC's share of
// CPU. Both are estimates the runtime updates at least at every GC.
const (
	GCCPUSecondsName    = "go_cpu_classes_gc_total_cpu_seconds_total"
	TotalCPUSecondsName = "go_cpu_classes_total_cpu_seconds_total"
)

// memstatNames are the runtime/metrics the go_memstats_* families are
// computed from, as client_golang computes them.
var memstatNames = []string{
	"/gc/heap/tiny/allocs:objects",
	"/gc/heap/allocs:objects",
	"/gc/heap/frees:objects",
	"/gc/heap/allocs:bytes",
	"/gc/heap/objects:objects",
	"/gc/heap/goal:bytes",
	"/memory/classes/total:bytes",
	"/memory/classes/heap/objects:bytes",
	"/memory/classes/heap/unused:bytes",
	"/memory/classes/heap/released:bytes",
	"/memory/classes/heap/free:bytes",
	"/memory/classes/heap/stacks:bytes",
	"/memory/classes/os-stacks:bytes",
	"/memory/classes/metadata/mspan/inuse:bytes",
	"/memory/classes/metadata/mspan/free:bytes",
	"/memory/classes/metadata/mcache/inuse:bytes",
	"/memory/classes/metadata/mcache/free:bytes",
	"/memory/classes/profiling/buckets:bytes",
	"/memory/classes/metadata/other:bytes",
	"/memory/classes/other:bytes",
}

// rtFamily describes one runtime or process family; fill sets its value
// from the scratch of the current scrape.
type rtFamily struct {
	proto constFamily
	fill  func(s *rtScratch, c *constFamily)
	// rebucket maps a runtime/metrics histogram onto proto.bounds.
	rawBounds []float64 // the runtime/metrics bucket boundaries (lower bounds inclusive)
	bounds    []float64 // the reduced boundaries, -Inf removed
}

// rtTable is built once per process: which samples to read and how each
// family is derived from them.
type rtTable struct {
	samples []string
	index   map[string]int
	fams    []rtFamily
	byName  map[string]int // family name → index in fams
}

var (
	rtTableOnce sync.Once
	rtTab       *rtTable
)

func runtimeTable() *rtTable {
	rtTableOnce.Do(func() { rtTab = buildRuntimeTable() })
	return rtTab
}

// rtScratch is what one scrape reads into. It is pooled: concurrent
// scrapes use separate scratch, so no lock is held while encoding.
type rtScratch struct {
	samples []metrics.Sample
	gc      debug.GCStats
	proc    procValues
	fams    []constFamily
}

var rtScratchPool = sync.Pool{New: func() any { return newRTScratch(runtimeTable()) }}

func newRTScratch(t *rtTable) *rtScratch {
	s := &rtScratch{samples: make([]metrics.Sample, len(t.samples)), fams: make([]constFamily, len(t.fams))}
	for i, n := range t.samples {
		s.samples[i].Name = n
	}
	s.gc.PauseQuantiles = make([]time.Duration, 5)
	for i := range t.fams {
		s.fams[i] = t.fams[i].proto
		c := &s.fams[i]
		switch c.kind {
		case constHistogram:
			c.counts = make([]uint64, len(c.bounds))
		case constSummary:
			c.qvalues = make([]float64, len(c.bounds))
		}
	}
	return s
}

// read fills s.fams with the current values.
func (t *rtTable) read(s *rtScratch) {
	metrics.Read(s.samples)
	debug.ReadGCStats(&s.gc)
	readProcess(&s.proc)
	for i := range t.fams {
		c := &s.fams[i]
		c.skip = false
		t.fams[i].fill(s, c)
	}
}

// u64 returns a runtime/metrics sample as a uint64 (0 if the running Go
// does not have it).
func (s *rtScratch) u64(i int) uint64 {
	if i < 0 || s.samples[i].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s.samples[i].Value.Uint64()
}

func (s *rtScratch) scalar(i int) float64 {
	switch v := s.samples[i].Value; v.Kind() {
	case metrics.KindUint64:
		return float64(v.Uint64())
	case metrics.KindFloat64:
		return v.Float64()
	}
	return math.NaN()
}

func buildRuntimeTable() *rtTable {
	t := &rtTable{index: make(map[string]int), byName: make(map[string]int)}
	descs := make(map[string]metrics.Description)
	for _, d := range metrics.All() {
		descs[d.Name] = d
	}
	addSample := func(name string) int {
		if _, ok := descs[name]; !ok {
			return -1 // not in this Go release
		}
		if i, ok := t.index[name]; ok {
			return i
		}
		t.samples = append(t.samples, name)
		t.index[name] = len(t.samples) - 1
		return len(t.samples) - 1
	}
	add := func(f rtFamily) { t.fams = append(t.fams, f) }

	// The base metrics, as client_golang's Go collector writes them.
	add(rtFamily{proto: constFamily{name: "go_goroutines", help: "Number of goroutines that currently exist.", kind: constGauge},
		fill: func(_ *rtScratch, c *constFamily) { c.value = float64(runtime.NumGoroutine()) }})
	add(rtFamily{proto: constFamily{name: "go_threads", help: "Number of OS threads created.", kind: constGauge},
		fill: func(_ *rtScratch, c *constFamily) {
			n, _ := runtime.ThreadCreateProfile(nil)
			c.value = float64(n)
		}})
	add(rtFamily{proto: constFamily{name: "go_gc_duration_seconds", help: "A summary of the wall-time pause (stop-the-world) duration in garbage collection cycles.",
		kind: constSummary, bounds: []float64{0, 0.25, 0.5, 0.75, 1}},
		fill: func(s *rtScratch, c *constFamily) {
			c.count = uint64(s.gc.NumGC)
			c.sum = s.gc.PauseTotal.Seconds()
			for i, q := range s.gc.PauseQuantiles {
				c.qvalues[i] = q.Seconds()
			}
		}})
	add(rtFamily{proto: constFamily{name: "go_memstats_last_gc_time_seconds", help: "Number of seconds since 1970 of last garbage collection.", kind: constGauge},
		fill: func(s *rtScratch, c *constFamily) { c.value = float64(s.gc.LastGC.UnixNano()) / 1e9 }})
	v := runtime.Version()
	add(rtFamily{proto: constFamily{name: "go_info", help: "Information about the Go environment.", kind: constGauge,
		labelName: "version", labelValue: v, labelText: `version="` + string(appendLabelValue(nil, v)) + `"`},
		fill: func(_ *rtScratch, c *constFamily) { c.value = 1 }})

	// The memstats-style families, from runtime/metrics.
	ms := make(map[string]int, len(memstatNames))
	for _, n := range memstatNames {
		ms[n] = addSample(n)
	}
	sum := func(names ...string) func(s *rtScratch, c *constFamily) {
		idx := make([]int, len(names))
		for i, n := range names {
			idx[i] = ms[n]
		}
		return func(s *rtScratch, c *constFamily) {
			var v uint64
			for _, i := range idx {
				v += s.u64(i)
			}
			c.value = float64(v)
		}
	}
	for _, m := range memstatFamilies {
		kind := constGauge
		if m.counter {
			kind = constCounter
		}
		add(rtFamily{proto: constFamily{name: "go_memstats_" + m.name, help: m.help, kind: kind}, fill: sum(m.sources...)})
	}

	// Families named after their runtime/metrics name.
	for _, n := range runtimeMetricNames {
		d, ok := descs[n]
		if !ok {
			continue
		}
		name, help, unit, ok := runtimeMetricToProm(d)
		if !ok {
			continue
		}
		i := addSample(n)
		f := rtFamily{proto: constFamily{name: name, help: help, unit: unit}}
		switch {
		case d.Kind == metrics.KindFloat64Histogram:
			f.proto.kind = constHistogram
			var probe [1]metrics.Sample
			probe[0].Name = n
			metrics.Read(probe[:])
			f.rawBounds = slices.Clone(probe[0].Value.Float64Histogram().Buckets)
			f.bounds = rebucket(f.rawBounds, unit)
			f.proto.bounds = upperBounds(f.bounds)
			rawB, b := f.rawBounds, f.bounds
			f.fill = func(s *rtScratch, c *constFamily) { fillHistogram(c, s.samples[i].Value.Float64Histogram(), rawB, b) }
		case d.Cumulative:
			f.proto.kind = constCounter
			f.fill = func(s *rtScratch, c *constFamily) { c.value = s.scalar(i) }
		default:
			f.proto.kind = constGauge
			f.fill = func(s *rtScratch, c *constFamily) { c.value = s.scalar(i) }
		}
		add(f)
	}

	for _, f := range processFamilies() {
		add(f)
	}
	slices.SortFunc(t.fams, func(a, b rtFamily) int { return strings.Compare(a.proto.name, b.proto.name) })
	for i := range t.fams {
		p := &t.fams[i].proto
		if p.kind == constHistogram || p.kind == constSummary {
			p.renderBounds()
		}
		t.byName[p.name] = i
	}
	return t
}

// memstatFamilies are client_golang's go_memstats_* families computed from
// runtime/metrics (the MemStats fields client_golang fills from them).
var memstatFamilies = []struct {
	name, help string
	counter    bool
	sources    []string
}{
	{"alloc_bytes", "Number of bytes allocated in heap and currently in use. Equals to /memory/classes/heap/objects:bytes.", false,
		[]string{"/memory/classes/heap/objects:bytes"}},
	{"alloc_bytes_total", "Total number of bytes allocated in heap until now, even if released already. Equals to /gc/heap/allocs:bytes.", true,
		[]string{"/gc/heap/allocs:bytes"}},
	{"sys_bytes", "Number of bytes obtained from system. Equals to /memory/classes/total:byte.", false,
		[]string{"/memory/classes/total:bytes"}},
	{"mallocs_total", "Total number of heap objects allocated, both live and gc-ed. Semantically a counter version for go_memstats_heap_objects gauge. Equals to /gc/heap/allocs:objects + /gc/heap/tiny/allocs:objects.", true,
		[]string{"/gc/heap/allocs:objects", "/gc/heap/tiny/allocs:objects"}},
	{"frees_total", "Total number of heap objects frees. Equals to /gc/heap/frees:objects + /gc/heap/tiny/allocs:objects.", true,
		[]string{"/gc/heap/frees:objects", "/gc/heap/tiny/allocs:objects"}},
	{"heap_alloc_bytes", "Number of heap bytes allocated and currently in use, same as go_memstats_alloc_bytes. Equals to /memory/classes/heap/objects:bytes.", false,
		[]string{"/memory/classes/heap/objects:bytes"}},
	{"heap_sys_bytes", "Number of heap bytes obtained from system. Equals to /memory/classes/heap/objects:bytes + /memory/classes/heap/unused:bytes + /memory/classes/heap/released:bytes + /memory/classes/heap/free:bytes.", false,
		[]string{"/memory/classes/heap/objects:bytes", "/memory/classes/heap/unused:bytes", "/memory/classes/heap/released:bytes", "/memory/classes/heap/free:bytes"}},
	{"heap_idle_bytes", "Number of heap bytes waiting to be used. Equals to /memory/classes/heap/released:bytes + /memory/classes/heap/free:bytes.", false,
		[]string{"/memory/classes/heap/released:bytes", "/memory/classes/heap/free:bytes"}},
	{"heap_inuse_bytes", "Number of heap bytes that are in use. Equals to /memory/classes/heap/objects:bytes + /memory/classes/heap/unused:bytes", false,
		[]string{"/memory/classes/heap/objects:bytes", "/memory/classes/heap/unused:bytes"}},
	{"heap_released_bytes", "Number of heap bytes released to OS. Equals to /memory/classes/heap/released:bytes.", false,
		[]string{"/memory/classes/heap/released:bytes"}},
	{"heap_objects", "Number of currently allocated objects. Equals to /gc/heap/objects:objects.", false,
		[]string{"/gc/heap/objects:objects"}},
	{"stack_inuse_bytes", "Number of bytes obtained from system for stack allocator in non-CGO environments. Equals to /memory/classes/heap/stacks:bytes.", false,
		[]string{"/memory/classes/heap/stacks:bytes"}},
	{"stack_sys_bytes", "Number of bytes obtained from system for stack allocator. Equals to /memory/classes/heap/stacks:bytes + /memory/classes/os-stacks:bytes.", false,
		[]string{"/memory/classes/heap/stacks:bytes", "/memory/classes/os-stacks:bytes"}},
	{"mspan_inuse_bytes", "Number of bytes in use by mspan structures. Equals to /memory/classes/metadata/mspan/inuse:bytes.", false,
		[]string{"/memory/classes/metadata/mspan/inuse:bytes"}},
	{"mspan_sys_bytes", "Number of bytes used for mspan structures obtained from system. Equals to /memory/classes/metadata/mspan/inuse:bytes + /memory/classes/metadata/mspan/free:bytes.", false,
		[]string{"/memory/classes/metadata/mspan/inuse:bytes", "/memory/classes/metadata/mspan/free:bytes"}},
	{"mcache_inuse_bytes", "Number of bytes in use by mcache structures. Equals to /memory/classes/metadata/mcache/inuse:bytes.", false,
		[]string{"/memory/classes/metadata/mcache/inuse:bytes"}},
	{"mcache_sys_bytes", "Number of bytes used for mcache structures obtained from system. Equals to /memory/classes/metadata/mcache/inuse:bytes + /memory/classes/metadata/mcache/free:bytes.", false,
		[]string{"/memory/classes/metadata/mcache/inuse:bytes", "/memory/classes/metadata/mcache/free:bytes"}},
	{"buck_hash_sys_bytes", "Number of bytes used by the profiling bucket hash table. Equals to /memory/classes/profiling/buckets:bytes.", false,
		[]string{"/memory/classes/profiling/buckets:bytes"}},
	{"gc_sys_bytes", "Number of bytes used for garbage collection system metadata. Equals to /memory/classes/metadata/other:bytes.", false,
		[]string{"/memory/classes/metadata/other:bytes"}},
	{"other_sys_bytes", "Number of bytes used for other system allocations. Equals to /memory/classes/other:bytes.", false,
		[]string{"/memory/classes/other:bytes"}},
	{"next_gc_bytes", "Number of heap bytes when next garbage collection will take place. Equals to /gc/heap/goal:bytes.", false,
		[]string{"/gc/heap/goal:bytes"}},
}

// runtimeMetricToProm names a runtime/metrics metric as client_golang does:
// go_ + the path with / and - turned into _ + _ + the unit (with / spelled
// _per_) + _total for cumulative scalars. The HELP is the runtime's
// description and its source; the unit is the name's unit.
func runtimeMetricToProm(d metrics.Description) (name, help, unit string, ok bool) {
	key, u, found := strings.Cut(d.Name, ":")
	if !found || !strings.HasPrefix(key, "/") {
		return "", "", "", false
	}
	r := strings.NewReplacer("-", "_", "*", "_", "/", "_per_")
	unit = r.Replace(u)
	slash := strings.LastIndexByte(key, '/')
	if slash == 0 {
		return "", "", "", false // no subsystem: client_golang's name would be invalid
	}
	base := key[slash+1:]
	sub := strings.NewReplacer("/", "_", "-", "_").Replace(key[1:slash])
	name = "go_" + sub + "_" + strings.ReplaceAll(base, "-", "_") + "_" + unit
	if d.Cumulative && d.Kind != metrics.KindFloat64Histogram {
		name += "_total"
	}
	switch d.Kind {
	case metrics.KindUint64, metrics.KindFloat64, metrics.KindFloat64Histogram:
	default:
		return "", "", "", false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c == '_' || c == ':' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			return "", "", "", false
		}
	}
	return name, d.Description + " Sourced from " + d.Name + ".", unit, true
}

// rebucket reduces runtime/metrics bucket boundaries as client_golang does:
// powers of 2 apart for bytes, powers of 10 apart for seconds with
// everything above 1s merged into +Inf. A leading -Inf is dropped.
func rebucket(b []float64, unit string) []float64 {
	switch unit {
	case "bytes":
		b = rebucketExp(b, 2)
	case "seconds":
		b = rebucketExp(b, 10)
		for i := range b {
			if b[i] > 1 {
				b[i] = math.Inf(1)
				b = b[:i+1]
				break
			}
		}
	default:
		b = slices.Clone(b)
	}
	if len(b) > 0 && math.IsInf(b[0], -1) {
		b = b[1:]
	}
	return b
}

// rebucketExp keeps the boundaries at least a factor base apart (for
// negative boundaries, a factor base closer to zero), the first and the
// last always included.
func rebucketExp(b []float64, base float64) []float64 {
	var out []float64
	if math.IsInf(b[0], -1) {
		out = append(out, b[0])
		b = b[1:]
	}
	cur := b[0]
	for i := 1; i < len(b); i++ {
		if cur >= 0 && b[i] < cur*base || cur < 0 && b[i] < cur/base {
			continue
		}
		out = append(out, cur)
		cur = b[i]
	}
	return append(out, cur)
}

// upperBounds returns the inclusive upper bounds of reduced boundaries:
// the float just below each boundary (runtime/metrics upper bounds are
// exclusive), +Inf left out.
func upperBounds(b []float64) []float64 {
	var out []float64
	for i := 1; i < len(b); i++ {
		if math.IsInf(b[i], 1) {
			break
		}
		out = append(out, math.Nextafter(b[i], b[i-1]))
	}
	return out
}

// fillHistogram folds a runtime/metrics histogram into c's reduced buckets.
// The sum is estimated from the buckets' lower bounds, as client_golang
// does (runtime/metrics keeps no exact sum for these histograms).
func fillHistogram(c *constFamily, h *metrics.Float64Histogram, raw, bounds []float64) {
	if h == nil || len(h.Buckets) != len(raw) {
		c.skip = true
		return
	}
	var (
		j     int
		cur   uint64 // count of reduced bucket j
		total uint64
		sum   float64
	)
	// Reduced bucket j spans bounds[j] to bounds[j+1]; raw bucket i ends
	// at raw[i+1]. A leading -Inf raw bucket falls into bucket 0.
	closeBucket := func() {
		total += cur
		if cur != 0 {
			sum += bounds[j] * float64(cur)
		}
		if j < len(c.counts) {
			c.counts[j] = total
		}
		cur = 0
		j++
	}
	for i, n := range h.Counts {
		cur += n
		if j+1 < len(bounds) && raw[i+1] == bounds[j+1] {
			closeBucket()
		}
	}
	if cur != 0 && j < len(bounds) {
		closeBucket()
	}
	for ; j < len(c.counts); j++ {
		c.counts[j] = total
	}
	c.count = total
	c.sum = sum
}
