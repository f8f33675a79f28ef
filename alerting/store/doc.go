// Package store keeps a short ring of raw samples of every series a
// vitals Monitor collects, native histograms included, and serves them as
// a Prometheus storage.Queryable, so that Prometheus' own PromQL engine
// can evaluate the alert rules and the dashboard's queries inside the
// service, with no Prometheus running.
//
// The Store is a Consumer: it keeps one tick in every Resolution (default
// 5 s, about what a Prometheus scrape sees) for Retention (default 1 h),
// and the series of Options.Gatherer (the Go runtime and process metrics,
// which history does not keep) for GathererRetention (default 2 h, what
// the shipped rules over them read: VitalsGoroutineLeak's `[1h] offset
// 1h`). Timestamps are kept once per tick for all series, so a float
// sample costs 8 bytes; a histogram sample is a native histogram (spans
// shared with the previous sample while they do not change). Series get
// the Options.Labels (job, instance) as Prometheus' scrape would add them.
//
//	st := store.New(m, &store.Options{Labels: map[string]string{"job": "shop", "instance": "host:9911"}})
//	defer st.Close()
//	engine := promql.NewEngine(promql.EngineOpts{MaxSamples: 5e7, Timeout: time.Minute})
//	q, _ := engine.NewInstantQuery(ctx, st, nil, `rate(vitals_operations_started_total[1m])`, time.Now())
//
// All methods are safe for concurrent use; queries copy the samples they
// read, so a query never holds the lock while the engine works.
package store
