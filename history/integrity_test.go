package history

import (
	"fmt"
	"math"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/bizra/vitals/metric"
)

// fileReport is what checkFile found in a history file.
type fileReport struct {
	series map[string]uint32             // key -> number
	frames []map[int64]map[uint32]rollup // per tier: step start -> series -> record
}

// checkFile opens the history file in dir read-only and fails t unless
// bbolt's own consistency check passes, every series definition and every
// frame and record decode, and every coarse step whose finer steps are
// all still kept holds exactly their sum (counts, ticks, sums, buckets).
func checkFile(t testing.TB, dir string, tiers []Tier) fileReport {
	t.Helper()
	if tiers == nil {
		tiers = DefaultTiers
	}
	db, err := bolt.Open(filepath.Join(dir, FileName), 0o644, &bolt.Options{ReadOnly: true, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	defer db.Close()
	rep := fileReport{series: map[string]uint32{}}
	err = db.View(func(tx *bolt.Tx) error {
		for err := range tx.Check() {
			return fmt.Errorf("bbolt check: %w", err)
		}
		if err := tx.Bucket(bucketSeries).ForEach(func(k, v []byte) error {
			d, err := decodeDef(v)
			if err != nil {
				return err
			}
			rep.series[string(k)] = d.num
			return nil
		}); err != nil {
			return err
		}
		for _, tier := range tiers {
			step := int64(tier.Step / time.Second)
			frames := map[int64]map[uint32]rollup{}
			b := tx.Bucket(tierBucket(step))
			if b == nil {
				return fmt.Errorf("tier %v missing", tier.Step)
			}
			if err := b.ForEach(func(k, v []byte) error {
				ts := keyTime(k)
				if ts%step != 0 {
					return fmt.Errorf("tier %v: key %d not aligned", tier.Step, ts)
				}
				var f frame
				if err := parseFrame(v, &f); err != nil {
					return fmt.Errorf("tier %v frame %d: %w", tier.Step, ts, err)
				}
				recs := map[uint32]rollup{}
				if err := f.each(func(num uint32, rec []byte) error {
					var r rollup
					if err := decodeRecord(rec, f.ticks, f.ms, &r); err != nil {
						return err
					}
					recs[num] = r
					return nil
				}); err != nil {
					return fmt.Errorf("tier %v frame %d: %w", tier.Step, ts, err)
				}
				frames[ts] = recs
				return nil
			}); err != nil {
				return err
			}
			rep.frames = append(rep.frames, frames)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Coarse steps are exact merges of their finer steps.
	for j := 1; j < len(tiers); j++ {
		step, fine := int64(tiers[j].Step/time.Second), int64(tiers[j-1].Step/time.Second)
		oldest := int64(1 << 62)
		for ts := range rep.frames[j-1] {
			oldest = min(oldest, ts)
		}
		for start, recs := range rep.frames[j] {
			if start < oldest {
				continue // finer steps expired
			}
			sum := map[uint32]*rollup{}
			for ts := start; ts < start+step; ts += fine {
				for num, r := range rep.frames[j-1][ts] {
					if sum[num] == nil {
						sum[num] = &rollup{}
						sum[num].reset(r.kind)
					}
					sum[num].merge(&r)
				}
			}
			if len(sum) != len(recs) {
				t.Fatalf("tier %v step %d: %d series, finer steps hold %d", tiers[j].Step, start, len(recs), len(sum))
			}
			for num, r := range recs {
				want := sum[num]
				// Float sums may differ in the last bits: late data is
				// added in another order.
				if want == nil || r.ticks != want.ticks || !near(r.a, want.a) || r.h.Count != want.h.Count ||
					!near(r.h.Sum, want.h.Sum) || len(r.h.Buckets) != len(want.h.Buckets) {
					t.Fatalf("tier %v step %d series %d: %+v, finer steps sum to %+v", tiers[j].Step, start, num, r, want)
				}
				if r.kind == metric.KindHistogram {
					for i := range r.h.Buckets {
						if r.h.Buckets[i] != want.h.Buckets[i] {
							t.Fatalf("tier %v step %d series %d: bucket %v, want %v", tiers[j].Step, start, num, r.h.Buckets[i], want.h.Buckets[i])
						}
					}
				}
			}
		}
	}
	return rep
}

func near(a, b float64) bool {
	return a == b || math.Abs(a-b) <= 1e-12*math.Max(math.Abs(a), math.Abs(b))
}
