package monitorsapi

import (
	"time"

	"github.com/bizra/vitals/breaker"
	"github.com/bizra/vitals/cache"
	"github.com/bizra/vitals/dbpool"
	"github.com/bizra/vitals/internal/httpx"
	"github.com/bizra/vitals/score"
)

// The JSON documents. Numbers that are unknown (a figure the library does
// not report) or undefined (a ratio over nothing) are null, never 0.

// known is a count for JSON: nil (null) when negative (unknown).
func known(v int64) *int64 {
	if v < 0 {
		return nil
	}
	return &v
}

func secs(d time.Duration) *float64 {
	if d < 0 {
		return nil
	}
	return httpx.Finite(d.Seconds())
}

type latencyJSON struct {
	Count *float64 `json:"count"`
	P50   *float64 `json:"p50"`
	P95   *float64 `json:"p95"`
	P99   *float64 `json:"p99"`
	Max   *float64 `json:"max"`
	Mean  *float64 `json:"mean"`
}

func latency(count, p50, p95, p99, mx, mean float64) latencyJSON {
	return latencyJSON{Count: httpx.Finite(count), P50: httpx.Finite(p50), P95: httpx.Finite(p95), P99: httpx.Finite(p99), Max: httpx.Finite(mx), Mean: httpx.Finite(mean)}
}

// Database.

type poolJSON struct {
	Name       string          `json:"name"`
	Driver     string          `json:"driver,omitempty"`
	Config     poolConfigJSON  `json:"config"`
	Current    poolCurrentJSON `json:"current"`
	Window     poolWindowJSON  `json:"window"`
	Totals     poolTotalsJSON  `json:"totals"`
	Operations []opJSON        `json:"operations"`
	Score      score.Score     `json:"score"`
}

type poolConfigJSON struct {
	MaxOpen            *int64   `json:"max_open"`
	MaxIdle            *int64   `json:"max_idle"`
	MinOpen            *int64   `json:"min_open"`
	MaxLifetimeSeconds *float64 `json:"max_lifetime_seconds"`
	MaxIdleTimeSeconds *float64 `json:"max_idle_time_seconds"`
}

type poolCurrentJSON struct {
	Open         *int64   `json:"open"`
	InUse        *int64   `json:"in_use"`
	Idle         *int64   `json:"idle"`
	Constructing *int64   `json:"constructing"`
	Waiters      int64    `json:"waiters"`
	Saturation   *float64 `json:"saturation"`
}

type kindsJSON struct {
	Dial   float64 `json:"dial"`
	Auth   float64 `json:"auth"`
	Broken float64 `json:"broken"`
}

type acquiresJSON struct {
	OK       float64 `json:"ok"`
	Timeout  float64 `json:"timeout"`
	Canceled float64 `json:"canceled"`
	Error    float64 `json:"error"`
}

type poolWindowJSON struct {
	Seconds          float64      `json:"seconds"`
	Acquires         acquiresJSON `json:"acquires"`
	AcquireRate      *float64     `json:"acquire_rate"`
	WaitSeconds      latencyJSON  `json:"wait_seconds"`
	AvgQueued        *float64     `json:"avg_queued"`
	PeakWaiters      *float64     `json:"peak_waiters"`
	Utilization      *float64     `json:"utilization"`
	ConnectionErrors kindsJSON    `json:"connection_errors"`
	Queries          float64      `json:"queries"`
	QueryErrors      float64      `json:"query_errors"`
	QueryRate        *float64     `json:"query_rate"`
	ErrorRate        *float64     `json:"error_rate"`
}

type closedJSON struct {
	MaxIdle     *int64 `json:"max_idle"`
	MaxIdleTime *int64 `json:"max_idle_time"`
	MaxLifetime *int64 `json:"max_lifetime"`
}

type poolTotalsJSON struct {
	ConnectionErrors  kindsJSON  `json:"connection_errors"`
	DriverWaits       *int64     `json:"driver_waits"`
	DriverWaitSeconds *float64   `json:"driver_wait_seconds"`
	Opened            *int64     `json:"opened"`
	Closed            closedJSON `json:"closed"`
}

