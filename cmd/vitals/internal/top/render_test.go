package top

import (
	"flag"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/bizra/vitals/stream/client"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func f(v float64) *float64 { return &v }
func u(v uint64) *uint64   { return &v }

// fixture is a stream state as a service with three operations, one pool,
// a two-tier cache, two breakers and two alerts would send it.
func fixture() (Snapshot, View) {
	at := time.Date(2026, 12, 1, 3, 14, 15, 0, time.UTC)
	hist := func(id uint32, name string, labels map[string]string, rate, p50, p99 float64) client.Series {
		s := client.Series{ID: id, Name: name, Kind: "histogram", Labels: labels, Count: u(1000), Rate: f(rate)}
		if rate > 0 {
			s.P50, s.P99 = f(p50), f(p99)
		}
		return s
	}
	ctr := func(id uint32, name string, labels map[string]string, value, rate float64) client.Series {
		return client.Series{ID: id, Name: name, Kind: "counter", Labels: labels, Value: f(value), Rate: f(rate)}
	}
	gauge := func(id uint32, name string, labels map[string]string, value float64) client.Series {
		return client.Series{ID: id, Name: name, Kind: "gauge", Labels: labels, Value: f(value)}
	}
	l := func(kv ...string) map[string]string {
		m := map[string]string{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	series := []client.Series{
		hist(1, "vitals_operation_duration_seconds", l("operation", "checkout"), 41.9, 0.0181, 0.0613),
		ctr(2, "vitals_operation_errors_total", l("operation", "checkout"), 120, 0.8),
		hist(3, "vitals_operation_duration_seconds", l("operation", "search"), 1234.5, 0.00042, 0.0031),
		ctr(4, "vitals_operation_errors_total", l("operation", "search"), 0, 0),
		hist(5, "vitals_operation_duration_seconds", l("operation", "cart.add"), 0, 0, 0),
		ctr(6, "vitals_operation_errors_total", l("operation", "cart.add"), 0, 0),
		hist(7, "vitals_operation_duration_seconds", l("operation", "GET /api/v1/products/{id}/reviews/summary/with/a/very/long/pattern"), 12.25, 0.150, 2.5),
		gauge(10, "vitals_db_pool_connections", l("pool", "orders", "state", "in_use"), 3),
		gauge(11, "vitals_db_pool_connections", l("pool", "orders", "state", "idle"), 7),
		gauge(12, "vitals_db_pool_max_open_connections", l("pool", "orders"), 10),
		gauge(13, "vitals_db_pool_waiters", l("pool", "orders"), 0),
		hist(14, "vitals_db_pool_wait_duration_seconds", l("pool", "orders"), 40, 0.00001, 0.0012),
		ctr(15, "vitals_db_pool_acquires_total", l("pool", "orders", "result", "ok"), 5000, 40),
		ctr(16, "vitals_db_pool_acquires_total", l("pool", "orders", "result", "timeout"), 2, 0.1),
		ctr(17, "vitals_db_pool_acquires_total", l("pool", "orders", "result", "canceled"), 2, 0.2),
		ctr(20, "vitals_cache_hits_total", l("cache", "catalog", "tier", "l1"), 9000, 310.2),
		ctr(21, "vitals_cache_misses_total", l("cache", "catalog", "tier", "l1"), 900, 26.5),
		ctr(22, "vitals_cache_hits_total", l("cache", "catalog", "tier", "l2"), 800, 20),
		ctr(23, "vitals_cache_misses_total", l("cache", "catalog", "tier", "l2"), 100, 6.5),
		ctr(24, "vitals_cache_errors_total", l("cache", "catalog", "tier", "l2"), 1, 0),
		ctr(25, "vitals_cache_hits_total", l("cache", "sessions", "tier", "l1"), 10, 1),
		ctr(26, "vitals_cache_misses_total", l("cache", "sessions", "tier", "l1"), 10, 3),
		gauge(30, "vitals_breaker_state", l("breaker", "payments", "state", "closed"), 0),
		gauge(31, "vitals_breaker_state", l("breaker", "payments", "state", "open"), 1),
		gauge(32, "vitals_breaker_failure_rate", l("breaker", "payments"), 0.62),
		ctr(33, "vitals_breaker_calls_total", l("breaker", "payments", "outcome", "success"), 100, 0),
		ctr(34, "vitals_breaker_calls_total", l("breaker", "payments", "outcome", "rejected"), 50, 14.5),
		ctr(35, "vitals_breaker_transitions_total", l("breaker", "payments", "from", "closed", "to", "open"), 3, 0),
		ctr(36, "vitals_breaker_transitions_total", l("breaker", "payments", "from", "open", "to", "half_open"), 2, 0),
		gauge(37, "vitals_breaker_state", l("breaker", "inventory", "state", "closed"), 1),
		gauge(38, "vitals_breaker_failure_rate", l("breaker", "inventory"), 0),
		ctr(39, "vitals_breaker_calls_total", l("breaker", "inventory", "outcome", "success"), 100, 25),
	}
	var st client.State
	st.Apply(&client.Message{Type: "full", Stream: 1, Seq: 1, Series: series})
	alerts := []Alert{
		{Name: "PoolWaits", State: "pending", Severity: "ticket", Summary: "orders pool waits rising", Since: at.Add(-40 * time.Second)},
		{Name: "BreakerOpen", State: "firing", Severity: "page", Summary: "payments breaker open", Since: at.Add(-3*time.Minute - 12*time.Second)},
	}
	return Build(&st, alerts, at), View{Target: "http://127.0.0.1:9911", Transport: "ws", Interval: time.Second}
}

func TestRenderGolden(t *testing.T) {
	snap, base := fixture()
	many := snap
	many.Ops = append([]Op(nil), snap.Ops...)
	for i := range 30 {
		many.Ops = append(many.Ops, Op{Name: "op" + string(rune('a'+i%26)) + strings.Repeat("x", i%5), Rate: float64(i), P50: 0.001, P99: 0.002 * float64(i), Errs: 0})
	}
	cases := []struct {
		name          string
		snap          Snapshot
		view          func(View) View
		width, height int
	}{
		{"80x24", snap, func(v View) View { return v }, 80, 24},
		{"80x24-p99", snap, func(v View) View { v.Sort = ByP99; return v }, 80, 24},
		{"80x24-name-reverse", snap, func(v View) View { v.Sort, v.Reverse = ByName, true; return v }, 80, 24},
		{"80x24-filter", snap, func(v View) View { v.Filter = "CAT"; return v }, 80, 24},
		{"80x24-editing", snap, func(v View) View { v.Filter, v.Editing = "zz", true; return v }, 80, 24},
		{"80x24-many", many, func(v View) View { return v }, 80, 24},
		{"80x24-waiting", Snapshot{}, func(v View) View { return v }, 80, 24},
		{"80x24-disconnected", snap, func(v View) View {
			v.Status = "disconnected (server going away), retrying in 1s"
			return v
		}, 80, 24},
		{"80x10", snap, func(v View) View { return v }, 80, 10},
		{"40x24", snap, func(v View) View { return v }, 40, 24},
		{"120x30", snap, func(v View) View { return v }, 120, 30},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			lines := Render(tc.snap, tc.view(base), tc.width, tc.height)
			if len(lines) != tc.height {
				t.Errorf("%d lines, want %d", len(lines), tc.height)
			}
			var b strings.Builder
			for i, l := range lines {
				if w := textWidth(l.Text); w > tc.width {
					t.Errorf("line %d is %d cells wide: %q", i, w, l.Text)
				}
				b.WriteString(strings.TrimRight(l.Text, " "))
				b.WriteByte('\n')
			}
			golden := filepath.Join("testdata", tc.name+".golden")
			if *update {
				if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to write it)", err)
			}
			if b.String() != string(want) {
				t.Errorf("%s differs (-update rewrites it):\n--- got\n%s--- want\n%s", golden, b.String(), want)
			}
		})
	}
}

