package remotewrite

import (
	"strconv"
	"testing"
	"time"

	"github.com/bizra/vitals"
	"github.com/bizra/vitals/metric"
)

// A push in steady state (every series seen before) encodes without
// allocating, by 1.0 and 2.0, over several parts (requests) per push.
func TestEncodeSteadyStateAllocatesNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are checked without -race")
	}
	m := vitals.New(nil)
	r := m.Registry()
	c := r.CounterVec(metric.Opts{Name: "a_total", Help: "a.", Labels: []string{"k"}})
	h := r.HistogramVec(metric.Opts{Name: "b_seconds", Unit: "seconds", Help: "b.", Labels: []string{"k"}})
	for i := range 300 {
		c.With(strconv.Itoa(i)).Add(uint64(i))
		for j := range 20 {
			h.With(strconv.Itoa(i)).Observe(float64(j+i) / 1000)
		}
	}
	cat := newCatalog(newLabelSet("job", "inst", nil), nil, time.Now().UnixMilli())
	for _, v := range []Version{V1, V2} {
		enc := newEncoder(v, 500, cat)
		fams := r.Families()
		ts := int64(1)
		enc.encode(fams, ts)
		allocs := testing.AllocsPerRun(20, func() {
			ts++
			enc.encode(fams, ts)
		})
		if allocs != 0 {
			t.Errorf("version %v: %v allocations per push in steady state, want 0", v, allocs)
		}
	}
}

func BenchmarkEncode(b *testing.B) {
	m := vitals.New(nil)
	r := m.Registry()
	for f := range 9 {
		c := r.CounterVec(metric.Opts{Name: "a" + strconv.Itoa(f) + "_total", Help: "a.", Labels: []string{"k"}})
		for i := range 1000 {
			c.With(strconv.Itoa(i)).Add(uint64(i))
		}
	}
	h := r.HistogramVec(metric.Opts{Name: "b_seconds", Unit: "seconds", Help: "b.", Labels: []string{"k"}})
	for i := range 1000 {
		for j := range 200 {
			h.With(strconv.Itoa(i)).Observe(float64(1+(i*31+j*17)%997) / 10000)
		}
	}
	for _, v := range []Version{V1, V2} {
		b.Run("v"+strconv.Itoa(int(v)), func(b *testing.B) {
			cat := newCatalog(newLabelSet("job", "inst", nil), nil, 1)
			enc := newEncoder(v, DefaultMaxSamplesPerSend, cat)
			fams := r.Families()
			enc.encode(fams, 1)
			b.ReportAllocs()
			b.ResetTimer()
			var n int
			for i := 0; i < b.N; i++ {
				n = len(enc.encode(fams, int64(i+2)))
			}
			b.ReportMetric(float64(n)/float64(enc.totSamples+enc.totHists), "B/sample")
		})
	}
}

// A push of one full request (above 64 KiB) and a small remainder (4 to 16
// KiB) made the snappy encoder allocate both its hash tables again at
// every push, as they share one pool; the last two requests now share the
// remainder (balanceTail), and a push allocates nothing.
func TestEncodeFullAndSmallPartAllocatesNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are checked without -race")
	}
	m := vitals.New(nil)
	r := m.Registry()
	c := r.CounterVec(metric.Opts{Name: "requests_total", Help: "Requests.", Labels: []string{"route", "code"}, MaxSeries: 4000})
	for i := range 2100 {
		c.With("/route/"+strconv.Itoa(i), strconv.Itoa(200+i%7)).Add(uint64(i))
	}
	cat := newCatalog(newLabelSet("job", "inst", nil), nil, time.Now().UnixMilli())
	for _, v := range []Version{V1, V2} {
		enc := newEncoder(v, 2000, cat)
		fams := r.Families()
		enc.encode(fams, 1)
		ts := int64(2)
		if allocs := testing.AllocsPerRun(10, func() {
			ts++
			enc.encode(fams, ts)
		}); allocs != 0 {
			t.Errorf("version %v: %v allocations per push, want 0", v, allocs)
		}
	}
}