type opJSON struct {
	Name           string      `json:"name"`
	Rate           *float64    `json:"rate"`
	Errors         float64     `json:"errors"`
	ErrorRate      *float64    `json:"error_rate"`
	LatencySeconds latencyJSON `json:"latency_seconds"`
}

func poolOf(st dbpool.Stats) poolJSON {
	c, s := st.Config, st.Sample
	maxOpen := c.MaxOpen
	if s.MaxOpen >= 0 {
		maxOpen = s.MaxOpen
	}
	p := poolJSON{
		Name: st.Name, Driver: st.Driver,
		Config: poolConfigJSON{MaxOpen: known(maxOpen), MaxIdle: known(c.MaxIdle), MinOpen: known(c.MinOpen),
			MaxLifetimeSeconds: secs(c.MaxLifetime), MaxIdleTimeSeconds: secs(c.MaxIdleTime)},
		Current: poolCurrentJSON{Open: known(s.Open), InUse: known(s.InUse), Idle: known(s.Idle), Constructing: known(s.Constructing),
			Waiters: st.Waiters, Saturation: httpx.Finite(st.Saturation)},
		Window: poolWindowJSON{Seconds: st.Window.Seconds(),
			Acquires:    acquiresJSON{OK: st.AcquiresOK, Timeout: st.AcquireTimeouts, Canceled: st.AcquiresCanceled, Error: st.AcquireErrors},
			AcquireRate: httpx.Finite(st.AcquireRate),
			WaitSeconds: latency(st.Wait.Count, st.Wait.P50, st.Wait.P95, st.Wait.P99, st.Wait.Max, st.Wait.Mean),
			AvgQueued:   httpx.Finite(st.AvgQueued), PeakWaiters: httpx.Finite(st.PeakWaiters), Utilization: httpx.Finite(st.Utilization),
			ConnectionErrors: kindsJSON{Dial: st.ConnectionErrors[dbpool.Dial], Auth: st.ConnectionErrors[dbpool.Auth],
				Broken: st.ConnectionErrors[dbpool.Broken]},
			Queries: st.Queries, QueryErrors: st.QueryErrors, QueryRate: httpx.Finite(st.QueryRate), ErrorRate: httpx.Finite(st.ErrorRate)},
		Totals: poolTotalsJSON{
			ConnectionErrors: kindsJSON{Dial: float64(st.ConnectionErrorsTotal[dbpool.Dial]), Auth: float64(st.ConnectionErrorsTotal[dbpool.Auth]),
				Broken: float64(st.ConnectionErrorsTotal[dbpool.Broken])},
			DriverWaits: known(s.Waits), DriverWaitSeconds: secs(s.WaitTime), Opened: known(s.Opened),
			Closed: closedJSON{MaxIdle: known(s.ClosedMaxIdle), MaxIdleTime: known(s.ClosedMaxIdleTime), MaxLifetime: known(s.ClosedMaxLifetime)}},
		Operations: []opJSON{},
		Score:      st.Score,
	}
	for _, o := range st.Operations {
		l := o.Latency
		p.Operations = append(p.Operations, opJSON{Name: o.Name, Rate: httpx.Finite(o.Rate), Errors: o.Errors, ErrorRate: httpx.Finite(o.ErrorRate),
			LatencySeconds: latency(l.Count, l.P50, l.P95, l.P99, l.Max, l.Mean)})
	}
	return p
}

// Cache.

type cacheJSON struct {
	Name             string       `json:"name"`
	Tiers            []tierJSON   `json:"tiers"`
	Window           cacheWinJSON `json:"window"`
	LifetimeHitRatio *float64     `json:"lifetime_hit_ratio"`
	Score            score.Score  `json:"score"`
}

type cacheWinJSON struct {
	Seconds            float64                `json:"seconds"`
	Lookups            float64                `json:"lookups"`
	LookupRate         *float64               `json:"lookup_rate"`
	HitRatio           *float64               `json:"hit_ratio"`
	LatencySeconds     map[string]latencyJSON `json:"latency_seconds"`
	Loads              float64                `json:"loads"`
	LoadFailures       float64                `json:"load_failures"`
	LoadLatencySeconds latencyJSON            `json:"load_latency_seconds"`
}

