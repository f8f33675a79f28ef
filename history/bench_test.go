package history

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/bizra/vitals"
	"github.com/bizra/vitals/aggregate"
	"github.com/bizra/vitals/metric"
)

// The benchmarks behind history/PERF_SECTION.md. They use the workload of
// workload_test.go: 1,000 series, 100 of them histograms.

// BenchmarkTick measures one collector tick (Monitor.Collect: reading
// every series, then the consumers) at 1-second ticks. Instrument
// activity between ticks is outside the timer. max-µs/tick includes the
// ticks that end a minute, when the Store encodes the minute's records.
//
//	go test -run '^$' -bench BenchmarkTick -benchtime 1200x ./history/
func BenchmarkTick(b *testing.B) {
	for _, c := range []struct {
		name       string
		agg, store bool
	}{{"collect_only", false, false}, {"aggregator", true, false}, {"store", false, true}, {"aggregator+store", true, true}} {
		b.Run(c.name, func(b *testing.B) {
			clk := vitals.NewManualClock(t0)
			m := vitals.New(&vitals.Options{Clock: clk, Logger: quiet()})
			w := newWorkload(m.Registry(), 1)
			// The consumers are detached and fed by the timing wrapper below.
			var cons []vitals.Consumer
			if c.agg {
				agg := aggregate.New(m, nil)
				agg.Close()
				cons = append(cons, agg)
			}
			if c.store {
				st := openStore(b, nil, b.TempDir(), nil)
				defer st.Close()
				cons = append(cons, st)
			}
			// The consumers' own share of the tick, timed apart from
			// reading the instruments.
			var spent []time.Duration
			m.AddConsumer(vitals.ConsumerFunc(func(s *vitals.Snapshot) {
				t := time.Now()
				for _, c := range cons {
					c.Consume(s)
				}
				spent = append(spent, time.Since(t))
			}))
			for range 120 { // two minutes: windows and records reach their size
				clk.Advance(time.Second)
				w.second()
				m.Collect()
			}
			var ticks []time.Duration
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				clk.Advance(time.Second)
				w.second()
				b.StartTimer()
				t := time.Now()
				m.Collect()
				ticks = append(ticks, time.Since(t))
			}
			b.StopTimer()
			slices.Sort(ticks)
			b.ReportMetric(float64(ticks[len(ticks)*99/100].Microseconds()), "p99-µs/tick")
			b.ReportMetric(float64(ticks[len(ticks)-1].Microseconds()), "max-µs/tick")
			spent = spent[len(spent)-len(ticks):]
			var sum time.Duration
			for _, d := range spent {
				sum += d
			}
			slices.Sort(spent)
			b.ReportMetric(float64(sum.Microseconds())/float64(len(spent)), "consumers-µs/tick")
			b.ReportMetric(float64(spent[len(spent)*99/100].Microseconds()), "consumers-p99-µs")
			b.ReportMetric(float64(spent[len(spent)-1].Microseconds()), "consumers-max-µs")
		})
	}
}

func heapAlloc() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// BenchmarkMemoryOneHour measures the heap the rolling windows and the
// history hold after an hour of 1-second ticks: the heap after the hour
// minus the heap of the same Monitor and instruments before any consumer
// was added.
//
//	go test -run '^$' -bench BenchmarkMemoryOneHour -benchtime 1x ./history/
func BenchmarkMemoryOneHour(b *testing.B) {
	for _, c := range []struct {
		name       string
		agg, store bool
	}{{"aggregator", true, false}, {"store", false, true}, {"aggregator+store", true, true}} {
		b.Run(c.name, func(b *testing.B) {
			for range b.N {
				clk := vitals.NewManualClock(t0)
				m := vitals.New(&vitals.Options{Clock: clk, Logger: quiet()})
				w := newWorkload(m.Registry(), 2)
				tick := func() {
					clk.Advance(time.Second)
					w.second()
					m.Collect()
				}
				for range 60 {
					tick()
				}
				before := heapAlloc()
				var agg *aggregate.Aggregator
				if c.agg {
					agg = aggregate.New(m, nil)
				}
				var st *Store
				if c.store {
					st = openStore(b, m, b.TempDir(), nil)
				}
				for range 3600 {
					tick()
				}
				if st != nil {
					if err := st.Flush(context.Background()); err != nil {
						b.Fatal(err)
					}
				}
				after := heapAlloc()
				mb := float64(after-before) / 1e6
				n := float64(len(m.Latest().Points))
				b.ReportMetric(mb, "MB")
				b.ReportMetric(float64(after-before)/n/1e3, "KB/series")
				b.ReportMetric(10e6/(float64(after-before)/n), "series/10MB")
				if agg != nil {
					b.ReportMetric(float64(agg.MemBytes())/1e6, "MB-estimated-windows")
				}
				runtime.KeepAlive(agg)
				if st != nil {
					st.Close()
				}
			}
		})
	}
}

