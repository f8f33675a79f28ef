package history

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/bizra/vitals/metric"
)

// TestRetentionPlateau runs five simulated days through tiers scaled
// down (1 h of minutes, 5 h of 5 minutes, 2 days of hours) so that every
// retention is passed twice: expired frames are deleted, each tier holds
// exactly its retention, and the file stops growing because bbolt reuses
// the freed pages. BenchmarkHistory90Days shows the same at the default
// tiers over 100 days.
func TestRetentionPlateau(t *testing.T) {
	dir := t.TempDir()
	tiers := []Tier{{time.Minute, time.Hour}, {5 * time.Minute, 5 * time.Hour}, {time.Hour, 2 * 24 * time.Hour}}
	r := newRig(t0.Add(-time.Minute))
	st := openStore(t, r.mon, dir, func(o *Options) { o.Tiers = tiers })
	// Enough series for a file of a few hundred kilobytes.
	reg := r.mon.Registry()
	cv := reg.CounterVec(metric.Opts{Name: "test_events_total", Help: "Events.", Labels: []string{"kind"}})
	hv := reg.HistogramVec(metric.Opts{Name: "test_op_seconds", Help: "Ops.", Unit: "seconds", Labels: []string{"op"}})
	var cs []*metric.Counter
	var hs []*metric.Histogram
	for i := range 50 {
		cs = append(cs, cv.With(fmt.Sprint(i)))
	}
	for i := range 6 {
		hs = append(hs, hv.With(fmt.Sprint(i)))
	}
	path := filepath.Join(dir, FileName)
	var sizes []int64
	const days = 5
	for m := 0; m < days*24*60; m++ {
		for i, c := range cs {
			c.Add(uint64(i * (m % 7)))
		}
		for i, h := range hs {
			for k := range 10 {
				h.Observe(float64(1+(m*7+k*13+i)%300) / 1000)
			}
		}
		r.tick(time.Minute, float64(1+m%500)/1000, int64(m%100))
		if m%30 == 29 {
			if err := st.Flush(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
		if m%(24*60) == 0 && m > 0 {
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			sizes = append(sizes, fi.Size())
		}
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	t.Logf("file size at the end of each day: %v", sizes)
	// From day 3 on every tier is full: the file must not grow.
	for d := 2; d < len(sizes); d++ {
		if sizes[d] > sizes[1] {
			t.Fatalf("file grew after retention was reached: %v", sizes)
		}
	}
	rep := checkFile(t, dir, tiers)
	// Each tier holds the span between the finer tier's retention and its
	// own: 1 h of minutes, 1 to 5 h of 5 minutes, 5 h to 2 days of hours.
	for j, tier := range tiers {
		want := int(tier.Retention / tier.Step)
		if j > 0 {
			want = int((tier.Retention - tiers[j-1].Retention) / tier.Step)
		}
		if n := len(rep.frames[j]); n < want-1 || n > want+1 {
			t.Fatalf("tier %v holds %d frames, want about %d", tier.Step, n, want)
		}
	}
}
