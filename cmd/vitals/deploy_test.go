package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/bizra/vitals/cmd/vitals/internal/demo"
	"github.com/bizra/vitals/health"
	"github.com/bizra/vitals/remotewrite"
)

// The deployment files under deploy/ are checked against the code: every
// manifest parses, every demo argument is a flag the demo accepts, ports
// and probe paths are the ones the demo serves (asked of a running demo),
// and the grace period outlasts the drain.

const deployDir = "../../deploy"

// yamlDocs parses every YAML document of every file under dir.
func yamlDocs(t *testing.T, dir string) map[string][]map[string]any {
	t.Helper()
	out := map[string][]map[string]any{}
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !(strings.HasSuffix(path, ".yaml") || strings.HasSuffix(path, ".yml")) {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		dec := yaml.NewDecoder(bytes.NewReader(b))
		for {
			var doc map[string]any
			if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				t.Errorf("%s does not parse: %v", path, err)
				break
			}
			if doc != nil {
				out[path] = append(out[path], doc)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) == 0 {
		t.Fatalf("no manifests under %s", dir)
	}
	return out
}

// get walks a parsed document: keys for maps, indexes for lists.
func get(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, _ := v.(map[string]any)
			v = m[k]
		case int:
			l, _ := v.([]any)
			if k >= len(l) {
				return nil
			}
			v = l[k]
		}
	}
	return v
}

func strs(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}

// parseDemoArgs runs the demo's own flag parsing over args (after "demo").
func parseDemoArgs(t *testing.T, where string, args []string) *demoConfig {
	t.Helper()
	if len(args) == 0 || args[0] != "demo" {
		t.Fatalf("%s: the command must start with demo: %v", where, args)
	}
	fs, c := demoFlags(io.Discard)
	if err := fs.Parse(args[1:]); err != nil {
		t.Fatalf("%s: the demo refuses its arguments %v: %v", where, args, err)
	}
	return c
}

func portOf(t *testing.T, addr string) int {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("address %q: %v", addr, err)
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		t.Fatalf("address %q: %v", addr, err)
	}
	return n
}

// servedPaths starts the demo and reports the status of each path.
func servedPaths(t *testing.T, paths ...string) map[string]int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- demo.Run(ctx, demo.Config{Listener: ln, DataDir: t.TempDir(), Rate: 10, DrainDelay: 0, Logger: slog.New(slog.DiscardHandler)})
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("demo: %v", err)
		}
	}()
	base := "http://" + ln.Addr().String()
	client := &http.Client{Timeout: 5 * time.Second}
	out := map[string]int{}
	deadline := time.Now().Add(30 * time.Second)
	for _, p := range paths {
		for {
			resp, err := client.Get(base + p)
			if err == nil {
				resp.Body.Close()
				out[p] = resp.StatusCode
				// The startup gate opens after two collector ticks.
				if resp.StatusCode == http.StatusOK || time.Now().After(deadline) {
					break
				}
			}
			time.Sleep(100 * time.Millisecond) // polling a real server
		}
	}
	return out
}

