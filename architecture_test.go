package vitals_test

import (
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// layer is one package's entry in the package map of docs/ARCHITECTURE.md:
// the vitals packages and the third-party modules it may import. Keep the
// two in step.
type layer struct {
	vitals   []string // vitals packages, by path below the module ("." is the root)
	external []string // third-party module path prefixes
	any      bool     // anything (the demo)
}

var packageMap = map[string]layer{
	// The core: the standard library only.
	"metric": {},
	"score":  {},
	"window": {vitals: []string{"metric"}},
	".":      {vitals: []string{"metric", "window"}},

	// Consumers of snapshots and monitors: the standard library only.
	"aggregate":         {vitals: []string{".", "metric", "window"}},
	"cache":             {vitals: []string{".", "metric", "window", "score"}},
	"dbpool":            {vitals: []string{".", "metric", "window", "score"}},
	"breaker":           {vitals: []string{".", "metric", "window", "score"}},
	"health":            {vitals: []string{".", "metric", "score", "internal/httpx", "health/perfscore"}},
	"health/perfscore":  {vitals: []string{".", "score"}},
	"internal/httpx":    {},
	"internal/testutil": {},
	// A test aid: a TCP proxy that tests cut, for outages of real servers.
	"internal/faultnet": {},
	"vitalstest":        {vitals: []string{".", "metric", "exposition"}},

	// HTTP edges.
	"monitorsapi": {vitals: []string{".", "cache", "dbpool", "breaker", "score", "internal/httpx"}},
	"vitalshttp":  {vitals: []string{".", "metric", "internal/httpx"}},
	"exposition": {vitals: []string{"metric", "internal/httpx"}, external: []string{
		"github.com/klauspost/compress", "github.com/prometheus/client_golang",
		"github.com/prometheus/client_model", "github.com/prometheus/common", "google.golang.org/protobuf"}},

	// Nested modules: each pulls one third-party library.
	"history":              {vitals: []string{".", "metric"}, external: []string{"go.etcd.io/bbolt"}},
	"history/queryapi":     {vitals: []string{".", "metric", "window", "aggregate", "history", "internal/httpx"}},
	"cache/ottermon":       {vitals: []string{"cache", ".", "metric"}, external: []string{"github.com/maypok86/otter/v2"}},
	"cache/redismon":       {vitals: []string{"cache", ".", "metric"}, external: []string{"github.com/redis/go-redis/v9"}},
	"dbpool/sqlmon":        {vitals: []string{"dbpool", ".", "metric"}},
	"dbpool/pgxpoolmon":    {vitals: []string{"dbpool", ".", "metric"}, external: []string{"github.com/jackc/pgx/v5"}},
	"breaker/gobreakermon": {vitals: []string{"breaker", ".", "metric"}, external: []string{"github.com/sony/gobreaker/v2"}},

	// Live streaming: WebSocket and SSE.
	"stream":        {vitals: []string{".", "metric", "health", "internal/httpx"}, external: []string{"github.com/coder/websocket"}},
	"stream/client": {external: []string{"github.com/coder/websocket"}},
	"stream/web":    {},
	// The load-test service (docs/PERFORMANCE.md, "Streaming").
	"stream/internal/loadserver": {vitals: []string{".", "metric", "stream", "exposition"}},
	"remotewrite": {vitals: []string{".", "metric"}, external: []string{
		"github.com/klauspost/compress", "github.com/prometheus/prometheus/prompb"}},

	"otelexport": {vitals: []string{"metric"}, external: []string{"go.opentelemetry.io/otel"}},

	// The command and its demo.
	"cmd/vitals": {vitals: []string{"cmd/vitals/internal/demo", "cmd/vitals/internal/top", "alerting/rules", "alerting/dashboard", "stream/client", "metric"},
		// vitals loadtest reads the server's /metrics, native buckets
		// included (metric.BucketMid gives a bucket's value).
		external: []string{"github.com/prometheus/common/expfmt", "github.com/prometheus/client_model/go"}},
	"cmd/vitals/internal/demo":     {any: true},
	"cmd/vitals/internal/demoload": {any: true},
	// vitals top: the stream client and terminal raw mode, nothing else.
	"cmd/vitals/internal/top": {vitals: []string{"stream/client"}, external: []string{"golang.org/x/term"}},

	// Alerting (module alerting): Prometheus' parser, the Grafana SDK.
	"alerting/rules": {external: []string{"github.com/prometheus/prometheus", "github.com/prometheus/common", "go.yaml.in/yaml/v3"}},
	"alerting/dashboard": {vitals: []string{"alerting/rules"}, external: []string{
		"github.com/grafana/grafana-foundation-sdk/go", "github.com/prometheus/prometheus"}},
	"alerting/store": {vitals: []string{".", "metric"}, external: []string{
		"github.com/prometheus/prometheus", "github.com/prometheus/common/model", "github.com/prometheus/client_golang", "github.com/prometheus/client_model"}},
	"alerting/eval": {vitals: []string{"alerting/rules", "metric", "internal/httpx"}, external: []string{
		"github.com/prometheus/prometheus", "github.com/prometheus/common"}},
	// The history store served to the PromQL engine, joined to the ring.
	"alerting/histstore": {vitals: []string{"alerting/store", "history", "metric"}, external: []string{
		"github.com/prometheus/prometheus"}},
}

const module = "github.com/bizra/vitals"

// TestArchitecture checks every package's non-test imports, in every
// module of the repository, against the package map, so the data flow
// stays one-way, the core depends on nothing outside the standard library,
// and the map stays true.
func TestArchitecture(t *testing.T) {
	vitalsImports := map[string]map[string]bool{}
	externalImports := map[string]map[string]bool{}
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); path != "." && (name == "testdata" || name == "bench" || name == "node_modules" || strings.HasPrefix(name, ".")) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		pkg := filepath.ToSlash(filepath.Dir(path))
		if vitalsImports[pkg] == nil {
			vitalsImports[pkg], externalImports[pkg] = map[string]bool{}, map[string]bool{}
		}
		for _, imp := range f.Imports {
			p := strings.Trim(imp.Path.Value, `"`)
			switch {
			case p == module:
				vitalsImports[pkg]["."] = true
			case strings.HasPrefix(p, module+"/"):
				vitalsImports[pkg][strings.TrimPrefix(p, module+"/")] = true
			case strings.Contains(strings.SplitN(p, "/", 2)[0], "."): // a module path: not the standard library
				externalImports[pkg][p] = true
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for pkg, got := range vitalsImports {
		l, known := packageMap[pkg]
		if !known {
			t.Errorf("package %s is not in the package map (docs/ARCHITECTURE.md, packageMap)", pkg)
			continue
		}
		if l.any {
			continue
		}
		for imp := range got {
			if !slices.Contains(l.vitals, imp) {
				t.Errorf("%s imports %s, which the package map does not allow", pkg, imp)
			}
		}
		for imp := range externalImports[pkg] {
			if !slices.ContainsFunc(l.external, func(prefix string) bool { return imp == prefix || strings.HasPrefix(imp, prefix+"/") }) {
				t.Errorf("%s imports %s: only the packages the map names may depend on a third-party module", pkg, imp)
			}
		}
	}
}