type evictionsJSON struct {
	Size     uint64 `json:"size"`
	Expired  uint64 `json:"expired"`
	Explicit uint64 `json:"explicit"`
	Replaced uint64 `json:"replaced"`
}

type tierWinJSON struct {
	Hits      float64  `json:"hits"`
	Misses    float64  `json:"misses"`
	HitRatio  *float64 `json:"hit_ratio"`
	ErrorRate *float64 `json:"error_rate"`
}

type tierJSON struct {
	Tier             string        `json:"tier"`
	Hits             uint64        `json:"hits"`
	Misses           uint64        `json:"misses"`
	Sets             uint64        `json:"sets"`
	Errors           uint64        `json:"errors"`
	RawBytes         uint64        `json:"raw_bytes"`
	StoredBytes      uint64        `json:"stored_bytes"`
	CompressionRatio *float64      `json:"compression_ratio"`
	Evictions        evictionsJSON `json:"evictions"`
	Entries          *float64      `json:"entries"`
	MemoryBytes      *float64      `json:"memory_bytes"`
	Window           tierWinJSON   `json:"window"`
}

func cacheOf(st cache.Stats) cacheJSON {
	c := cacheJSON{Name: st.Name, LifetimeHitRatio: httpx.Finite(st.LifetimeHitRatio), Score: st.Score, Tiers: []tierJSON{}}
	for i := range st.Tiers {
		t := &st.Tier[i]
		c.Tiers = append(c.Tiers, tierJSON{Tier: t.Tier.String(), Hits: t.Hits, Misses: t.Misses, Sets: t.Sets, Errors: t.Errors,
			RawBytes: t.RawBytes, StoredBytes: t.StoredBytes, CompressionRatio: httpx.Finite(t.CompressionRatio),
			Evictions: evictionsJSON{Size: t.EvictionsBy(cache.CauseSize), Expired: t.EvictionsBy(cache.CauseExpired),
				Explicit: t.EvictionsBy(cache.CauseExplicit), Replaced: t.EvictionsBy(cache.CauseReplaced)},
			Entries: httpx.Finite(t.Entries), MemoryBytes: httpx.Finite(t.MemoryBytes),
			Window: tierWinJSON{Hits: t.WindowHits, Misses: t.WindowMisses, HitRatio: httpx.Finite(t.HitRatio), ErrorRate: httpx.Finite(t.ErrorRate)}})
	}
	lat := map[string]latencyJSON{}
	for _, by := range []cache.Tier{cache.L1, cache.L2, cache.Origin} {
		if by == cache.L2 && st.Tiers < 2 {
			continue
		}
		l := st.Latency[by]
		lat[by.String()] = latency(l.Count, l.P50, l.P95, l.P99, l.Max, l.Mean)
	}
	ll := st.LoadLatency
	c.Window = cacheWinJSON{Seconds: st.Window.Seconds(), Lookups: st.Lookups, LookupRate: httpx.Finite(st.LookupRate), HitRatio: httpx.Finite(st.HitRatio),
		LatencySeconds: lat, Loads: st.Loads, LoadFailures: st.LoadFailures,
		LoadLatencySeconds: latency(ll.Count, ll.P50, ll.P95, ll.P99, ll.Max, ll.Mean)}
	return c
}

// Circuit breaker.

type outcomesJSON struct {
	Success  float64 `json:"success"`
	Failure  float64 `json:"failure"`
	Rejected float64 `json:"rejected"`
	Excluded float64 `json:"excluded"`
}

type transitionJSON struct {
	From  breaker.State `json:"from"`
	To    breaker.State `json:"to"`
	Count uint64        `json:"count"`
}

type eventJSON struct {
	Kind      breaker.EventKind `json:"kind"`
	Time      string            `json:"time"`
	From      *breaker.State    `json:"from,omitempty"`
	To        *breaker.State    `json:"to,omitempty"`
	Observed  *float64          `json:"observed,omitempty"`
	Threshold *float64          `json:"threshold,omitempty"`
}

type breakerWinJSON struct {
	Seconds        float64      `json:"seconds"`
	Calls          outcomesJSON `json:"calls"`
	SlowCalls      float64      `json:"slow_calls"`
	FailureRate    *float64     `json:"failure_rate"`
	SlowCallRate   *float64     `json:"slow_call_rate"`
	LatencySeconds latencyJSON  `json:"latency_seconds"`
}

