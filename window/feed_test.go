package window

import (
	"testing"
	"time"

	"github.com/bizra/vitals/metric"
)

func TestFeeds(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	cf := CounterFeed{Ring: New(time.Minute, 60)}
	hf := HistogramFeed{Ring: New(time.Minute, 60)}
	var h metric.Histogram
	var c metric.Counter
	for i := 1; i <= 10; i++ {
		c.Add(5)
		h.Observe(float64(i))
		now := t0.Add(time.Duration(i) * time.Second)
		cf.Add(now, time.Second, c.Value())
		hf.Add(now, time.Second, &h)
	}
	now := t0.Add(10 * time.Second)
	if st := cf.Ring.Stats(now); st.Count != 50 || st.Rate != 5 {
		t.Fatalf("counter window count %v rate %v, want 50 and 5/s", st.Count, st.Rate)
	}
	if st := hf.Ring.Stats(now); st.Count != 10 || st.Sum != 55 {
		t.Fatalf("histogram window count %v sum %v, want 10 and 55", st.Count, st.Sum)
	}
	// A counter that goes backwards (a reset) adds nothing.
	cf.Add(now.Add(time.Second), time.Second, 3)
	if st := cf.Ring.Stats(now.Add(time.Second)); st.Count != 50 {
		t.Fatalf("reset added %v", st.Count-50)
	}
	if n := testing.AllocsPerRun(100, func() { hf.Add(now.Add(2*time.Second), time.Second, &h) }); n != 0 {
		t.Fatalf("HistogramFeed.Add allocates %v times per tick", n)
	}
}
