package demoload

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/sony/gobreaker/v2"

	"github.com/bizra/vitals"
	"github.com/bizra/vitals/breaker"
	"github.com/bizra/vitals/breaker/gobreakermon"
)

// BreakerOptions configures NewBreakerLoad. nil means every default.
type BreakerOptions struct {
	// Name is the breaker's name. Default "payments".
	Name string
	// Period and Outage shape the provider's recurring outages: the
	// last Outage of every Period fails. Defaults 40 s and 10 s.
	Period, Outage time.Duration
	// OpenTimeout is how long the breaker stays open before letting a
	// trial call through. Default 3 s.
	OpenTimeout time.Duration
	// Workers call the provider when Run runs (callers of Call are the
	// other source of calls). Default 2.
	Workers int
	// Interval is each worker's pause between calls. Default 40 ms.
	Interval time.Duration
	// Latency is a healthy call's typical duration. Default 8 ms; a
	// failing call takes about five times as long, past the slow-call
	// threshold of 4 x Latency.
	Latency time.Duration
	// MonitorOptions tunes the breaker monitor; SlowCall defaults to 4 x
	// Latency and MinCalls to 10. Default nil.
	MonitorOptions *breaker.Options
}

func (o *BreakerOptions) withDefaults() BreakerOptions {
	var d BreakerOptions
	if o != nil {
		d = *o
	}
	if d.Name == "" {
		d.Name = "payments"
	}
	if d.Period <= 0 {
		d.Period = 40 * time.Second
	}
	if d.Outage <= 0 || d.Outage >= d.Period {
		d.Outage = d.Period / 4
	}
	if d.OpenTimeout <= 0 {
		d.OpenTimeout = 3 * time.Second
	}
	if d.Workers <= 0 {
		d.Workers = 2
	}
	if d.Interval <= 0 {
		d.Interval = 40 * time.Millisecond
	}
	if d.Latency <= 0 {
		d.Latency = 8 * time.Millisecond
	}
	return d
}

// ErrPaymentFailed is the simulated payment provider's failure.
var ErrPaymentFailed = errors.New("payment provider error")

// BreakerLoad is a simulated payment provider with recurring outages
// behind a gobreaker circuit breaker: the breaker trips during an outage
// (calls then fail at once with gobreaker.ErrOpenState), half-opens after
// its timeout, and closes once the provider is back, on its own, while
// the demo runs. The demo's checkout calls it through Call; Run adds
// calls of its own for tests and for use without HTTP load.
type BreakerLoad struct {
	opts  BreakerOptions
	cb    *gobreakermon.Breaker[[]byte]
	start time.Time

	mu        sync.Mutex
	outageEnd time.Time // a forced outage, from Outage
}

// NewBreakerLoad builds the breaker and registers its monitor in m.
func NewBreakerLoad(m *vitals.Monitor, opts *BreakerOptions) *BreakerLoad {
	o := opts.withDefaults()
	var mo breaker.Options
	if o.MonitorOptions != nil {
		mo = *o.MonitorOptions
	}
	if mo.SlowCall <= 0 {
		mo.SlowCall = 4 * o.Latency
	}
	if mo.MinCalls <= 0 {
		mo.MinCalls = 10
	}
	l := &BreakerLoad{opts: o, start: time.Now()}
	l.cb = gobreakermon.New[[]byte](m, gobreaker.Settings{
		Name:        o.Name,
		MaxRequests: 3,
		// Failures are counted over a rolling window as long as an
		// outage, so that an outage's failures outweigh the successes
		// before it.
		Interval:     o.Outage,
		BucketPeriod: max(o.Outage/10, time.Millisecond),
		Timeout:      o.OpenTimeout,
		ReadyToTrip: func(c gobreaker.Counts) bool {
			return c.Requests >= 10 && float64(c.TotalFailures) >= 0.5*float64(c.Requests)
		},
		IsExcluded: func(err error) bool { return errors.Is(err, context.Canceled) },
	}, &mo)
	return l
}

// Monitor returns the breaker's monitor: State, Stats, Score.
func (l *BreakerLoad) Monitor() *breaker.Breaker { return l.cb.Monitor() }

// Call makes one payment call through the breaker. It returns
// gobreaker.ErrOpenState (or ErrTooManyRequests while half-open) without
// calling the provider when the breaker refuses, ErrPaymentFailed when
// the provider fails, and ctx's error when ctx ends first.
func (l *BreakerLoad) Call(ctx context.Context) error {
	_, err := l.cb.Execute(func() ([]byte, error) { return l.call(ctx) })
	return err
}

// Outage makes the provider fail for d from now, on top of its
// recurring outages.
func (l *BreakerLoad) Outage(d time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if end := time.Now().Add(d); end.After(l.outageEnd) {
		l.outageEnd = end
	}
}

func (l *BreakerLoad) down(now time.Time) bool {
	l.mu.Lock()
	forced := now.Before(l.outageEnd)
	l.mu.Unlock()
	phase := now.Sub(l.start) % l.opts.Period
	return forced || phase >= l.opts.Period-l.opts.Outage
}

// Run calls the provider through the breaker until ctx is done. It
// returns nil when ctx ends it.
func (l *BreakerLoad) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for range l.opts.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t := time.NewTimer(0)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
				}
				l.cb.Execute(func() ([]byte, error) { return l.call(ctx) })
				t.Reset(l.opts.Interval)
			}
		}()
	}
	wg.Wait()
	return nil
}

// call is the provider: a few milliseconds when healthy; during an
// outage most calls fail, slowly, as calls to a struggling service do.
func (l *BreakerLoad) call(ctx context.Context) ([]byte, error) {
	down := l.down(time.Now())
	d := l.opts.Latency/2 + time.Duration(rand.Int64N(int64(l.opts.Latency)))
	fail := down && rand.IntN(10) < 9
	if fail {
		d *= 5
	} else if rand.IntN(200) == 0 {
		fail = true // the odd error of a healthy service
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-t.C:
	}
	if fail {
		return nil, ErrPaymentFailed
	}
	return []byte("ok"), nil
}