type thresholdsJSON struct {
	FailureRate         float64 `json:"failure_rate"`
	SlowCallRate        float64 `json:"slow_call_rate"`
	OpenDurationSeconds float64 `json:"open_duration_seconds"`
	SlowCallSeconds     float64 `json:"slow_call_seconds"`
}

type alertsJSON struct {
	FailureRate  bool `json:"failure_rate"`
	SlowCallRate bool `json:"slow_call_rate"`
	OpenDuration bool `json:"open_duration"`
}

type breakerJSON struct {
	Name         string             `json:"name"`
	State        breaker.State      `json:"state"`
	Since        string             `json:"since"`
	StateSeconds map[string]float64 `json:"state_seconds"`
	Transitions  []transitionJSON   `json:"transitions"`
	Calls        outcomesJSON       `json:"calls"`
	SlowCalls    uint64             `json:"slow_calls"`
	Window       breakerWinJSON     `json:"window"`
	Thresholds   thresholdsJSON     `json:"thresholds"`
	Alerts       alertsJSON         `json:"alerts"`
	RecentEvents []eventJSON        `json:"recent_events"`
	Score        score.Score        `json:"score"`
}

func breakerOf(st breaker.Stats) breakerJSON {
	b := breakerJSON{Name: st.Name, State: st.State, Since: st.Since.UTC().Format(time.RFC3339Nano),
		StateSeconds: map[string]float64{}, Transitions: []transitionJSON{}, RecentEvents: []eventJSON{},
		Calls: outcomesJSON{Success: float64(st.Calls[breaker.Success]), Failure: float64(st.Calls[breaker.Failure]),
			Rejected: float64(st.Calls[breaker.Rejected]), Excluded: float64(st.Calls[breaker.Excluded])},
		SlowCalls: st.SlowCalls,
		Window: breakerWinJSON{Seconds: st.Window.Seconds(),
			Calls: outcomesJSON{Success: st.WindowCalls[breaker.Success], Failure: st.WindowCalls[breaker.Failure],
				Rejected: st.WindowCalls[breaker.Rejected], Excluded: st.WindowCalls[breaker.Excluded]},
			SlowCalls: st.WindowSlow, FailureRate: httpx.Finite(st.FailureRate), SlowCallRate: httpx.Finite(st.SlowCallRate),
			LatencySeconds: latency(st.WindowCalls[breaker.Success]+st.WindowCalls[breaker.Failure]+st.WindowCalls[breaker.Excluded],
				st.P50, st.P95, st.P99, st.Max, st.Mean)},
		Thresholds: thresholdsJSON{FailureRate: st.FailureRateThreshold, SlowCallRate: st.SlowCallRateThreshold,
			OpenDurationSeconds: st.OpenDurationThreshold.Seconds(), SlowCallSeconds: st.SlowCall.Seconds()},
		Alerts: alertsJSON{FailureRate: st.FailureRateAlerting, SlowCallRate: st.SlowCallRateAlerting, OpenDuration: st.OpenTooLong},
		Score:  st.Score,
	}
	for _, s := range []breaker.State{breaker.Closed, breaker.HalfOpen, breaker.Open} {
		b.StateSeconds[s.String()] = st.TimeIn[s].Seconds()
		for _, to := range []breaker.State{breaker.Closed, breaker.HalfOpen, breaker.Open} {
			if to != s {
				b.Transitions = append(b.Transitions, transitionJSON{From: s, To: to, Count: st.Transitions[s][to]})
			}
		}
	}
	for _, e := range st.Recent {
		ej := eventJSON{Kind: e.Kind, Time: e.Time.UTC().Format(time.RFC3339Nano)}
		if e.Kind == breaker.EventTransition {
			from, to := e.From, e.To
			ej.From, ej.To = &from, &to
		} else {
			ej.Observed, ej.Threshold = httpx.Finite(e.Observed), httpx.Finite(e.Threshold)
		}
		b.RecentEvents = append(b.RecentEvents, ej)
	}
	return b
}
