package remotewrite

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
)

func quietLog() *slog.Logger { return slog.New(slog.DiscardHandler) }

func mustOpen(t *testing.T, dir string, max int64) *queue {
	t.Helper()
	q, _, err := openQueue(dir, max, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	return q
}

func testRecord(ts int64, n int) []byte {
	var rb recordBuilder
	rb.reset(V1, ts)
	// Incompressible bytes, so the record is as large as asked.
	b := make([]byte, n)
	x := uint32(ts)*2654435761 + 1
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
	rb.addPart(b, n, 0)
	return rb.b
}

func TestQueueOrderAckAndReopen(t *testing.T) {
	dir := t.TempDir()
	q := mustOpen(t, dir, 1<<20)
	for ts := int64(1); ts <= 5; ts++ {
		if _, err := q.append(testRecord(ts, 100), ts, 10, 1); err != nil {
			t.Fatal(err)
		}
	}
	r, data, _, ok := q.head(nil)
	if !ok || r.ts != 1 {
		t.Fatalf("head %+v %v", r, ok)
	}
	if ri, err := decodeRecord(data, nil); err != nil || ri.ts != 1 || ri.samples != 100 {
		t.Fatalf("decoded %+v %v", ri, err)
	}
	q.ack(r.seq)
	r, _, _, _ = q.head(nil)
	q.ack(r.seq)
	q.close()

	q = mustOpen(t, dir, 1<<20)
	defer q.close()
	if n, _, oldest := q.stats(); n != 3 || oldest != 3 {
		t.Fatalf("reopened: %d records, oldest %d; want 3 from ts 3", n, oldest)
	}
	if _, err := q.append(testRecord(6, 10), 6, 1, 0); err != nil {
		t.Fatal(err)
	}
	var got []int64
	for {
		r, _, _, ok := q.head(nil)
		if !ok {
			break
		}
		got = append(got, r.ts)
		q.ack(r.seq)
	}
	if want := []int64{3, 4, 5, 6}; !equal(got, want) {
		t.Errorf("order %v, want %v", got, want)
	}
}

func equal(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestQueueSizeLimitDropsOldestAndCounts(t *testing.T) {
	for _, dir := range []string{"", t.TempDir()} {
		q := mustOpen(t, dir, 1<<20)
		q.segMax = 4 << 10
		var d dropped
		for ts := int64(1); ts <= 300; ts++ {
			dd, err := q.append(testRecord(ts, 1000), ts, 7, 2)
			if err != nil {
				t.Fatal(err)
			}
			d.records += dd.records
			d.samples += dd.samples
			d.hists += dd.hists
		}
		n, b, oldest := q.stats()
		if b > 1<<20 {
			t.Errorf("dir %q: %d bytes, limit 1 MiB", dir, b)
		}
		if d.records+n != 300 || d.samples != 7*d.records || d.hists != 2*d.records {
			t.Errorf("dir %q: %d held + %+v dropped != 300 appended", dir, n, d)
		}
		if oldest != int64(d.records+1) {
			t.Errorf("dir %q: oldest %d after dropping %d: not the oldest dropped", dir, oldest, d.records)
		}
		// A record larger than the whole queue is dropped, not stored.
		if dd, _ := q.append(testRecord(301, 2<<20), 301, 5, 0); dd.records != 1 || dd.samples != 5 {
			t.Errorf("dir %q: oversized record: %+v", dir, dd)
		}
		q.close()
	}
}

// A crash in the middle of a write leaves a short frame: the next open
// truncates it and keeps every complete record before it.
func TestQueueTornTailIsTruncated(t *testing.T) {
	dir := t.TempDir()
	q := mustOpen(t, dir, 1<<20)
	for ts := int64(1); ts <= 3; ts++ {
		q.append(testRecord(ts, 500), ts, 1, 0)
	}
	q.close()
	segs, _ := filepath.Glob(filepath.Join(dir, "*"+segSuffix))
	fi, _ := os.Stat(segs[0])
	os.Truncate(segs[0], fi.Size()-100)

	q, lost, err := openQueue(dir, 1<<20, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	defer q.close()
	if n, _, _ := q.stats(); n != 2 || lost.records != 1 {
		t.Errorf("after a torn write: %d records, %d lost; want 2 and 1", n, lost.records)
	}
	if _, err := q.append(testRecord(4, 10), 4, 1, 0); err != nil {
		t.Fatal(err)
	}
	if n, _, _ := q.stats(); n != 3 {
		t.Errorf("appending after recovery: %d records", n)
	}
}

// A record damaged on disk fails its CRC when read back: it is dropped and
// counted, the records after it are still sent.
func TestQueueFlippedByteIsDroppedAsCorrupt(t *testing.T) {
	dir := t.TempDir()
	q := mustOpen(t, dir, 1<<20)
	for ts := int64(1); ts <= 3; ts++ {
		q.append(testRecord(ts, 500), ts, 4, 1)
	}
	q.close()
	segs, _ := filepath.Glob(filepath.Join(dir, "*"+segSuffix))
	b, _ := os.ReadFile(segs[0])
	b[frameHeaderSize+200] ^= 0xff // inside the first record's payload
	os.WriteFile(segs[0], b, 0o644)

	q = mustOpen(t, dir, 1<<20)
	defer q.close()
	r, _, lost, ok := q.head(nil)
	if !ok || r.ts != 2 || lost.records != 1 || lost.samples != 4 || lost.hists != 1 {
		t.Errorf("head %+v ok=%v lost=%+v; want ts 2 after dropping the damaged one", r, ok, lost)
	}
}

func TestQueueGarbageFilesAreSurvivable(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "0000000000000001"+segSuffix), bytes.Repeat([]byte{0xff}, 4096), 0o644)
	os.WriteFile(filepath.Join(dir, "not-hex"+segSuffix), []byte("x"), 0o644)
	os.WriteFile(filepath.Join(dir, cursorName), []byte("garbage"), 0o644)
	q, lost, err := openQueue(dir, 1<<20, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	defer q.close()
	if n, _, _ := q.stats(); n != 0 || lost.records != 1 {
		t.Errorf("garbage segment: %d records, %d lost", n, lost.records)
	}
	if _, err := q.append(testRecord(1, 10), 1, 1, 0); err != nil {
		t.Fatal(err)
	}
	if r, _, _, ok := q.head(nil); !ok || r.ts != 1 {
		t.Error("queue unusable after garbage")
	}
}

func FuzzDecodeRecord(f *testing.F) {
	f.Add(testRecord(1, 10))
	var rb recordBuilder
	rb.reset(V2, 7)
	rb.addPart([]byte("abc"), 1, 1)
	rb.addPart([]byte("defgh"), 2, 0)
	f.Add(rb.b)
	f.Add([]byte{1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		ri, err := decodeRecord(b, nil)
		if err != nil {
			return
		}
		total := 0
		for _, p := range ri.parts {
			total += len(p.body) + partHeaderSize
		}
		if total+recordHeaderSize != len(b) {
			t.Fatalf("decoded parts cover %d of %d bytes", total+recordHeaderSize, len(b))
		}
	})
}

// FuzzQueueOpen feeds arbitrary bytes as a segment file: opening and
// reading must never panic or allocate past maxRecordBytes.
func FuzzQueueOpen(f *testing.F) {
	dir := f.TempDir()
	q, _, _ := openQueue(dir, 1<<20, quietLog())
	q.append(testRecord(1, 10), 1, 1, 0)
	q.append(testRecord(2, 20), 2, 1, 0)
	q.close()
	segs, _ := filepath.Glob(filepath.Join(dir, "*"+segSuffix))
	seed, _ := os.ReadFile(segs[0])
	f.Add(seed)
	f.Add(seed[:30])
	f.Fuzz(func(t *testing.T, b []byte) {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "0000000000000001"+segSuffix), b, 0o644)
		q, _, err := openQueue(dir, 1<<20, quietLog())
		if err != nil {
			t.Fatal(err)
		}
		defer q.close()
		for range 100 {
			r, data, _, ok := q.head(nil)
			if !ok {
				break
			}
			decodeRecord(data, nil)
			q.ack(r.seq)
		}
	})
}
