package metric

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
)

// Registry holds metric families. It is an explicit value: a service
// usually has one, owned by its vitals.Monitor. Registration methods are
// idempotent: asking again for a family with the same name, kind, labels
// and buckets returns the same instruments. Asking for an existing name
// with a different shape, or for an invalid name, is a programming error
// and panics with a message that says which.
//
// The zero value is ready to use. All methods are safe for concurrent use.
type Registry struct {
	mu       sync.Mutex
	byName   map[string]*Family
	families atomic.Pointer[[]*Family]
	nextID   atomic.Uint64

	selfRejected *FuncVec
	selfOverflow *FuncVec
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{} }

// Families returns the registered families in registration order. The
// slice is shared and must not be modified.
func (r *Registry) Families() []*Family {
	if p := r.families.Load(); p != nil {
		return *p
	}
	return nil
}

// Family returns the family registered under name, or nil.
func (r *Registry) Family(name string) *Family {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.byName[name]
}

// Unregister removes a family and reports whether it was there. Its
// instruments keep working but are no longer exported.
func (r *Registry) Unregister(name string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	f := r.byName[name]
	if f == nil {
		return false
	}
	delete(r.byName, name)
	next := slices.DeleteFunc(slices.Clone(r.Families()), func(x *Family) bool { return x == f })
	r.families.Store(&next)
	return true
}

// Counter returns the counter named by opts (without labels).
func (r *Registry) Counter(opts Opts) *Counter {
	return r.family(opts, KindCounter, varCounter, false).get(nil).Counter
}

// CounterVec returns the counter family named by opts.
func (r *Registry) CounterVec(opts Opts) *Vec[*Counter] {
	return &Vec[*Counter]{f: r.family(opts, KindCounter, varCounter, true), get: func(s *Series) *Counter { return s.Counter }}
}

// Gauge returns the integer gauge named by opts (without labels).
func (r *Registry) Gauge(opts Opts) *Gauge {
	return r.family(opts, KindGauge, varGauge, false).get(nil).Gauge
}

// GaugeVec returns the integer gauge family named by opts.
func (r *Registry) GaugeVec(opts Opts) *Vec[*Gauge] {
	return &Vec[*Gauge]{f: r.family(opts, KindGauge, varGauge, true), get: func(s *Series) *Gauge { return s.Gauge }}
}

// FloatGauge returns the float gauge named by opts (without labels).
func (r *Registry) FloatGauge(opts Opts) *FloatGauge {
	return r.family(opts, KindGauge, varFloatGauge, false).get(nil).FloatGauge
}

// FloatGaugeVec returns the float gauge family named by opts.
func (r *Registry) FloatGaugeVec(opts Opts) *Vec[*FloatGauge] {
	return &Vec[*FloatGauge]{f: r.family(opts, KindGauge, varFloatGauge, true), get: func(s *Series) *FloatGauge { return s.FloatGauge }}
}

// Histogram returns the histogram named by opts (without labels).
func (r *Registry) Histogram(opts Opts) *Histogram {
	return r.family(opts, KindHistogram, varHistogram, false).get(nil).Histogram
}

// HistogramVec returns the histogram family named by opts.
func (r *Registry) HistogramVec(opts Opts) *Vec[*Histogram] {
	return &Vec[*Histogram]{f: r.family(opts, KindHistogram, varHistogram, true), get: func(s *Series) *Histogram { return s.Histogram }}
}

// CounterFunc registers a counter whose value fn returns when read. fn must
// be safe for concurrent use, must not block, and must never decrease.
func (r *Registry) CounterFunc(opts Opts, fn func() float64) {
	r.CounterFuncVec(opts).Bind(fn)
}

// GaugeFunc registers a gauge whose value fn returns when read.
func (r *Registry) GaugeFunc(opts Opts, fn func() float64) {
	r.GaugeFuncVec(opts).Bind(fn)
}

// CounterFuncVec returns a family of callback counters.
func (r *Registry) CounterFuncVec(opts Opts) *FuncVec {
	return &FuncVec{f: r.family(opts, KindCounter, varCounterFunc, true)}
}

// GaugeFuncVec returns a family of callback gauges.
func (r *Registry) GaugeFuncVec(opts Opts) *FuncVec {
	return &FuncVec{f: r.family(opts, KindGauge, varGaugeFunc, true)}
}