func TestBuild(t *testing.T) {
	snap, _ := fixture()
	if len(snap.Ops) != 4 || snap.Ops[0].Name != "GET /api/v1/products/{id}/reviews/summary/with/a/very/long/pattern" || snap.Ops[1].Name != "cart.add" {
		t.Fatalf("ops %+v", snap.Ops)
	}
	if o := snap.Ops[1]; o.Rate != 0 || !math.IsNaN(o.P99) {
		t.Errorf("an idle operation has a p99: %+v", o)
	}
	p := snap.Pools[0]
	if p.InUse != 3 || p.Idle != 7 || p.Max != 10 || math.Abs(p.Acquires-40.3) > 1e-9 || p.AcqFails != 0.1 || p.WaitP99 != 0.0012 {
		t.Errorf("pool %+v", p)
	}
	// catalog l1, l2, all; sessions (one tier: no end-to-end row).
	if len(snap.Caches) != 4 || snap.Caches[2].Tier != "all" || math.Abs(snap.Caches[2].HitRatio()-330.2/336.7) > 1e-9 ||
		snap.Caches[2].Misses != 6.5 || snap.Caches[3].Cache != "sessions" {
		t.Errorf("caches %+v", snap.Caches)
	}
	if b := snap.Breakers[1]; b.Name != "payments" || b.State != "open" || b.Transitions != 5 || b.Rejected != 14.5 {
		t.Errorf("breaker %+v", b)
	}
	if snap.Alerts[0].Name != "BreakerOpen" {
		t.Errorf("a pending alert comes before a firing one: %+v", snap.Alerts)
	}
}

