package queryapi_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"time"

	"github.com/bizra/vitals"
	"github.com/bizra/vitals/aggregate"
	"github.com/bizra/vitals/history"
	"github.com/bizra/vitals/history/queryapi"
	"github.com/bizra/vitals/metric"
)

func ExampleAPI_Mount() {
	dir, _ := os.MkdirTemp("", "vitals-example")
	defer os.RemoveAll(dir)
	clk := vitals.NewManualClock(time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC))
	m := vitals.New(&vitals.Options{Clock: clk})

	agg := aggregate.New(m, nil)
	st, err := history.Open(m, &history.Options{Dir: dir, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		panic(err)
	}
	defer st.Close()

	m.Collect() // the first tick: later ones know the time since it
	jobs := m.Registry().Counter(metric.Opts{Name: "jobs_done_total", Help: "Jobs finished."})
	for i := 0; i < 3*60; i++ { // three minutes of 1-second ticks
		clk.Advance(time.Second)
		jobs.Add(2)
		m.Collect()
	}
	_ = st.Flush(context.Background())

	mux := http.NewServeMux()
	queryapi.New(agg, st, &queryapi.Options{Clock: clk}).Mount(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	for _, q := range []string{
		"/api/v1/query_range?series=jobs_done_total&stat=rate&from=2026-03-01T00:00:00Z&step=1m",
		"/api/v1/query_range?series=jobs_done_total&stat=p99",
	} {
		resp, err := srv.Client().Get(srv.URL + q)
		if err != nil {
			panic(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Print(resp.StatusCode, " ", string(body))
	}
	// Output:
	// 200 {"series":"jobs_done_total","type":"counter","unit":"","stat":"rate","from":"2026-03-01T00:00:00Z","to":"2026-03-01T00:03:00Z","step_seconds":60,"tier_seconds":60,"points":[[1772323200,2],[1772323260,2],[1772323320,2]]}
	// 400 {"error":"stat does not apply to the series: p99 is not defined for counter jobs_done_total"}
}