func (r *Registry) family(opts Opts, kind Kind, v variant, vec bool) *Family {
	if err := ValidateName(opts.Name); err != nil {
		panic("vitals/metric: " + err.Error())
	}
	if !vec && len(opts.Labels) > 0 {
		panic(fmt.Sprintf("vitals/metric: %s has labels %v: use the Vec form", opts.Name, opts.Labels))
	}
	for i, l := range opts.Labels {
		if err := ValidateLabelName(l); err != nil {
			panic("vitals/metric: " + opts.Name + ": " + err.Error())
		}
		if slices.Contains(opts.Labels[:i], l) {
			panic(fmt.Sprintf("vitals/metric: %s: label %q given twice", opts.Name, l))
		}
	}
	if u := opts.Unit; u != "" {
		if err := validateIdent(u, false); err != nil {
			panic("vitals/metric: " + opts.Name + ": bad unit " + u)
		}
		base := strings.TrimSuffix(opts.Name, "_total")
		if !strings.HasSuffix(base, "_"+u) {
			panic(fmt.Sprintf("vitals/metric: %s has unit %q: the name must end in _%s (before _total), as OpenMetrics requires", opts.Name, u, u))
		}
	}
	if opts.Help == "" {
		panic("vitals/metric: " + opts.Name + ": Help is required")
	}
	maxSeries := opts.MaxSeries
	if maxSeries <= 0 {
		maxSeries = DefaultMaxSeries
	}
	var buckets []float64
	if kind == KindHistogram {
		buckets = opts.Buckets
		if buckets != nil {
			// Validate now, with the family's name in the message.
			NewHistogram(&HistogramOpts{Buckets: buckets})
		}
	}

	r.mu.Lock()
	if f := r.byName[opts.Name]; f != nil {
		r.mu.Unlock()
		if diff := f.shapeDiff(v, opts.Labels, buckets, maxSeries); diff != "" {
			panic(fmt.Sprintf("vitals/metric: %s is already registered with another shape: %s", opts.Name, diff))
		}
		return f
	}
	if r.byName == nil {
		r.byName = make(map[string]*Family)
	}
	f := &Family{
		Name:      opts.Name,
		Help:      opts.Help,
		Unit:      opts.Unit,
		Kind:      kind,
		Labels:    slices.Clone(opts.Labels),
		MaxSeries: maxSeries,
		variant:   v,
		buckets:   slices.Clone(buckets),
		reg:       r,
	}
	r.byName[opts.Name] = f
	next := append(slices.Clone(r.Families()), f)
	r.families.Store(&next)
	r.mu.Unlock()

	// Self-metrics, so that bad input and label explosions are visible
	// from the first scrape on (no silent zeros).
	if kind == KindHistogram {
		rej := r.selfRejectedVec()
		for reason, name := range rejectReasonNames {
			rej.Bind(func() float64 { return float64(f.Rejected(RejectReason(reason))) }, f.Name, name)
		}
	}
	if vec && len(f.Labels) > 0 && f.Name != selfOverflowName && f.Name != selfRejectedName {
		r.selfOverflowVec().Bind(func() float64 { return float64(f.Overflowed()) }, f.Name)
	}
	return f
}

func (r *Registry) selfRejectedVec() *FuncVec {
	r.mu.Lock()
	v := r.selfRejected
	r.mu.Unlock()
	if v == nil {
		v = r.CounterFuncVec(Opts{
			Name:      selfRejectedName,
			Help:      "Observations not recorded because the value was NaN, infinite or negative, by metric and reason.",
			Labels:    []string{"metric", "reason"},
			MaxSeries: 100000,
		})
		r.mu.Lock()
		r.selfRejected = v
		r.mu.Unlock()
	}
	return v
}

func (r *Registry) selfOverflowVec() *FuncVec {
	r.mu.Lock()
	v := r.selfOverflow
	r.mu.Unlock()
	if v == nil {
		v = r.CounterFuncVec(Opts{
			Name:      selfOverflowName,
			Help:      "Label sets folded into a family's overflow series because the family was at its series cap.",
			Labels:    []string{"metric"},
			MaxSeries: 100000,
		})
		r.mu.Lock()
		r.selfOverflow = v
		r.mu.Unlock()
	}
	return v
}

const (
	selfRejectedName = "vitals_rejected_observations_total"
	selfOverflowName = "vitals_series_overflow_total"
)

var variantNames = [...]string{
	varCounter:     "Counter",
	varGauge:       "Gauge",
	varFloatGauge:  "FloatGauge",
	varHistogram:   "Histogram",
	varCounterFunc: "CounterFunc",
	varGaugeFunc:   "GaugeFunc",
}

// shapeDiff says how a registration differs from f, or returns "".
func (f *Family) shapeDiff(v variant, labels []string, buckets []float64, maxSeries int) string {
	switch {
	case f.variant != v:
		return fmt.Sprintf("registered as a %s, asked for a %s", variantNames[f.variant], variantNames[v])
	case !slices.Equal(f.Labels, labels):
		return fmt.Sprintf("registered with labels %q, asked with %q", f.Labels, labels)
	case !slices.Equal(f.buckets, buckets):
		return fmt.Sprintf("registered with buckets %v, asked with %v", f.buckets, buckets)
	case f.MaxSeries != maxSeries:
		return fmt.Sprintf("registered with MaxSeries %d, asked with %d", f.MaxSeries, maxSeries)
	}
	return ""
}