func TestKubernetesManifests(t *testing.T) {
	docs := yamlDocs(t, filepath.Join(deployDir, "kubernetes"))
	byKind := map[string]map[string]any{}
	for path, ds := range docs {
		for _, d := range ds {
			kind, _ := d["kind"].(string)
			if kind == "" || d["apiVersion"] == nil {
				t.Errorf("%s: a document without kind or apiVersion", path)
			}
			byKind[kind] = d
		}
	}
	dep := byKind["Deployment"]
	if dep == nil {
		t.Fatal("no Deployment")
	}
	spec := get(dep, "spec", "template", "spec")
	ctr := get(spec, "containers", 0)
	c := parseDemoArgs(t, "Deployment", strs(get(ctr, "args")))
	port := portOf(t, c.Addr)
	if port != portOf(t, demo.DefaultAddr) {
		t.Errorf("Deployment listens on %d, the demo's default port is %s", port, demo.DefaultAddr)
	}
	if p := get(ctr, "ports", 0); get(p, "name") != "http" || get(p, "containerPort") != port {
		t.Errorf("container port %v, want http = %d", p, port)
	}
	probes := map[string]string{
		"livenessProbe":  health.PathLivez,
		"readinessProbe": health.PathReadyz,
		"startupProbe":   health.PathReadyz + "/startup",
	}
	var paths []string
	for probe, want := range probes {
		if got := get(ctr, probe, "httpGet", "path"); got != want {
			t.Errorf("%s path %v, want %s", probe, got, want)
		}
		if got := get(ctr, probe, "httpGet", "port"); got != "http" {
			t.Errorf("%s port %v, want http", probe, got)
		}
		paths = append(paths, want)
	}

	// The drain: readiness fails for DrainDelay, the servers get
	// ShutdownTimeout, then remote write and OTLP flush.
	grace, _ := get(spec, "terminationGracePeriodSeconds").(int)
	drain := c.DrainDelay + demo.ShutdownTimeout + remotewrite.DefaultFlushTimeout + demo.OTLPShutdownTimeout
	if time.Duration(grace)*time.Second <= drain {
		t.Errorf("terminationGracePeriodSeconds %d does not outlast the drain (%v)", grace, drain)
	}
	if len(c.Push.RemoteWrite) == 0 {
		t.Error("the Deployment does not push by remote write")
	}
	if mounts := get(ctr, "volumeMounts", 0, "mountPath"); mounts == nil || !strings.HasPrefix(c.DataDir, mounts.(string)+"/") {
		t.Errorf("the data directory %s is not on the mounted volume %v (the queue would not survive)", c.DataDir, mounts)
	}

	svc := byKind["Service"]
	if get(svc, "spec", "ports", 0, "targetPort") != "http" || get(svc, "spec", "ports", 0, "port") != port {
		t.Errorf("Service ports %v", get(svc, "spec", "ports"))
	}
	pm := byKind["PodMonitor"]
	ep := get(pm, "spec", "podMetricsEndpoints", 0)
	if get(ep, "port") != "http" || get(ep, "path") != "/metrics" {
		t.Errorf("PodMonitor endpoint %v", ep)
	}
	if get(ep, "scrapeProtocols", 0) != "PrometheusProto" {
		t.Error("PodMonitor does not scrape protobuf first: native histograms would be lost")
	}
	paths = append(paths, "/metrics")

	for p, code := range servedPaths(t, paths...) {
		if code != http.StatusOK {
			t.Errorf("the demo answers %s with %d", p, code)
		}
	}

	// The PrometheusRule carries the generated rule file's groups as they
	// are.
	rules := yamlDocs(t, "../../monitoring/alerts")["../../monitoring/alerts/vitals-alerts.yaml"]
	if len(rules) != 1 {
		t.Fatal("monitoring/alerts/vitals-alerts.yaml missing")
	}
	if pr := byKind["PrometheusRule"]; pr == nil || !reflect.DeepEqual(get(pr, "spec", "groups"), rules[0]["groups"]) {
		t.Error("deploy/kubernetes/prometheusrule.yaml does not hold the groups of monitoring/alerts/vitals-alerts.yaml: " +
			"rewrap the rule file (its groups: under spec:) after `vitals rules`")
	}
}

