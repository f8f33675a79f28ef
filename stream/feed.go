package stream

import (
	"encoding/json"
	"math"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/bizra/vitals/metric"
)

// A feed serves every stream of one interval. Its goroutine wakes once per
// interval, reads each series that any of its streams selects once, and
// encodes one update frame per stream that all the stream's subscribers
// share. It reads the instruments directly (as a scrape does), so a 100 ms
// stream gets values 100 ms apart and the collector is never involved.
type feed struct {
	h        *Hub
	interval time.Duration

	mu      sync.Mutex
	streams map[string]*streamGroup // by key (canonical topics)
	kick    chan struct{}           // a new stream waits for its first frame
	stop    chan struct{}
	done    chan struct{}

	// Owned by the feed goroutine.
	tick   uint64
	series map[*metric.Series]*seriesState
	push   []*client // scratch: clients to hand to the writer pool
}

// seriesState is what a feed knows of one series between its ticks.
type seriesState struct {
	f     *metric.Family
	s     *metric.Series
	tick  uint64 // the feed tick of the last read
	at    time.Time
	value float64
	prev  metric.HistogramValue // histograms: the last read
	cur   metric.HistogramValue
	delta metric.HistogramValue
	enc   []byte // the value fields of this tick, shared by every stream
	meta  []byte // name, kind, unit and labels, encoded once
}

func newFeed(h *Hub, interval time.Duration) *feed {
	return &feed{
		h:        h,
		interval: interval,
		streams:  make(map[string]*streamGroup),
		kick:     make(chan struct{}, 1),
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
		series:   make(map[*metric.Series]*seriesState),
	}
}

func (f *feed) run() {
	defer close(f.done)
	t := time.NewTicker(f.interval)
	defer t.Stop()
	for {
		select {
		case <-f.stop:
			return
		case <-f.kick:
			f.publish(true)
		case <-t.C:
			f.publish(false)
		}
	}
}

// publish reads and fans out. With onlyNew it serves only streams that
// have not sent their first frame yet (they were just created).
func (f *feed) publish(onlyNew bool) {
	t0 := time.Now()
	f.mu.Lock()
	groups := make([]*streamGroup, 0, len(f.streams))
	for _, g := range f.streams {
		if !onlyNew || g.seq == 0 {
			groups = append(groups, g)
		}
	}
	f.mu.Unlock()
	if len(groups) == 0 {
		return
	}
	if !onlyNew {
		f.tick++
	}
	fams := f.h.reg.Families()
	now := time.Now()
	for _, g := range groups {
		g.update(f, fams, now)
	}
	if !onlyNew {
		// Forget series no stream selected this tick.
		for s, st := range f.series {
			if st.tick+1 < f.tick {
				delete(f.series, s)
			}
		}
	}
	f.h.met.publishSeconds.ObserveDuration(time.Since(t0))
}

// read returns s's state, reading it if this tick has not yet.
func (f *feed) read(fam *metric.Family, s *metric.Series, now time.Time) *seriesState {
	st := f.series[s]
	if st == nil {
		st = &seriesState{f: fam, s: s, tick: math.MaxUint64, meta: encodeMeta(fam, s)}
		f.series[s] = st
	}
	if st.tick == f.tick && st.enc != nil {
		return st
	}
	first := st.tick == math.MaxUint64
	st.tick = f.tick
	dt := now.Sub(st.at).Seconds()
	b := st.enc[:0]
	switch {
	case s.Histogram != nil:
		st.prev, st.cur = st.cur, st.prev
		s.Histogram.Read(&st.cur)
		b = append(b, `"count":`...)
		b = strconv.AppendUint(b, st.cur.Count, 10)
		b = append(b, `,"sum":`...)
		b = appendFloat(b, st.cur.Sum)
		if !first && dt > 0 {
			st.delta.Sub(&st.cur, &st.prev)
			b = append(b, `,"rate":`...)
			b = appendFloat(b, float64(st.delta.Count)/dt)
			if st.delta.Count > 0 {
				b = append(b, `,"p50":`...)
				b = appendFloat(b, st.delta.Quantile(0.5))
				b = append(b, `,"p95":`...)
				b = appendFloat(b, st.delta.Quantile(0.95))
				b = append(b, `,"p99":`...)
				b = appendFloat(b, st.delta.Quantile(0.99))
				b = append(b, `,"max":`...)
				b = appendFloat(b, maxOfDelta(&st.delta))
			}
		}
	default:
		v := f.h.value(fam, s)
		b = append(b, `"value":`...)
		b = appendFloat(b, v)
		if fam.Kind == metric.KindCounter && !first && dt > 0 && v >= st.value {
			b = append(b, `,"rate":`...)
			b = appendFloat(b, (v-st.value)/dt)
		}
		st.value = v
	}
	st.at = now
	st.enc = b
	return st
}

