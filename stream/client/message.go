package client

import (
	"encoding/json"
	"time"
)

// Message is any server message; Type says which fields are set.
//
//	hello         Time, Groups, Limits
//	subscribed    ID, Stream, IntervalMS, Topics
//	unsubscribed  ID
//	full, update  Stream, Seq, Time, IntervalMS, Series (Removed, Health,
//	              Alerts); full also Topics
//	health_event  Time, Event
//	alerts        Time, Alerts
//	error         Code, ID, Error
//	pong, bye     Time; bye Reason
type Message struct {
	V          int             `json:"v"`
	Type       string          `json:"type"`
	ID         string          `json:"id,omitempty"`
	Stream     uint64          `json:"stream,omitempty"`
	Seq        uint64          `json:"seq,omitempty"`
	TimeMS     int64           `json:"time,omitempty"`
	IntervalMS int64           `json:"interval_ms,omitempty"`
	Topics     []string        `json:"topics,omitempty"`
	Series     []Series        `json:"series,omitempty"`
	Removed    []uint32        `json:"removed,omitempty"`
	Health     json.RawMessage `json:"health,omitempty"`
	Alerts     json.RawMessage `json:"alerts,omitempty"`
	Event      json.RawMessage `json:"event,omitempty"`
	Groups     []string        `json:"groups,omitempty"`
	Limits     map[string]any  `json:"limits,omitempty"`
	Code       string          `json:"code,omitempty"`
	Error      string          `json:"error,omitempty"`
	Reason     string          `json:"reason,omitempty"`
	// Raw is the message as received.
	Raw []byte `json:"-"`
}

// Time returns the message's time (for frames: when the values were read).
func (m *Message) Time() time.Time { return time.UnixMilli(m.TimeMS) }

// Series is one series in a frame. In an update, only series whose values
// changed appear, and Name, Kind, Unit and Labels only the first time a
// series appears in the stream.
type Series struct {
	ID     uint32            `json:"id"`
	Name   string            `json:"name,omitempty"`
	Kind   string            `json:"kind,omitempty"`
	Unit   string            `json:"unit,omitempty"`
	Labels map[string]string `json:"labels,omitempty"`
	// Counters and gauges.
	Value *float64 `json:"value,omitempty"`
	// Counters: per second over the last interval. Histograms:
	// observations per second.
	Rate *float64 `json:"rate,omitempty"`
	// Histograms: cumulative count and sum, and over the last interval's
	// observations the quantiles and the largest (bucket middle).
	Count *uint64  `json:"count,omitempty"`
	Sum   *float64 `json:"sum,omitempty"`
	P50   *float64 `json:"p50,omitempty"`
	P95   *float64 `json:"p95,omitempty"`
	P99   *float64 `json:"p99,omitempty"`
	Max   *float64 `json:"max,omitempty"`
}

// State keeps the current value of every series of one stream by applying
// its full and update frames in order.
type State struct {
	Stream uint64
	Seq    uint64
	Series map[uint32]*Series
}

// Apply applies a full or update frame of s's stream; other messages are
// ignored. It reports whether the frame was applied.
func (s *State) Apply(m *Message) bool {
	switch {
	case m.Type == "full":
		s.Stream, s.Seq = m.Stream, m.Seq
		s.Series = make(map[uint32]*Series, len(m.Series))
	case m.Type == "update" && m.Stream == s.Stream && s.Series != nil:
		s.Seq = m.Seq
	default:
		return false
	}
	for i := range m.Series {
		n := m.Series[i]
		old := s.Series[n.ID]
		if old != nil && n.Name == "" {
			n.Name, n.Kind, n.Unit, n.Labels = old.Name, old.Kind, old.Unit, old.Labels
		}
		s.Series[n.ID] = &n
	}
	for _, id := range m.Removed {
		delete(s.Series, id)
	}
	return true
}

// Find returns the series with the name and labels given as name, value
// pairs, or nil.
func (s *State) Find(name string, labels ...string) *Series {
next:
	for _, x := range s.Series {
		if x.Name != name {
			continue
		}
		for i := 0; i+1 < len(labels); i += 2 {
			if x.Labels[labels[i]] != labels[i+1] {
				continue next
			}
		}
		return x
	}
	return nil
}