// BenchmarkHistory90Days writes 120 simulated days of the workload at the
// default tiers, one minute at a time through the Store's own encoding,
// writer, rollups and retention (the records are synthesised rather than
// ticked: 144,000 minutes of 1,000 series through instruments would take
// hours). It reports the file size as days pass, what each tier holds,
// then times queries on the result.
//
//	go test -run '^$' -bench BenchmarkHistory90Days -benchtime 1x -timeout 30m ./history/
func BenchmarkHistory90Days(b *testing.B) {
	if testing.Short() {
		b.Skip("minutes long")
	}
	dir := b.TempDir()
	reg := metric.NewRegistry()
	w := newWorkload(reg, 7)
	sy := newSynth(w)
	st := openStore(b, nil, dir, nil)
	series := synthSeries(st, reg)
	const days = 120
	path := filepath.Join(dir, FileName)
	start := time.Now()
	var end time.Time
	for m := 0; m < days*1440; m++ {
		end = t0.Add(time.Duration(m) * time.Minute)
		sy.minute(st, series, end)
		if m%30 == 29 {
			if err := st.Flush(context.Background()); err != nil {
				b.Fatal(err)
			}
		}
		if d := m / 1440; m%1440 == 1439 && (d < 8 || d%10 == 9 || d >= 88 && d <= 91) {
			fi, _ := os.Stat(path)
			b.Logf("day %3d: file %6.1f MB", d+1, float64(fi.Size())/1e6)
		}
	}
	if err := st.Flush(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.Logf("simulated %d days in %v", days, time.Since(start).Round(time.Second))
	fi, _ := os.Stat(path)
	b.ReportMetric(float64(fi.Size())/1e6, "MB-file")

	// What the file holds, by tier: frames, bytes, and the average record
	// of a scalar and of a histogram series.
	st.dbMu.RLock()
	err := st.db.View(func(tx *bolt.Tx) error {
		used := int64(0)
		for j, step := range st.steps {
			var frames, bytes, scalarB, scalarN, histB, histN int
			_ = tx.Bucket(tierBucket(step)).ForEach(func(k, v []byte) error {
				frames++
				bytes += len(v)
				var f frame
				if parseFrame(v, &f) != nil {
					return nil
				}
				_ = f.each(func(num uint32, rec []byte) error {
					if rec[0]&hdrKindMask == byte(metric.KindHistogram) {
						histB += len(rec)
						histN++
					} else {
						scalarB += len(rec)
						scalarN++
					}
					return nil
				})
				return nil
			})
			used += int64(bytes)
			b.Logf("tier %-5v: %5d frames, %6.1f MB, %5.1f KB/frame; record: scalar %4.1f B, histogram %5.0f B",
				st.tiers[j].Step, frames, float64(bytes)/1e6, float64(bytes)/float64(max(frames, 1))/1e3,
				float64(scalarB)/float64(max(scalarN, 1)), float64(histB)/float64(max(histN, 1)))
		}
		stats := st.db.Stats()
		b.Logf("frames %.1f MB; file %.1f MB, of which free pages %.1f MB",
			float64(used)/1e6, float64(fi.Size())/1e6, float64((stats.FreePageN+stats.PendingPageN)*st.db.Info().PageSize)/1e6)
		return nil
	})
	st.dbMu.RUnlock()
	if err != nil {
		b.Fatal(err)
	}

	queries := []struct {
		name   string
		series string
		stat   Stat
		span   time.Duration
		step   time.Duration
	}{
		{"p99_24h_step1m", `bench_request_duration_seconds{route="/route/7"}`, StatP99, 24 * time.Hour, time.Minute},
		{"p99_7d_step5m", `bench_request_duration_seconds{route="/route/7"}`, StatP99, 7 * 24 * time.Hour, 5 * time.Minute},
		{"p99_90d_step1h", `bench_request_duration_seconds{route="/route/7"}`, StatP99, 90 * 24 * time.Hour, time.Hour},
		{"rate_24h_step1m", `bench_events_total{kind="k1"}`, StatRate, 24 * time.Hour, time.Minute},
	}
	// Each query runs 25 times whatever -benchtime says (the simulation
	// is too long to repeat): the median and the slowest are reported.
	for _, q := range queries {
		b.Run(q.name, func(b *testing.B) {
			req := QueryRequest{Series: q.series, Stat: q.stat, From: end.Add(-q.span), To: end, Step: q.step}
			var n int
			var times []time.Duration
			for range 25 {
				t := time.Now()
				res, err := st.Query(context.Background(), req)
				if err != nil {
					b.Fatal(err)
				}
				times = append(times, time.Since(t))
				n = len(res.Points)
			}
			slices.Sort(times)
			b.ReportMetric(float64(times[len(times)/2].Microseconds())/1000, "median-ms")
			b.ReportMetric(float64(times[len(times)-1].Microseconds())/1000, "max-ms")
			b.ReportMetric(float64(n), "points")
		})
	}
	if err := st.Close(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkSealMinute measures the tick that ends a minute: encoding the
// minute's records of the workload's 1,000 series into a frame, on the
// collector goroutine.
//
//	go test -run '^$' -bench BenchmarkSealMinute ./history/
func BenchmarkSealMinute(b *testing.B) {
	reg := metric.NewRegistry()
	w := newWorkload(reg, 7)
	sy := newSynth(w)
	st := openStore(b, nil, b.TempDir(), func(o *Options) { o.MaxPending = 4 })
	defer st.Close()
	series := synthSeries(st, reg)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		st.cmu.Lock()
		st.series = series
		for i, os := range series {
			os.acc.reset(os.info.kind)
			sy.fill(i, &os.acc)
		}
		st.hasOpen, st.openStart = true, t0.Add(time.Duration(i)*time.Minute).Unix()
		st.ticks, st.ms = 60, 60000
		b.StartTimer()
		st.sealLocked()
		b.StopTimer()
		st.hasOpen = false
		st.cmu.Unlock()
		b.StartTimer()
	}
}