// maxOfDelta bounds the largest value observed in a delta: the middle of
// its highest bucket, clamped to the lifetime maximum.
func maxOfDelta(d *metric.HistogramValue) float64 {
	return d.Quantile(1 - 1e-12)
}

func encodeMeta(f *metric.Family, s *metric.Series) []byte {
	b := []byte(`"name":`)
	b = appendString(b, f.Name)
	b = append(b, `,"kind":"`...)
	b = append(b, f.Kind.String()...)
	b = append(b, '"')
	if f.Unit != "" {
		b = append(b, `,"unit":`...)
		b = appendString(b, f.Unit)
	}
	if len(f.Labels) > 0 {
		b = append(b, `,"labels":{`...)
		for i, l := range f.Labels {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, l)
			b = append(b, ':')
			v := ""
			if i < len(s.Values) {
				v = s.Values[i]
			}
			b = appendString(b, v)
		}
		b = append(b, '}')
	}
	return b
}

// streamGroup is one (topic set, interval): the unit of encoding and
// sharing. Its subscribers all receive the same frame bytes.
type streamGroup struct {
	f      *feed
	id     uint64
	key    string
	topics []Topic
	groups map[string]bool // the groups among topics

	mu     sync.Mutex
	subs   map[*subscription]struct{}
	seq    uint64
	ids    map[*metric.Series]uint32 // series -> id in this stream
	nextID uint32
	order  []*seriesState // this tick's series, by id of first appearance
	sent   map[uint32][]byte
	extras extraState
	last   *frame // this tick's update
	full   *frame // this tick's full state, built on demand
	at     time.Time
}

// extraState is the non-series part of a frame: health and alerts.
type extraState struct {
	health []byte // the last health block sent
	alerts []byte
}

func (g *streamGroup) wants(group string) bool { return g.groups[group] }

// update reads the stream's series, encodes the update frame and offers it
// to every subscriber; subscribers still waiting for their first frame get
// the full state instead.
func (g *streamGroup) update(f *feed, fams []*metric.Family, now time.Time) {
	var cur []*seriesState
	for _, fam := range fams {
		var match []*Topic
		for i := range g.topics {
			if g.topics[i].matchFamily(fam) {
				match = append(match, &g.topics[i])
			}
		}
		if match == nil {
			continue
		}
		for _, s := range fam.Series() {
			for _, t := range match {
				if t.matchSeries(fam, s) {
					cur = append(cur, f.read(fam, s, now))
					break
				}
			}
		}
	}
	health, alerts := g.f.h.extras(g)

	g.mu.Lock()
	defer g.mu.Unlock()
	g.seq++
	g.at = now
	g.full = nil
	b := appendHeader(make([]byte, 0, 256+len(cur)*48), "update")
	b = g.appendStreamFields(b)
	b = append(b, `,"series":[`...)
	seen := make(map[uint32]bool, len(cur))
	n := 0
	for _, st := range cur {
		id, known := g.ids[st.s]
		if !known {
			id = g.nextID
			g.nextID++
			g.ids[st.s] = id
		}
		seen[id] = true
		if known && string(g.sent[id]) == string(st.enc) {
			continue
		}
		g.sent[id] = append(g.sent[id][:0], st.enc...)
		if n > 0 {
			b = append(b, ',')
		}
		n++
		b = append(b, `{"id":`...)
		b = strconv.AppendUint(b, uint64(id), 10)
		b = append(b, ',')
		if !known {
			b = append(b, st.meta...)
			b = append(b, ',')
		}
		b = append(b, st.enc...)
		b = append(b, '}')
	}
	b = append(b, ']')
	var removed []uint32
	for s, id := range g.ids {
		if !seen[id] {
			removed = append(removed, id)
			delete(g.ids, s)
			delete(g.sent, id)
		}
	}
	if len(removed) > 0 {
		slices.Sort(removed)
		b = append(b, `,"removed":[`...)
		for i, id := range removed {
			if i > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendUint(b, uint64(id), 10)
		}
		b = append(b, ']')
	}
	if health != nil && string(health) != string(g.extras.health) {
		g.extras.health = health
		b = append(b, `,"health":`...)
		b = append(b, health...)
	}
	if alerts != nil && string(alerts) != string(g.extras.alerts) {
		g.extras.alerts = alerts
		b = append(b, `,"alerts":`...)
		b = append(b, alerts...)
	}
	b = append(b, '}')
	g.order = cur
	g.last = &frame{b: b, at: now, seq: g.seq}
	// Every offerBatch subscribers, hand the clients offered so far to
	// the writer pool (one lock of the pool each time) and yield the P:
	// the writers start on the first clients while the rest are offered,
	// and the service's own goroutines, whose timers this P checks only
	// when it schedules, are not held up for the whole loop (at 10,000
	// subscribers it took 2-16 ms). g.mu stays held: only a subscriber
	// joining this stream waits for the loop.
	push := f.push[:0]
	i := 0
	for s := range g.subs {
		if s.c.offerData(s, g) {
			push = append(push, s.c)
		}
		if i++; i%offerBatch == 0 {
			g.f.h.writers.push(push...)
			clear(push)
			push = push[:0]
			runtime.Gosched()
		}
	}
	g.f.h.writers.push(push...)
	clear(push)
	f.push = push[:0]
}