func TestComposeFile(t *testing.T) {
	dir := filepath.Join(deployDir, "compose")
	docs := yamlDocs(t, dir)
	compose := docs[filepath.Join(dir, "compose.yaml")][0]
	services := get(compose, "services").(map[string]any)
	named := map[string]bool{}
	for k := range get(compose, "volumes").(map[string]any) {
		named[k] = true
	}
	published := map[string][]int{}
	for name, s := range services {
		for _, v := range get(s, "volumes").([]any) {
			src := strings.SplitN(v.(string), ":", 2)[0]
			if strings.HasPrefix(src, ".") || strings.HasPrefix(src, "/") {
				if _, err := os.Stat(filepath.Join(dir, src)); err != nil {
					t.Errorf("%s mounts %s, which does not exist", name, src)
				}
			} else if !named[src] {
				t.Errorf("%s mounts volume %s, not declared", name, src)
			}
		}
		if b := get(s, "build"); b != nil {
			ctx := filepath.Join(dir, get(b, "context").(string))
			if _, err := os.Stat(filepath.Join(ctx, get(b, "dockerfile").(string))); err != nil {
				t.Errorf("%s builds from a missing Dockerfile: %v", name, err)
			}
		}
		if ports := get(s, "ports"); ports != nil {
			for _, p := range ports.([]any) {
				parts := strings.Split(p.(string), ":")
				host, _ := strconv.Atoi(parts[0])
				ctr, _ := strconv.Atoi(parts[len(parts)-1])
				if host != ctr {
					t.Errorf("%s publishes %s: keep host and container ports equal", name, p)
				}
				published[name] = append(published[name], ctr)
			}
		}
	}
	// A URL must name a service and a port that service publishes.
	checkURL := func(where, raw string) {
		u, err := url.Parse(raw)
		if err != nil {
			t.Errorf("%s: %v", where, err)
			return
		}
		port, _ := strconv.Atoi(u.Port())
		if !slices.Contains(published[u.Hostname()], port) {
			t.Errorf("%s: %s names %s:%d, which compose does not serve", where, raw, u.Hostname(), port)
		}
	}
	c := parseDemoArgs(t, "compose vitals", strs(get(services["vitals"], "command")))
	if !slices.Contains(published["vitals"], portOf(t, c.Addr)) {
		t.Errorf("vitals listens on %s, compose publishes %v", c.Addr, published["vitals"])
	}
	for _, u := range c.Push.RemoteWrite {
		checkURL("vitals --remote-write", u)
	}
	checkURL("vitals --otlp", c.Push.OTLP)
	pargs := strs(get(services["prometheus"], "command"))
	for _, f := range []string{"--web.enable-remote-write-receiver", "--web.enable-otlp-receiver"} {
		if !slices.Contains(pargs, f) {
			t.Errorf("Prometheus lacks %s", f)
		}
	}
	prom := docs[filepath.Join(dir, "prometheus.yml")][0]
	// Rule files Prometheus loads must be mounted into it.
	var promMounts []string
	for _, v := range get(services["prometheus"], "volumes").([]any) {
		if parts := strings.Split(v.(string), ":"); len(parts) > 1 {
			promMounts = append(promMounts, parts[1])
		}
	}
	for _, rf := range strs(get(prom, "rule_files")) {
		if !slices.Contains(promMounts, rf) {
			t.Errorf("prometheus.yml loads %s, which compose does not mount", rf)
		}
	}
	if len(get(prom, "rule_files").([]any)) == 0 {
		t.Error("Prometheus in compose loads no alert rules")
	}
	for _, target := range strs(get(prom, "scrape_configs", 0, "static_configs", 0, "targets")) {
		checkURL("prometheus.yml scrape target", "http://"+target)
	}
	checkURL("prometheus.yml alertmanager", "http://"+get(prom, "alerting", "alertmanagers", 0, "static_configs", 0, "targets", 0).(string))
	ds := docs[filepath.Join(dir, "grafana", "provisioning", "datasources", "prometheus.yml")][0]
	checkURL("grafana datasource", get(ds, "datasources", 0, "url").(string))
	if grace := get(services["vitals"], "stop_grace_period"); grace != nil {
		d, err := time.ParseDuration(grace.(string))
		drain := c.DrainDelay + demo.ShutdownTimeout + remotewrite.DefaultFlushTimeout + demo.OTLPShutdownTimeout
		if err != nil || d <= drain {
			t.Errorf("stop_grace_period %v does not outlast the drain (%v)", grace, drain)
		}
	} else {
		t.Error("vitals has no stop_grace_period: compose kills it after 10 s, mid-drain")
	}
}
