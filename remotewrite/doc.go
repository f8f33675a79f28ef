// Package remotewrite pushes a vitals registry to Prometheus remote-write
// receivers (Prometheus, Grafana Mimir, Thanos Receive, VictoriaMetrics,
// Cortex) with Remote-Write 1.0 or 2.0, chosen per endpoint, through a
// durable on-disk queue that keeps what could not be sent across receiver
// outages and restarts of the service itself.
//
// Every Interval (15 s) the Writer reads the registry's series directly
// (the same instruments a scrape of /metrics reads), encodes them once per
// protocol version (1.0 with the Prometheus project's own message types,
// 2.0 straight to the same wire format, byte for byte what those types
// write, without allocating), and appends the result to each endpoint's
// queue. Each endpoint's sender
// sends the queue oldest first, splitting a push into requests of at most
// MaxSamplesPerSend samples sent by up to MaxShards shards in parallel.
// 5xx and 429 answers, timeouts and broken connections are retried with
// exponential backoff and jitter (honouring Retry-After); any other 4xx is
// final: those samples are dropped, counted, and the receiver's message is
// logged at most once a minute. Nothing is dropped silently: the
// vitals_remote_write_*_failed_total counters say how many samples were
// lost and why (rejected, too_old, queue_full, corrupt).
//
//	m := vitals.New(nil)
//	w, err := remotewrite.New(m, &remotewrite.Options{
//		Dir: "/var/lib/myservice/remote-write",
//		Endpoints: []remotewrite.Endpoint{{
//			URL:     "http://prometheus:9090/api/v1/write",
//			Version: remotewrite.V2,
//		}},
//	})
//	if err != nil {
//		log.Fatal(err)
//	}
//	m.Start()
//	w.Start()
//	defer w.Close() // a final push, up to FlushTimeout to deliver it
//
// Remote-Write 1.0 sends histograms as classic _bucket/_sum/_count series;
// 2.0 sends them as native histograms at schema 6 (vitals' own buckets,
// mapped exactly), with metadata and start timestamps.
//
// A Writer's methods are safe for concurrent use. Close is idempotent.
package remotewrite
