package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/bizra/vitals/alerting/dashboard"
	"github.com/bizra/vitals/alerting/rules"
)

// rulesUsage is printed by `vitals help` after the demo's flags.
const rulesUsage = `
  vitals rules [flags]       print the Prometheus rule file (alerts and recording
                             rules) for your deployment; -tests DIR also writes the
                             promtool tests of every alert
  vitals dashboard [flags]   print the Grafana dashboard (JSON) for your deployment

Flags of rules and dashboard: -job, -namespace, -selector choose the series;
rules also takes -interval, -runbook-url and one flag per threshold
(vitals rules -h lists them with their defaults).
`

// selectorFlags are the flags rules and dashboard share.
type selectorFlags struct {
	job, namespace, selector string
}

func (s *selectorFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&s.job, "job", "", `add job="<job>" to every selector, e.g. the job name of your Prometheus scrape config`)
	fs.StringVar(&s.namespace, "namespace", "", `add namespace="<ns>" to every selector and keep namespace in every aggregation`)
	fs.StringVar(&s.selector, "selector", "", `extra label matchers for every selector, PromQL syntax without braces, e.g. 'cluster="eu-1"'`)
}

func runRules(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("rules", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var sel selectorFlags
	sel.register(fs)
	p := rules.DefaultParams()
	fs.Float64Var(&p.IntervalSeconds, "interval", p.IntervalSeconds, "evaluation interval of every group, in seconds")
	fs.StringVar(&p.RunbookURL, "runbook-url", p.RunbookURL, "base URL of the runbooks; each alert links to #<alert name in lower case>")
	out := fs.String("o", "", "write the rule file here instead of standard output")
	tests := fs.String("tests", "", "also write the promtool test files (one per group) into this directory; they name the rule file by its path relative to it")
	values := map[string]*float64{}
	for _, t := range rules.Thresholds {
		v := new(float64)
		*v = t.Default
		values[t.Name] = v
		fs.Float64Var(v, t.Name, t.Default, t.Doc+" ("+t.Unit+")")
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "vitals rules: unexpected arguments %q\n", fs.Args())
		return 2
	}
	p.Job, p.Namespace, p.Selector = sel.job, sel.namespace, sel.selector
	fs.Visit(func(f *flag.Flag) {
		if v, ok := values[f.Name]; ok {
			p.T[f.Name] = *v
		}
	})
	groups, err := rules.Build(p)
	if err != nil {
		fmt.Fprintln(stderr, "vitals rules:", err)
		return 2
	}
	file, err := rules.RuleFile(groups)
	if err != nil {
		fmt.Fprintln(stderr, "vitals rules:", err)
		return 1
	}
	if err := writeOut(*out, file, stdout); err != nil {
		fmt.Fprintln(stderr, "vitals rules:", err)
		return 1
	}
	if *tests != "" {
		ruleFile := *out
		if ruleFile == "" {
			fmt.Fprintln(stderr, "vitals rules: -tests needs -o (the tests name the rule file)")
			return 2
		}
		rel, err := relPath(*tests, ruleFile)
		if err != nil {
			fmt.Fprintln(stderr, "vitals rules:", err)
			return 2
		}
		files, err := rules.TestFiles(p, groups, rel)
		if err != nil {
			fmt.Fprintln(stderr, "vitals rules:", err)
			return 1
		}
		if err := os.MkdirAll(*tests, 0o755); err != nil {
			fmt.Fprintln(stderr, "vitals rules:", err)
			return 1
		}
		for name, b := range files {
			if err := os.WriteFile(filepath.Join(*tests, name), b, 0o644); err != nil {
				fmt.Fprintln(stderr, "vitals rules:", err)
				return 1
			}
		}
	}
	return 0
}

func writeOut(path string, b []byte, stdout io.Writer) error {
	if path == "" || path == "-" {
		_, err := stdout.Write(b)
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

// relPath returns target relative to dir, for a file in dir naming target.
func relPath(dir, target string) (string, error) {
	absDir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	absTarget, err := filepath.Abs(target)
	if err != nil {
		return "", err
	}
	return filepath.Rel(absDir, absTarget)
}

func runDashboard(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("dashboard", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var sel selectorFlags
	sel.register(fs)
	p := &dashboard.Params{}
	fs.StringVar(&p.UID, "uid", dashboard.DefaultUID, "the dashboard's uid in Grafana")
	fs.StringVar(&p.Title, "title", dashboard.DefaultTitle, "the dashboard's title")
	out := fs.String("o", "", "write the dashboard here instead of standard output")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "vitals dashboard: unexpected arguments %q\n", fs.Args())
		return 2
	}
	p.Job, p.Namespace, p.Selector = sel.job, sel.namespace, sel.selector
	b, err := dashboard.JSON(p)
	if err != nil {
		fmt.Fprintln(stderr, "vitals dashboard:", err)
		return 2
	}
	if err := writeOut(*out, b, stdout); err != nil {
		fmt.Fprintln(stderr, "vitals dashboard:", err)
		return 1
	}
	return 0
}
