package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRulesCommand(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"rules", "-job", "api", "-namespace", "prod", "-selector", `cluster="eu-1"`, "-latency-p95", "0.25"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	s := out.String()
	for _, want := range []string{`job="api",namespace="prod",cluster="eu-1"`, "by (namespace, job, instance, operation)",
		"histogram_quantile(0.95, vitals:operation_duration_seconds:rate5m) > 0.25", "alert: VitalsBreakerOpen"} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "alerts.yaml")
	if code := run([]string{"rules", "-o", file, "-tests", filepath.Join(dir, "tests")}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	b, err := os.ReadFile(filepath.Join(dir, "tests", "cache_alerts.yaml"))
	if err != nil || !bytes.Contains(b, []byte("- ../alerts.yaml")) {
		t.Fatalf("test file: %v\n%s", err, b)
	}
}

func TestRulesBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"rules", "-selector", "foo="},
		{"rules", "-slo", "1"},
		{"rules", "-error-ratio", "2"},
		{"rules", "-no-such-threshold", "1"},
		{"rules", "extra"},
		{"rules", "-tests", "x"},
	} {
		var out, errb bytes.Buffer
		if code := run(args, &out, &errb); code != 2 {
			t.Errorf("%q exited %d, want 2; stderr %s", args, code, errb.String())
		}
		if errb.Len() == 0 {
			t.Errorf("%q printed no explanation", args)
		}
	}
}

func TestDashboardCommand(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"dashboard", "-job", "shop", "-namespace", "prod", "-uid", "shop-vitals"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	s := out.String()
	for _, want := range []string{`"uid": "shop-vitals"`, `namespace=\"prod\"`, `"text": "shop"`, "$__rate_interval"} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	for _, args := range [][]string{{"dashboard", "-selector", "x="}, {"dashboard", "extra"}, {"dashboard", "-nope"}} {
		out.Reset()
		errb.Reset()
		if code := run(args, &out, &errb); code != 2 || errb.Len() == 0 {
			t.Errorf("%q exited %d; stderr %s", args, code, errb.String())
		}
	}
}
