package stream

import (
	"runtime"
	"sync"
	"time"
)

// writers is the hub's pool of WebSocket writer goroutines. A client with
// something to write is queued once (client.scheduled) and served by one
// writer at a time, so its messages keep their order; a writer serves one
// batch (everything the client had pending), then moves on to the next
// client and queues this one again at the back if more arrived meanwhile.
//
// Why a pool and not a writer goroutine per client: with 10,000 clients a
// parked goroutine each cost its stack and its wake-up channels for
// nothing, and waking 10,000 goroutines per tick cost more scheduler time
// than the writes themselves. A write to a socket with room in its kernel
// buffer returns at once, so a few writers keep up with every client.
//
// A client that stops reading fills its socket buffer and its write
// blocks (until StallTimeout, the write deadline). The writer serving it
// would then be lost to the others, so each writer arms a timer when it
// starts a batch: if the batch takes longer than handoffAfter, a fresh
// writer is started, and the pool keeps min writers that are not stuck.
// Extra writers exit when they finish a batch and the pool is above min.
// The pool therefore holds at most min writers plus one per client whose
// write is blocked.
type writers struct {
	h   *Hub
	min int

	mu      sync.Mutex
	cond    sync.Cond
	queue   []*client // FIFO: queue[head:]
	head    int
	n       int // running writers
	stuck   int // writers whose batch has taken longer than handoffAfter
	stopped bool
}

// handoffAfter is how long a batch may take before the pool starts another
// writer. A batch to a reading client over loopback takes microseconds; a
// batch this slow is blocked on a full socket buffer.
const handoffAfter = 20 * time.Millisecond

func newWriters(h *Hub) *writers {
	w := &writers{h: h, min: max(4, 2*runtime.GOMAXPROCS(0))}
	w.cond.L = &w.mu
	return w
}

// push queues clients whose scheduled flag the caller has just set.
func (w *writers) push(cs ...*client) {
	if len(cs) == 0 {
		return
	}
	w.mu.Lock()
	if w.stopped {
		w.mu.Unlock()
		return
	}
	if w.head > 0 && w.head == len(w.queue) {
		w.queue, w.head = w.queue[:0], 0
	}
	w.queue = append(w.queue, cs...)
	for w.n-w.stuck < w.min {
		w.startLocked()
	}
	if len(cs) == 1 {
		w.cond.Signal()
	} else {
		w.cond.Broadcast()
	}
	w.mu.Unlock()
}

func (w *writers) startLocked() {
	w.n++
	w.h.wg.Add(1)
	go w.run()
}

// stop ends the writers once the queue is empty. The hub calls it after
// every client is closed.
func (w *writers) stop() {
	w.mu.Lock()
	w.stopped = true
	w.cond.Broadcast()
	w.mu.Unlock()
}

func (w *writers) run() {
	defer w.h.wg.Done()
	var wk worker
	handoff := time.AfterFunc(time.Hour, func() {
		w.mu.Lock()
		if wk.busy && !wk.stuck {
			wk.stuck = true
			w.stuck++
			for !w.stopped && w.n-w.stuck < w.min {
				w.startLocked()
			}
		}
		w.mu.Unlock()
	})
	defer handoff.Stop()
	handoff.Stop()
	for {
		w.mu.Lock()
		for w.head == len(w.queue) && !w.stopped {
			w.cond.Wait()
		}
		if w.head == len(w.queue) {
			w.n--
			w.mu.Unlock()
			return
		}
		c := w.queue[w.head]
		w.queue[w.head] = nil
		w.head++
		wk.busy = true
		w.mu.Unlock()

		handoff.Reset(handoffAfter)
		more := c.serveBatch(&wk.batch)
		handoff.Stop()

		w.mu.Lock()
		wk.busy = false
		if wk.stuck {
			wk.stuck = false
			w.stuck--
		}
		if more && !w.stopped {
			w.queue = append(w.queue, c)
		}
		if w.n-w.stuck > w.min {
			w.n--
			if more {
				w.cond.Signal()
			}
			w.mu.Unlock()
			return
		}
		w.mu.Unlock()
		// Give the P to the service's own goroutines between clients. A
		// writer otherwise keeps its P through the writes of a whole
		// tick (each returns at once), and a request that becomes
		// runnable meanwhile waits for the scheduler's 10 ms preemption
		// behind every writer; yielded, the writer waits in the global
		// run queue instead, behind the requests.
		runtime.Gosched()
	}
}

// worker is one writer's state: busy and stuck are guarded by writers.mu.
type worker struct {
	busy  bool // serving a batch
	stuck bool // its batch has taken longer than handoffAfter
	batch batch
}

// batch is a writer's scratch space, reused from client to client.
type batch struct {
	ctrl   [][]byte
	frames []*frame
	hdr    [10]byte  // a frame header
	vec    [2][]byte // header and payload, for one writev
	one    []byte    // header and payload copied, where writev is not available
}
