package histstore

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/prometheus/storage"

	"github.com/bizra/vitals"
	"github.com/bizra/vitals/alerting/eval"
	"github.com/bizra/vitals/alerting/rules"
	"github.com/bizra/vitals/alerting/store"
	"github.com/bizra/vitals/history"
)

// shippedRule returns one of the shipped rules, in a group of its own.
func shippedRule(t *testing.T, alert string) []rules.Group {
	t.Helper()
	groups, err := rules.Build(nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range groups {
		for _, r := range g.Rules {
			if r.Alert == alert {
				return []rules.Group{{Name: g.Name, Interval: g.Interval, Rules: []rules.Rule{r}}}
			}
		}
	}
	t.Fatalf("no rule %s", alert)
	return nil
}

// TestThroughputDropFires: VitalsOperationThroughputDrop compares the
// last 10 minutes with the same 10 minutes a day earlier. Yesterday an
// operation ran 2 times a second; today, for the last hour, 0.1 times. The
// evaluator reading history fires the alert once the condition has held
// for its 15 minutes; over the ring alone it never does (`offset 1d`
// selects nothing).
func TestThroughputDropFires(t *testing.T) {
	r := newRig(t, t0.Add(-24*time.Hour-time.Hour))
	op := r.mon.Operation("checkout")
	for r.clk.Now().Before(t0.Add(-24*time.Hour + 10*time.Minute)) {
		for range 10 {
			op.Observe(time.Millisecond, nil)
		}
		r.tick()
	}
	r.clk.Set(t0.Add(-time.Hour))
	group := shippedRule(t, "VitalsOperationThroughputDrop")
	quiet := slog.New(slog.DiscardHandler)
	evaluator := func(q storage.Queryable) *eval.Evaluator {
		ev, err := eval.New(q, &eval.Options{Groups: group, Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		return ev
	}
	withHist, ringOnly := evaluator(New(r.ring, r.hist)), evaluator(r.ring)
	var pendingAt, firedAt time.Time
	for i := 0; r.clk.Now().Before(t0); i++ {
		if i%2 == 0 {
			op.Observe(time.Millisecond, nil)
		}
		r.tick()
		now := r.clk.Now()
		if now.Sub(t0.Add(-time.Hour))%(30*time.Second) != 0 || now.Before(t0.Add(-40*time.Minute)) {
			continue
		}
		withHist.Eval(context.Background(), now)
		ringOnly.Eval(context.Background(), now)
		if a := ringOnly.Alerts(); len(a) != 0 {
			t.Fatalf("the ring alone: %+v", a)
		}
		alerts := withHist.Alerts()
		if len(alerts) == 0 {
			continue
		}
		a := alerts[0]
		if len(alerts) != 1 || a.Labels.Get("operation") != "checkout" || a.Labels.Get("job") != "vitals" || a.Labels.Get("instance") != "host:1" {
			t.Fatalf("alerts %+v", alerts)
		}
		if pendingAt.IsZero() {
			pendingAt = now
		}
		if a.State == eval.Firing && firedAt.IsZero() {
			firedAt = now
			// Today's 0.1 a second against yesterday's 2: the value
			// compared is today's rate.
			if !near(a.Value, 0.1, 0.05) {
				t.Fatalf("firing with value %v, want 0.1", a.Value)
			}
		}
	}
	// The condition holds once today's 10-minute window holds only
	// today's rate: from the first evaluation, 40 minutes before t0.
	if !pendingAt.Equal(t0.Add(-40*time.Minute)) || !firedAt.Equal(pendingAt.Add(15*time.Minute)) {
		t.Fatalf("pending at %v, firing at %v", pendingAt, firedAt)
	}
}

// TestGoroutineLeakFires: VitalsGoroutineLeak compares the goroutines
// now with their average over the hour before the last one. For two hours
// the process alternates a minute at 1000 goroutines and a minute at 2000
// (1500 on average), then runs 3100, more than twice that average. The
// ring keeps the gathered series 2 hours (store.Options.GathererRetention),
// so the evaluator, over the ring joined to history as the demo runs it,
// fires the alert 15 minutes after the jump. With the gathered series
// kept one hour, `[1h] offset 1h` holds one sample, 1000 or 2000 by the
// minute, and the alert never fires.
func TestGoroutineLeakFires(t *testing.T) {
	start := t0.Add(-2 * time.Hour)
	clk := vitals.NewManualClock(start.Add(-5 * time.Second))
	quiet := slog.New(slog.DiscardHandler)
	mon := vitals.New(&vitals.Options{Clock: clk, Logger: quiet})
	hist, err := history.Open(mon, &history.Options{Dir: t.TempDir(), Logger: quiet, NoSync: true, MaxPending: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	var goroutines float64
	gath := prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) {
		name, help, v := "go_goroutines", "Goroutines.", goroutines
		return []*dto.MetricFamily{{
			Name: &name, Help: &help, Type: dto.MetricType_GAUGE.Enum(),
			Metric: []*dto.Metric{{Gauge: &dto.Gauge{Value: &v}}},
		}}, nil
	})
	lbls := map[string]string{"job": "vitals", "instance": "host:1"}
	ring := store.New(mon, &store.Options{Labels: lbls, Gatherer: gath})
	short := store.NewDetached(&store.Options{Labels: lbls, Gatherer: gath, GathererRetention: time.Hour})
	t.Cleanup(func() {
		ring.Close()
		mon.Stop()
		if err := hist.Close(); err != nil {
			t.Error(err)
		}
	})
	group := shippedRule(t, "VitalsGoroutineLeak")
	evaluator := func(q storage.Queryable) *eval.Evaluator {
		ev, err := eval.New(q, &eval.Options{Groups: group, Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		return ev
	}
	withHist, oneHour := evaluator(New(ring, hist)), evaluator(short)
	jump := t0
	var pendingAt, firedAt time.Time
	for k := 0; clk.Now().Before(jump.Add(30 * time.Minute)); k++ {
		goroutines = 3100
		if k < 1440 {
			goroutines = float64(1000 + 1000*(k/12%2))
		}
		clk.Advance(5 * time.Second)
		short.Consume(mon.Collect())
		now := clk.Now()
		if now.Before(jump) || now.Sub(jump)%(30*time.Second) != 0 {
			continue
		}
		if now.Equal(jump) {
			if err := hist.Flush(context.Background()); err != nil {
				t.Fatal(err)
			}
			// The hour before the last one, averaged: every sample of it.
			v := one(t, New(ring, hist), `avg_over_time(go_goroutines[1h] offset 1h)`)
			c := one(t, New(ring, hist), `count_over_time(go_goroutines[1h] offset 1h)`)
			if v.F != 1500 || c.F != 720 {
				t.Fatalf("at the jump: average %v over %v samples", v.F, c.F)
			}
		}
		withHist.Eval(context.Background(), now)
		oneHour.Eval(context.Background(), now)
		if a := oneHour.Alerts(); len(a) != 0 && a[0].State == eval.Firing {
			t.Fatalf("one hour of gathered samples: %+v", a)
		}
		alerts := withHist.Alerts()
		if len(alerts) == 0 {
			continue
		}
		a := alerts[0]
		if len(alerts) != 1 || a.Labels.Get("job") != "vitals" || a.Labels.Get("instance") != "host:1" {
			t.Fatalf("alerts %+v", alerts)
		}
		if pendingAt.IsZero() {
			pendingAt = now
		}
		if a.State == eval.Firing && firedAt.IsZero() {
			firedAt = now
			if a.Value != 3100 {
				t.Fatalf("firing with value %v, want 3100", a.Value)
			}
		}
	}
	if !pendingAt.Equal(jump) || !firedAt.Equal(jump.Add(15*time.Minute)) {
		t.Fatalf("pending at %v, firing at %v", pendingAt, firedAt)
	}
}
