package top

import (
	"encoding/json"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/bizra/vitals/stream/client"
)

// Topics are the series vitals top subscribes to: only what it shows,
// so a stream over a slow SSH link carries a few dozen series per
// operation, pool, cache and breaker rather than whole groups. The alerts
// group brings the alert list.
var Topics = []string{
	"vitals_operation_duration_seconds",
	"vitals_operation_errors_total",
	"vitals_db_pool_connections",
	"vitals_db_pool_max_open_connections",
	"vitals_db_pool_waiters",
	"vitals_db_pool_wait_duration_seconds",
	"vitals_db_pool_acquires_total",
	"vitals_cache_hits_total",
	"vitals_cache_misses_total",
	"vitals_cache_errors_total",
	"vitals_breaker_state",
	"vitals_breaker_calls_total",
	"vitals_breaker_failure_rate",
	"vitals_breaker_transitions_total",
	"alerts",
}

// Op is one operation's row. NaN means not known yet (a rate needs two
// reads; quantiles need observations in the last interval).
type Op struct {
	Name                 string
	Rate, P50, P99, Errs float64 // per second; seconds; errors per second
}

// ErrRatio returns errors over calls in the last interval.
func (o Op) ErrRatio() float64 {
	if o.Rate > 0 {
		return o.Errs / o.Rate
	}
	return math.NaN()
}

// Pool is one database pool's row.
type Pool struct {
	Name                        string
	InUse, Idle, Max, Waiters   float64 // Max 0: unlimited
	WaitP99, Acquires, AcqFails float64 // seconds; per second (fails: errors and timeouts)
}

// Tier is one cache tier's row; Tier "all" is the cache end to end (a
// lookup answered by any tier is a hit).
type Tier struct {
	Cache, Tier          string
	Hits, Misses, Errors float64 // per second
}

// HitRatio returns hits over lookups in the last interval.
func (t Tier) HitRatio() float64 {
	if n := t.Hits + t.Misses; n > 0 {
		return t.Hits / n
	}
	return math.NaN()
}

// Breaker is one circuit breaker's row.
type Breaker struct {
	Name        string
	State       string  // closed, open, half_open; "" unknown
	Calls       float64 // per second, rejected ones included
	Rejected    float64 // per second
	FailRate    float64 // 0..1 over the breaker's window
	Transitions float64 // since the service started
}

// Alert is a pending or firing alert, as the stream's alerts list has it.
type Alert struct {
	Name     string            `json:"name"`
	State    string            `json:"state"`
	Severity string            `json:"severity"`
	Labels   map[string]string `json:"labels"`
	Summary  string            `json:"summary"`
	Value    float64           `json:"value"`
	Since    time.Time         `json:"since"`
}

// Snapshot is everything one screen shows, built from a stream's state.
type Snapshot struct {
	Time     time.Time // when the values were read; zero before the first frame
	Ops      []Op
	Pools    []Pool
	Caches   []Tier
	Breakers []Breaker
	Alerts   []Alert
}

// DecodeAlerts decodes a message's alerts list.
func DecodeAlerts(raw json.RawMessage) ([]Alert, error) {
	var as []Alert
	if err := json.Unmarshal(raw, &as); err != nil {
		return nil, err
	}
	return as, nil
}