// offerBatch is how many subscribers the fan-out offers a frame to
// between hand-offs to the writer pool.
const offerBatch = 256

func (g *streamGroup) appendStreamFields(b []byte) []byte {
	b = append(b, `,"stream":`...)
	b = strconv.AppendUint(b, g.id, 10)
	b = append(b, `,"seq":`...)
	b = strconv.AppendUint(b, g.seq, 10)
	b = append(b, `,"time":`...)
	b = strconv.AppendInt(b, g.at.UnixMilli(), 10)
	b = append(b, `,"interval_ms":`...)
	return strconv.AppendInt(b, g.f.interval.Milliseconds(), 10)
}

// fullLocked returns this tick's full state, encoding it on first use: a
// subscriber that just joined, or one that fell behind and had frames
// coalesced, needs every series, not the changes since a frame it missed.
func (g *streamGroup) fullLocked() *frame {
	if g.full != nil {
		return g.full
	}
	b := appendHeader(make([]byte, 0, 512+len(g.order)*96), "full")
	b = g.appendStreamFields(b)
	b = append(b, `,"topics":[`...)
	for i, t := range g.topics {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, t.String())
	}
	b = append(b, `],"series":[`...)
	for i, st := range g.order {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"id":`...)
		b = strconv.AppendUint(b, uint64(g.ids[st.s]), 10)
		b = append(b, ',')
		b = append(b, st.meta...)
		b = append(b, ',')
		b = append(b, g.sent[g.ids[st.s]]...)
		b = append(b, '}')
	}
	b = append(b, ']')
	if g.extras.health != nil {
		b = append(b, `,"health":`...)
		b = append(b, g.extras.health...)
	}
	if g.wants(GroupAlerts) {
		b = append(b, `,"alerts":`...)
		if g.extras.alerts != nil {
			b = append(b, g.extras.alerts...)
		} else {
			b = append(b, "[]"...)
		}
	}
	b = append(b, '}')
	g.full = &frame{b: b, at: g.at, seq: g.seq, full: true}
	return g.full
}

// streamKey is the identity of a topic set: canonical topics, sorted and
// deduplicated, one per line.
func streamKey(topics []Topic) (string, []Topic) {
	ts := slices.Clone(topics)
	slices.SortFunc(ts, func(a, b Topic) int { return strings.Compare(a.String(), b.String()) })
	ts = slices.CompactFunc(ts, func(a, b Topic) bool { return a.String() == b.String() })
	names := make([]string, len(ts))
	for i, t := range ts {
		names[i] = t.String()
	}
	return strings.Join(names, "\n"), ts
}

// marshal encodes v as JSON; the values passed are plain structs that
// always encode.
func marshal(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		return []byte("null")
	}
	return b
}
