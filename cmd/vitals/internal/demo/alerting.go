package demo

import (
	"log/slog"
	"net/http"
	"regexp"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/bizra/vitals"
	"github.com/bizra/vitals/alerting/eval"
	"github.com/bizra/vitals/alerting/histstore"
	"github.com/bizra/vitals/alerting/store"
	"github.com/bizra/vitals/cmd/vitals/internal/demoload"
	"github.com/bizra/vitals/history"
	"github.com/bizra/vitals/internal/httpx"
	"github.com/bizra/vitals/stream"
)

// Demo alerting settings: rules evaluated every 5 s over a ring of 5-s
// samples kept for an hour, and a 90-second payment outage every 5
// minutes, long enough for VitalsBreakerOpen (open or half-open for 1m)
// to fire, and then to resolve 2 minutes (keep_firing_for) after it ends.
const (
	alertInterval = 5 * time.Second
	outageEvery   = 5 * time.Minute
	outageFor     = 90 * time.Second
)

// startAlerting runs the alert rules in process (cfg.AlertRules, or the
// shipped ones): a sample ring fed by m (plus the Go runtime and process
// metrics, as /metrics has them) joined to hist for the time before it
// (so `offset 1d` and the 6-h ratio read the history), Prometheus'
// engine, GET /api/v1/alerts
// and /api/v1/rules on api, the PromQL API under /promql/ on mux (behind
// the API token), delivery to cfg.Alertmanager when set, alert changes
// pushed to hub's alerts topic, and the scheduled payment outages. The
// returned function stops all of it.
func startAlerting(m *vitals.Monitor, hist *history.Store, api, mux *http.ServeMux, apiTok *httpx.Token, payments *demoload.BreakerLoad, hub *stream.Hub, cfg Config, log *slog.Logger) (stop func(), err error) {
	runtime := prometheus.NewRegistry()
	runtime.MustRegister(
		collectors.NewGoCollector(collectors.WithGoCollectorRuntimeMetrics(collectors.GoRuntimeMetricsRule{
			Matcher: regexp.MustCompile(`^/sched/latencies:seconds$`)})),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	st := store.New(m, &store.Options{Labels: map[string]string{"job": "vitals", "instance": cfg.Addr}, Gatherer: runtime})
	var notifier *eval.Notifier
	if cfg.Alertmanager != "" {
		if notifier, err = eval.NewNotifier(eval.NotifierOptions{URL: cfg.Alertmanager, Registry: m.Registry(), Logger: log}); err != nil {
			st.Close()
			return nil, err
		}
	}
	var ev *eval.Evaluator
	var publish func([]eval.Event) // set before ev starts
	ev, err = eval.New(histstore.New(st, hist), &eval.Options{Groups: cfg.AlertRules, Interval: alertInterval, Notifier: notifier, Registry: m.Registry(), Logger: log,
		ExternalURL: "http://" + cfg.Addr,
		OnEvent: func(events []eval.Event) {
			for _, e := range events {
				log.Info("alert", "alert", e.Alert.Labels.Get("alertname"), "from", e.From.String(), "to", e.To.String(), "labels", e.Alert.Labels.String())
			}
			publish(events)
		}})
	if err != nil {
		st.Close()
		return nil, err
	}
	publish = alertEvents(hub, ev.Alerts)
	promqlMux := http.NewServeMux()
	ev.Mount(promqlMux)
	api.Handle("GET /api/v1/alerts", promqlMux)
	api.Handle("GET /api/v1/rules", promqlMux)
	mux.Handle(eval.PromQLPrefix+"/", requireToken(apiTok, promqlMux))
	if notifier != nil {
		notifier.Start()
	}
	ev.Start()
	done := make(chan struct{})
	outages := make(chan struct{})
	go func() {
		defer close(outages)
		t := time.NewTicker(outageEvery)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				log.Info("scheduled payment outage: VitalsBreakerOpen fires in a minute and resolves 2 minutes after it ends", "for", outageFor.String())
				payments.Outage(outageFor)
			}
		}
	}()
	return func() {
		close(done)
		<-outages
		ev.Stop()
		if notifier != nil {
			notifier.Stop()
		}
		st.Close()
	}, nil
}
