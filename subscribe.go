package vitals

// Subscription delivers snapshots to one reader without ever blocking the
// collector: it holds at most the latest snapshot, and a newer one replaces
// an unread one (counted in vitals_subscriber_dropped_snapshots_total).
type Subscription struct {
	m      *Monitor
	c      chan *Snapshot
	closed bool
}

// Subscribe returns a subscription to every later snapshot. Close it when
// done; Monitor.Stop closes all.
func (m *Monitor) Subscribe() *Subscription {
	s := &Subscription{m: m, c: make(chan *Snapshot, 1)}
	m.subMu.Lock()
	defer m.subMu.Unlock()
	m.lifeMu.Lock()
	stopped := m.stopped
	m.lifeMu.Unlock()
	if stopped {
		s.closed = true
		close(s.c)
		return s
	}
	m.subs[s] = struct{}{}
	m.subscribers.Inc()
	return s
}

// C returns the channel snapshots arrive on. It is closed by Close or by
// Monitor.Stop.
func (s *Subscription) C() <-chan *Snapshot { return s.c }

// Close ends the subscription and closes C. It is idempotent.
func (s *Subscription) Close() {
	s.m.subMu.Lock()
	defer s.m.subMu.Unlock()
	s.closeLocked()
}

func (s *Subscription) closeLocked() {
	if s.closed {
		return
	}
	s.closed = true
	delete(s.m.subs, s)
	s.m.subscribers.Dec()
	close(s.c)
}

// publish hands s to every subscriber, replacing an unread snapshot.
func (m *Monitor) publish(snap *Snapshot) {
	m.subMu.Lock()
	defer m.subMu.Unlock()
	for s := range m.subs {
		select {
		case s.c <- snap:
			continue
		default:
		}
		select { // full: drop the stale one, then deliver
		case <-s.c:
			m.drops.Inc()
		default:
		}
		select {
		case s.c <- snap:
		default:
		}
	}
}