// Build turns a stream's state and alert list into rows, each section
// sorted by name.
func Build(st *client.State, alerts []Alert, at time.Time) Snapshot {
	nan := math.NaN()
	ops := map[string]*Op{}
	op := func(n string) *Op {
		if ops[n] == nil {
			ops[n] = &Op{Name: n, Rate: nan, P50: nan, P99: nan, Errs: nan}
		}
		return ops[n]
	}
	pools := map[string]*Pool{}
	pool := func(n string) *Pool {
		if pools[n] == nil {
			pools[n] = &Pool{Name: n, InUse: nan, Idle: nan, Max: nan, Waiters: nan, WaitP99: nan, Acquires: nan, AcqFails: nan}
		}
		return pools[n]
	}
	tiers := map[[2]string]*Tier{}
	tier := func(c, t string) *Tier {
		k := [2]string{c, t}
		if tiers[k] == nil {
			tiers[k] = &Tier{Cache: c, Tier: t, Hits: nan, Misses: nan, Errors: nan}
		}
		return tiers[k]
	}
	brs := map[string]*Breaker{}
	br := func(n string) *Breaker {
		if brs[n] == nil {
			brs[n] = &Breaker{Name: n, Calls: nan, Rejected: nan, FailRate: nan, Transitions: nan}
		}
		return brs[n]
	}
	for _, s := range st.Series {
		l := s.Labels
		switch s.Name {
		case "vitals_operation_duration_seconds":
			o := op(l["operation"])
			o.Rate, o.P50, o.P99 = val(s.Rate), val(s.P50), val(s.P99)
			if !math.IsNaN(o.Rate) && o.Rate == 0 {
				o.P50, o.P99 = nan, nan
			}
		case "vitals_operation_errors_total":
			op(l["operation"]).Errs = val(s.Rate)
		case "vitals_db_pool_connections":
			p := pool(l["pool"])
			switch l["state"] {
			case "in_use":
				p.InUse = val(s.Value)
			case "idle":
				p.Idle = val(s.Value)
			}
		case "vitals_db_pool_max_open_connections":
			pool(l["pool"]).Max = val(s.Value)
		case "vitals_db_pool_waiters":
			pool(l["pool"]).Waiters = val(s.Value)
		case "vitals_db_pool_wait_duration_seconds":
			pool(l["pool"]).WaitP99 = val(s.P99)
		case "vitals_db_pool_acquires_total":
			p := pool(l["pool"])
			p.Acquires = add(p.Acquires, val(s.Rate))
			if r := l["result"]; r == "error" || r == "timeout" {
				p.AcqFails = add(p.AcqFails, val(s.Rate))
			}
		case "vitals_cache_hits_total":
			t := tier(l["cache"], l["tier"])
			t.Hits = add(t.Hits, val(s.Rate))
		case "vitals_cache_misses_total":
			t := tier(l["cache"], l["tier"])
			t.Misses = add(t.Misses, val(s.Rate))
		case "vitals_cache_errors_total":
			t := tier(l["cache"], l["tier"])
			t.Errors = add(t.Errors, val(s.Rate))
		case "vitals_breaker_state":
			if v := val(s.Value); v == 1 {
				br(l["breaker"]).State = l["state"]
			} else {
				br(l["breaker"])
			}
		case "vitals_breaker_calls_total":
			b := br(l["breaker"])
			b.Calls = add(b.Calls, val(s.Rate))
			if l["outcome"] == "rejected" {
				b.Rejected = add(b.Rejected, val(s.Rate))
			}
		case "vitals_breaker_failure_rate":
			br(l["breaker"]).FailRate = val(s.Value)
		case "vitals_breaker_transitions_total":
			b := br(l["breaker"])
			b.Transitions = add(b.Transitions, val(s.Value))
		}
	}
	snap := Snapshot{Time: at}
	for _, o := range ops {
		snap.Ops = append(snap.Ops, *o)
	}
	sort.Slice(snap.Ops, func(i, j int) bool { return snap.Ops[i].Name < snap.Ops[j].Name })
	for _, p := range pools {
		snap.Pools = append(snap.Pools, *p)
	}
	sort.Slice(snap.Pools, func(i, j int) bool { return snap.Pools[i].Name < snap.Pools[j].Name })
	// End to end: every lookup starts at the first tier, so its hits and
	// misses count the lookups; a hit in any tier is a hit.
	all := map[string]*Tier{}
	ntiers := map[string]int{}
	for _, t := range tiers {
		ntiers[t.Cache]++
		snap.Caches = append(snap.Caches, *t)
		e := all[t.Cache]
		if e == nil {
			e = &Tier{Cache: t.Cache, Tier: "all", Hits: nan, Misses: nan, Errors: nan}
			all[t.Cache] = e
		}
		e.Hits, e.Errors = add(e.Hits, t.Hits), add(e.Errors, t.Errors)
	}
	for _, e := range all {
		if first := tiers[[2]string{e.Cache, "l1"}]; first != nil && ntiers[e.Cache] > 1 {
			// Lookups are the first tier's hits and misses; misses end to
			// end are those the origin answered.
			e.Misses = max(add(first.Hits, first.Misses)-e.Hits, 0)
			snap.Caches = append(snap.Caches, *e)
		}
	}
	sort.Slice(snap.Caches, func(i, j int) bool {
		a, b := snap.Caches[i], snap.Caches[j]
		if a.Cache != b.Cache {
			return a.Cache < b.Cache
		}
		// Tiers in order (l1, l2, ...), the end-to-end row last.
		if (a.Tier == "all") != (b.Tier == "all") {
			return b.Tier == "all"
		}
		return a.Tier < b.Tier
	})
	for _, b := range brs {
		snap.Breakers = append(snap.Breakers, *b)
	}
	sort.Slice(snap.Breakers, func(i, j int) bool { return snap.Breakers[i].Name < snap.Breakers[j].Name })
	snap.Alerts = append([]Alert(nil), alerts...)
	sort.SliceStable(snap.Alerts, func(i, j int) bool {
		a, b := snap.Alerts[i], snap.Alerts[j]
		if (a.State == "firing") != (b.State == "firing") {
			return a.State == "firing"
		}
		if !a.Since.Equal(b.Since) {
			return a.Since.Before(b.Since)
		}
		return a.Name < b.Name
	})
	return snap
}

func val(p *float64) float64 {
	if p == nil {
		return math.NaN()
	}
	return *p
}

// add sums rates where an unknown one (NaN) counts as nothing, and the
// sum is unknown only when every term is.
func add(a, b float64) float64 {
	switch {
	case math.IsNaN(a):
		return b
	case math.IsNaN(b):
		return a
	}
	return a + b
}

// SortKey orders the operations.
type SortKey uint8

// The sort keys.
const (
	ByRate SortKey = iota
	ByP99
	ByErrors
	ByName
)

func (k SortKey) String() string {
	return [...]string{"rate", "p99", "errors", "name"}[k]
}

// sortOps orders ops by k: rate, p99 and errors highest first (unknown
// last), name A to Z; reverse flips that. Ties go by name.
func sortOps(ops []Op, k SortKey, reverse bool) {
	key := func(o Op) float64 {
		switch k {
		case ByRate:
			return o.Rate
		case ByP99:
			return o.P99
		case ByErrors:
			return o.Errs
		}
		return 0
	}
	sort.SliceStable(ops, func(i, j int) bool {
		a, b := ops[i], ops[j]
		if k != ByName {
			x, y := key(a), key(b)
			switch {
			case math.IsNaN(x) != math.IsNaN(y):
				return math.IsNaN(y) // unknown last, either way
			case x != y && !math.IsNaN(x):
				return (x > y) != reverse
			}
		}
		if a.Name != b.Name {
			return (a.Name < b.Name) != (reverse && k == ByName)
		}
		return false
	})
}

// match reports whether name contains filter, ignoring case.
func match(name, filter string) bool {
	return filter == "" || strings.Contains(strings.ToLower(name), strings.ToLower(filter))
}
