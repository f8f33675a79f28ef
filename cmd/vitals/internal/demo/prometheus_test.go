package demo

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bizra/vitals"
	"github.com/bizra/vitals/metric"
)

// Tests against a real Prometheus (v0.316.0, built by .ci/run into
// ~/.cache/vitals/bin and named by VITALS_PROMETHEUS), started with its
// remote-write and OTLP receivers on.

func prometheusBinary(t *testing.T) string {
	t.Helper()
	p := os.Getenv("VITALS_PROMETHEUS")
	if p == "" {
		t.Skip("VITALS_PROMETHEUS is not set: no real Prometheus to push to (.ci/run builds one and sets it)")
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("VITALS_PROMETHEUS=%s: %v", p, err)
	}
	return p
}

type promServer struct {
	t    *testing.T
	bin  string
	dir  string
	addr string
	cmd  *exec.Cmd
	done chan struct{}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func newPromServer(t *testing.T) *promServer {
	p := &promServer{t: t, bin: prometheusBinary(t), dir: t.TempDir(), addr: freeAddr(t)}
	cfg := "global:\n  scrape_interval: 1h\n"
	if err := os.WriteFile(filepath.Join(p.dir, "prometheus.yml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	p.start()
	t.Cleanup(p.stop)
	return p
}

func (p *promServer) start() {
	t := p.t
	t.Helper()
	p.cmd = exec.Command(p.bin,
		"--config.file="+filepath.Join(p.dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(p.dir, "data"),
		"--web.listen-address="+p.addr,
		"--web.enable-remote-write-receiver",
		"--web.enable-otlp-receiver",
		"--log.level=warn",
	)
	logf, err := os.OpenFile(filepath.Join(p.dir, "prometheus.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	p.cmd.Stdout, p.cmd.Stderr = logf, logf
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p.done = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) {
		cmd.Wait()
		logf.Close()
		close(done)
	}(p.cmd, p.done)
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get("http://" + p.addr + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(p.dir, "prometheus.log"))
			t.Fatalf("Prometheus not ready after 60 s:\n%s", log)
		}
		time.Sleep(100 * time.Millisecond) // polling another process
	}
}

func (p *promServer) stop() {
	if p.cmd == nil {
		return
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
	}
	p.cmd = nil
}

// query runs an instant PromQL query and returns the vector's values by
// the given label.
func (p *promServer) query(q string, by string) map[string]float64 {
	p.t.Helper()
	resp, err := http.Get("http://" + p.addr + "/api/v1/query?query=" + url.QueryEscape(q))
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Status string
		Error  string
		Data   struct {
			Result []struct {
				Metric map[string]string
				Value  [2]any
			}
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		p.t.Fatal(err)
	}
	if body.Status != "success" {
		p.t.Fatalf("query %s: %s", q, body.Error)
	}
	out := map[string]float64{}
	for _, r := range body.Data.Result {
		v, _ := strconv.ParseFloat(fmt.Sprint(r.Value[1]), 64)
		out[r.Metric[by]] = v
	}
	return out
}

// samples returns the raw sample timestamps (s) and values of a range
// selector, for the first series it matches.
func (p *promServer) samples(sel string) (ts []float64, vals []float64) {
	p.t.Helper()
	resp, err := http.Get("http://" + p.addr + "/api/v1/query?query=" + url.QueryEscape(sel))
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Data struct {
			Result []struct {
				Values [][2]any
			}
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		p.t.Fatal(err)
	}
	if len(body.Data.Result) == 0 {
		return nil, nil
	}
	for _, v := range body.Data.Result[0].Values {
		t, _ := v[0].(float64)
		x, _ := strconv.ParseFloat(fmt.Sprint(v[1]), 64)
		ts = append(ts, t)
		vals = append(vals, x)
	}
	return ts, vals
}

// TestRealPrometheusReceivesRemoteWriteAndOTLP pushes one registry to a
// real Prometheus by Remote-Write 1.0, 2.0 and OTLP (the demo's own push
// wiring) and compares what Prometheus answers with the service's values.
func TestRealPrometheusReceivesRemoteWriteAndOTLP(t *testing.T) {
	prom := newPromServer(t)
	m := vitals.New(nil)
	r := m.Registry()
	ctr := r.Counter(metric.Opts{Name: "shop_e2e_orders_total", Help: "Orders placed."})
	lat := r.Histogram(metric.Opts{Name: "shop_e2e_latency_seconds", Unit: "seconds", Help: "Checkout latency."})
	// A deterministic, wide latency distribution: 20,000 values from
	// 0.5 ms to ~8 s.
	x := uint64(88172645463325252)
	for i := 0; i < 20000; i++ {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		lat.Observe(0.0005 * math.Exp(float64(x%10000)/10000*9.7))
	}
	ctr.Add(123457)

	base := "http://" + prom.addr
	var stops []func()
	for _, c := range []Config{
		{Addr: "rw1", Push: Push{RemoteWrite: []string{base + "/api/v1/write"}, RemoteWriteVersion: "1", RemoteWriteInterval: time.Second}},
		{Addr: "rw2", Push: Push{RemoteWrite: []string{base + "/api/v1/write"}, RemoteWriteVersion: "2", RemoteWriteInterval: time.Second}},
		{Addr: "otlp", Push: Push{OTLP: base + "/api/v1/otlp/v1/metrics", OTLPInterval: time.Second}},
	} {
		c.DataDir = t.TempDir()
		stop, err := startPush(m, &c, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		stops = append(stops, stop)
	}
	time.Sleep(2500 * time.Millisecond) // two pushes of each kind, then the final one at stop
	for _, stop := range stops {
		stop()
	}

	got := prom.query(`last_over_time(shop_e2e_orders_total[5m])`, "instance")
	for _, inst := range []string{"rw1", "rw2", "otlp"} {
		if got[inst] != 123457 {
			t.Errorf("%s: Prometheus has orders %v, the service 123457 (all: %v)", inst, got[inst], got)
		}
	}
	var hv metric.HistogramValue
	lat.Read(&hv)
	for _, q := range []float64{0.5, 0.9, 0.99} {
		want := hv.Quantile(q)
		native := prom.query(fmt.Sprintf(`histogram_quantile(%v, last_over_time(shop_e2e_latency_seconds[5m]))`, q), "instance")
		for _, inst := range []string{"rw2", "otlp"} {
			if d := math.Abs(native[inst]/want - 1); !(d <= 0.01) {
				t.Errorf("q%v %s: Prometheus %v, vitals %v (%.2f%% apart; all %v)", q, inst, native[inst], want, d*100, native)
			}
		}
	}
	counts := prom.query(`last_over_time(shop_e2e_latency_seconds_count[5m])`, "instance")
	if counts["rw1"] != 20000 {
		t.Errorf("classic histogram count by 1.0: %v", counts)
	}
}

// TestRealPrometheusOutageAndServiceKill: the receiver is down for 60 s
// while the demo keeps counting, comes back; then, during a second
// outage, the demo is killed with SIGKILL and restarted. Every push of
// every life of the demo must be in Prometheus (no gap in the counter's
// samples beyond the restart itself) and the queue must drain to empty.
func TestRealPrometheusOutageAndServiceKill(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the outage test takes about two minutes")
	}
	prom := newPromServer(t)
	bin := filepath.Join(t.TempDir(), "vitals")
	build := exec.Command("go", "build", "-o", bin, "github.com/bizra/vitals/cmd/vitals")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the demo: %v\n%s", err, out)
	}
	data := t.TempDir()
	addr := freeAddr(t)
	runDemo := func() (*exec.Cmd, chan struct{}) {
		cmd := exec.Command(bin, "demo", "--addr", addr, "--admin-addr", "", "--data", data, "--rate", "20",
			"--remote-write", "http://"+prom.addr+"/api/v1/write", "--remote-write-version", "2",
			"--remote-write-interval", "1s", "--log-level", "warn")
		logf, _ := os.OpenFile(filepath.Join(data, "demo.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		cmd.Stdout, cmd.Stderr = logf, logf
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() { cmd.Wait(); logf.Close(); close(done) }()
		waitHTTP(t, "http://"+addr+"/metrics")
		return cmd, done
	}
	demo, done := runDemo()
	defer func() {
		demo.Process.Kill()
		<-done
	}()
	const series = `vitals_collector_ticks_total{job="vitals-demo"}`
	waitQuery(t, prom, series, 3)

	t.Log("outage 1: Prometheus stopped for 60 s")
	prom.stop()
	time.Sleep(60 * time.Second)
	prom.start()
	back := time.Now()
	waitQueueEmpty(t, "http://"+addr+"/metrics", 2*time.Minute)
	t.Logf("drain after a 60 s outage: %v", time.Since(back).Round(100*time.Millisecond))

	t.Log("outage 2: Prometheus stopped, the demo killed with SIGKILL and restarted")
	prom.stop()
	time.Sleep(10 * time.Second)
	demo.Process.Signal(syscall.SIGKILL)
	<-done
	killedAt := time.Now()
	demo, done = runDemo()
	restarted := time.Now()
	time.Sleep(5 * time.Second)
	prom.start()
	back = time.Now()
	waitQueueEmpty(t, "http://"+addr+"/metrics", 2*time.Minute)
	t.Logf("drain after the second outage and a SIGKILL: %v", time.Since(back).Round(100*time.Millisecond))
	time.Sleep(2 * time.Second)

	ts, vals := prom.samples(series + `[10m]`)
	if len(ts) < 60 {
		t.Fatalf("only %d samples in Prometheus", len(ts))
	}
	allowed := restarted.Sub(killedAt).Seconds() + 4 // the demo was not running
	var resets int
	for i := 1; i < len(ts); i++ {
		gap := ts[i] - ts[i-1]
		if vals[i] < vals[i-1] {
			resets++
		}
		// Pushes are 1 s apart; a loaded machine can delay one by a few
		// seconds, an outage lost would leave 15 s or 60 s.
		if gap > 8 && !(resets == 1 && gap <= allowed && vals[i] < vals[i-1]) {
			t.Errorf("gap of %.1f s in the pushed samples at %v (value %v -> %v)", gap, time.Unix(int64(ts[i-1]), 0).UTC(), vals[i-1], vals[i])
		}
	}
	if resets != 1 {
		t.Errorf("%d counter resets, want exactly 1 (the SIGKILL)", resets)
	}
	inc := prom.query(`increase(`+series+`[10m])`, "job")["vitals-demo"]
	if inc < float64(len(ts))*0.9 {
		t.Errorf("increase() over the run %v, with %d pushes one second apart", inc, len(ts))
	}
}

func waitHTTP(t *testing.T, u string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(u); err == nil {
			resp.Body.Close()
			return
		}
		time.Sleep(100 * time.Millisecond) // polling another process
	}
	t.Fatalf("%s never answered", u)
}

func waitQuery(t *testing.T, p *promServer, q string, min float64) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		for _, v := range p.query(q, "job") {
			if v >= min {
				return
			}
		}
		time.Sleep(200 * time.Millisecond) // polling another process
	}
	t.Fatalf("%s never reached %v in Prometheus", q, min)
}

// waitQueueEmpty polls the demo's own vitals_remote_write_queue_records.
func waitQueueEmpty(t *testing.T, metricsURL string, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		resp, err := http.Get(metricsURL)
		if err == nil {
			var b strings.Builder
			buf := make([]byte, 64<<10)
			for {
				n, err := resp.Body.Read(buf)
				b.Write(buf[:n])
				if err != nil {
					break
				}
			}
			resp.Body.Close()
			for _, line := range strings.Split(b.String(), "\n") {
				if strings.HasPrefix(line, "vitals_remote_write_queue_records{") {
					f := strings.Fields(line)
					// Empty but for the push being sent.
					if v, _ := strconv.ParseFloat(f[len(f)-1], 64); v <= 1 {
						return
					}
				}
			}
		}
		time.Sleep(200 * time.Millisecond) // polling another process
	}
	t.Fatalf("the remote-write queue did not drain within %v", limit)
}
