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

// allowedImports is the package map of docs/ARCHITECTURE.md: which vitals
// packages each package may import. Keep the two in step.
var allowedImports = map[string][]string{
	"internal/httpx":               {},
	"metric":                       {},
	"score":                        {},
	"window":                       {"metric"},
	".":                            {"metric", "window"},
	"window/delta":                 {".", "metric"},
	"aggregate":                    {".", "metric", "window", "window/delta"},
	"history":                      {".", "metric", "window/delta"},
	"history/queryapi":             {".", "metric", "window", "aggregate", "history"},
	"cache":                        {".", "metric", "window", "score"},
	"dbpool":                       {".", "metric", "window", "score"},
	"breaker":                      {".", "metric", "window", "score"},
	"cache/ottermon":               {"cache", ".", "metric"},
	"cache/redismon":               {"cache", ".", "metric"},
	"dbpool/sqlmon":                {"dbpool", ".", "metric"},
	"dbpool/pgxpoolmon":            {"dbpool", ".", "metric"},
	"breaker/gobreakermon":         {"breaker", ".", "metric"},
	"monitorsapi":                  {".", "cache", "dbpool", "breaker", "score"},
	"health":                       {".", "metric", "score"},
	"exposition":                   {"metric"},
	"vitalshttp":                   {".", "metric", "internal/httpx"},
	"cmd/vitals":                   {"cmd/vitals/internal/demo"},
	"cmd/vitals/internal/demo":     nil, // anything
	"cmd/vitals/internal/demoload": nil,
}

const module = "github.com/bizra/vitals"

// TestArchitecture checks every package's non-test imports against the
// package map, so the data flow stays one-way and the map stays true.
func TestArchitecture(t *testing.T) {
	imports := map[string]map[string]bool{}
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); path != "." && (name == "testdata" || name == "bench" || strings.HasPrefix(name, ".")) {
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
		if imports[pkg] == nil {
			imports[pkg] = map[string]bool{}
		}
		for _, imp := range f.Imports {
			p := strings.Trim(imp.Path.Value, `"`)
			switch {
			case p == module:
				imports[pkg]["."] = true
			case strings.HasPrefix(p, module+"/"):
				imports[pkg][strings.TrimPrefix(p, module+"/")] = true
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for pkg, got := range imports {
		allowed, known := allowedImports[pkg]
		if !known {
			t.Errorf("package %s is not in the package map (docs/ARCHITECTURE.md, allowedImports)", pkg)
			continue
		}
		if allowed == nil {
			continue
		}
		for imp := range got {
			if !slices.Contains(allowed, imp) {
				t.Errorf("%s imports %s, which the package map does not allow", pkg, imp)
			}
		}
	}
}
