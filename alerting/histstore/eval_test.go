package histstore

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/prometheus/storage"

	"github.com/bizra/vitals/alerting/eval"
	"github.com/bizra/vitals/alerting/rules"
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
