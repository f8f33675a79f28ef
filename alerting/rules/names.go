package rules

// Metric family names the rules and the dashboard read. They are the names
// the vitals packages register (the root package, cache, dbpool, breaker,
// health, history) and the Go runtime and process families the exposition
// adds. Those packages keep their names as string literals, so this file is
// the one place the alerting module spells them; TestDemoMetricNames in
// cmd/vitals/internal/demo fails when any of them is missing from the demo's
// real /metrics output, and Build refuses an expression that reads a family
// not listed here.
const (
	// Operations (package vitals).
	OperationDuration = "vitals_operation_duration_seconds" // native histogram, label operation
	OperationErrors   = "vitals_operation_errors_total"     // counter, label operation
	OperationsStarted = "vitals_operations_started_total"   // counter, label operation
	OperationsRunning = "vitals_operations_in_flight"       // gauge, label operation

	// Collector (package vitals).
	CollectorTicks        = "vitals_collector_ticks_total"
	CollectorTickDuration = "vitals_collector_tick_duration_seconds" // native histogram
	CollectorLastTick     = "vitals_collector_last_tick_timestamp_seconds"

	// Cache (package cache): labels cache, tier (l1, l2).
	CacheHits          = "vitals_cache_hits_total"
	CacheMisses        = "vitals_cache_misses_total"
	CacheErrors        = "vitals_cache_errors_total"
	CacheEvictions     = "vitals_cache_evictions_total" // label cause
	CacheRawBytes      = "vitals_cache_raw_bytes_total"
	CacheStoredBytes   = "vitals_cache_stored_bytes_total"
	CacheLoads         = "vitals_cache_loads_total"             // label result: success, failure
	CacheLookup        = "vitals_cache_lookup_duration_seconds" // native histogram, label answered_by: l1, l2, origin
	CacheScore         = "vitals_cache_score"
	CacheEntries       = "vitals_cache_entries"
	CacheMemory        = "vitals_cache_memory_bytes"
	CacheLoadDurations = "vitals_cache_load_duration_seconds"

	// Database pool (package dbpool): label pool.
	PoolConnections = "vitals_db_pool_connections" // label state: in_use, idle
	PoolMaxOpen     = "vitals_db_pool_max_open_connections"
	PoolWaiters     = "vitals_db_pool_waiters"
	PoolWait        = "vitals_db_pool_wait_duration_seconds" // native histogram
	PoolAcquires    = "vitals_db_pool_acquires_total"        // label result: ok, timeout, canceled, error
	DBConnErrors    = "vitals_db_connection_errors_total"    // label kind: dial, auth, broken
	DBQueryDuration = "vitals_db_query_duration_seconds"     // native histogram, label operation
	DBQueryErrors   = "vitals_db_query_errors_total"         // label operation
	PoolScore       = "vitals_db_pool_score"

	// Circuit breaker (package breaker): label breaker.
	BreakerState       = "vitals_breaker_state"             // label state: closed, open, half_open
	BreakerTransitions = "vitals_breaker_transitions_total" // labels from, to
	BreakerCalls       = "vitals_breaker_calls_total"       // label outcome: success, failure, rejected, excluded
	BreakerSlowCalls   = "vitals_breaker_slow_calls_total"
	BreakerFailureRate = "vitals_breaker_failure_rate"
	BreakerSlowRate    = "vitals_breaker_slow_call_rate"
	BreakerScore       = "vitals_breaker_score"

	// Health (package health): label component (overall, runtime, slo, and
	// one per scorer the service adds).
	HealthScore = "vitals_health_score"

	// History store (module history).
	HistoryWriteErrors = "vitals_history_write_errors_total"
	HistoryWritable    = "vitals_history_writable"

	// Go runtime and process (added by package exposition).
	Goroutines      = "go_goroutines"
	HeapInuse       = "go_memstats_heap_inuse_bytes"
	HeapAlloc       = "go_memstats_heap_alloc_bytes"
	GCDuration      = "go_gc_duration_seconds" // summary; _sum is stop-the-world pause time
	SchedLatencies  = "go_sched_latencies_seconds"
	GCCPUSeconds    = "go_cpu_classes_gc_total_cpu_seconds_total" // CPU time the GC used, concurrent marking included
	TotalCPUSeconds = "go_cpu_classes_total_cpu_seconds_total"    // CPU time available to the process (GOMAXPROCS × wall time)
	ProcessOpenFDs  = "process_open_fds"
	ProcessMaxFDs   = "process_max_fds"
	ProcessResident = "process_resident_memory_bytes"
	ProcessCPU      = "process_cpu_seconds_total"
)

// Families lists every family name above with the names PromQL selects
// for it (a classic histogram or summary is read through _bucket, _sum
// and _count; a native histogram by its own name). Build accepts a
// selector only for a name listed here or a recording rule defined
// before it.
var Families = []string{
	OperationDuration, OperationErrors, OperationsStarted, OperationsRunning,
	CollectorTicks, CollectorTickDuration, CollectorLastTick,
	CacheHits, CacheMisses, CacheErrors, CacheEvictions, CacheRawBytes, CacheStoredBytes, CacheLoads,
	CacheLookup, CacheScore, CacheEntries, CacheMemory, CacheLoadDurations,
	PoolConnections, PoolMaxOpen, PoolWaiters, PoolWait, PoolAcquires, DBConnErrors, DBQueryDuration,
	DBQueryErrors, PoolScore,
	BreakerState, BreakerTransitions, BreakerCalls, BreakerSlowCalls, BreakerFailureRate, BreakerSlowRate,
	BreakerScore,
	HealthScore, HistoryWriteErrors, HistoryWritable,
	Goroutines, HeapInuse, HeapAlloc, GCDuration, SchedLatencies, GCCPUSeconds, TotalCPUSeconds, ProcessOpenFDs, ProcessMaxFDs,
	ProcessResident, ProcessCPU,
}

// classic lists the families exposed as classic histograms or summaries
// (the Go runtime's), read through their _bucket, _sum and _count series.
var classic = map[string]bool{GCDuration: true, SchedLatencies: true}

// selectable returns the series names PromQL may select for the families.
func selectable() map[string]bool {
	out := make(map[string]bool, len(Families)*2)
	for _, f := range Families {
		out[f] = true
		if classic[f] {
			out[f+"_bucket"], out[f+"_sum"], out[f+"_count"] = true, true, true
		}
	}
	return out
}