func TestSort(t *testing.T) {
	nan := math.NaN()
	ops := []Op{{Name: "b", Rate: 1, P99: 3, Errs: nan}, {Name: "a", Rate: nan, P99: nan, Errs: 1}, {Name: "c", Rate: 5, P99: 1, Errs: 0}}
	names := func() string {
		var s []string
		for _, o := range ops {
			s = append(s, o.Name)
		}
		return strings.Join(s, "")
	}
	for _, tc := range []struct {
		k    SortKey
		rev  bool
		want string
	}{{ByRate, false, "cba"}, {ByRate, true, "bca"}, {ByP99, false, "bca"}, {ByErrors, false, "acb"}, {ByName, false, "abc"}, {ByName, true, "cba"}} {
		sortOps(ops, tc.k, tc.rev)
		if got := names(); got != tc.want {
			t.Errorf("%v reverse %v: %s, want %s", tc.k, tc.rev, got, tc.want)
		}
	}
}

func TestHostileNames(t *testing.T) {
	snap := Snapshot{Time: time.Unix(1, 0), Ops: []Op{
		{Name: "evil\x1b]0;owned\x07\x1b[2J", Rate: 1, P50: nan(), P99: nan(), Errs: 0},
		{Name: "宽字符宽字符宽字符宽字符宽字符宽字符宽字符宽字符宽字符宽字符宽字符", Rate: 2, P50: nan(), P99: nan(), Errs: 0},
		{Name: "bad utf8 \xff\xfe", Rate: 3, P50: nan(), P99: nan(), Errs: 0},
	}}
	for _, w := range []int{80, 33, 12, 5, 1} {
		for _, l := range Render(snap, View{Target: "http://h\x1b[31m"}, w, 12) {
			if strings.ContainsAny(l.Text, "\x1b\x07") || !utf8.ValidString(l.Text) {
				t.Errorf("a control character reached the screen: %q", l.Text)
			}
			if tw := textWidth(l.Text); tw > w {
				t.Errorf("width %d: %q is %d cells", w, l.Text, tw)
			}
		}
	}
}

func nan() float64 { return math.NaN() }

func TestFormats(t *testing.T) {
	for in, want := range map[float64]string{0: "0", 0.004: "0", 0.35: "0.35", 41.94: "41.9", 310.2: "310", 12345: "12.3k", 123456: "123k", 2.5e6: "2.5M"} {
		if got := rate(in); got != want {
			t.Errorf("rate(%v) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[float64]string{0.00042: "420us", 0.0031: "3.10ms", 0.0613: "61.3ms", 0.15: "150ms", 2.5: "2.50s", 250: "250s"} {
		if got := dur(in); got != want {
			t.Errorf("dur(%v) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[float64]string{0: "0.0%", 0.0005: "<0.1%", 0.019: "1.9%", 1: "100%"} {
		if got := pct(in); got != want {
			t.Errorf("pct(%v) = %q, want %q", in, got, want)
		}
	}
}
