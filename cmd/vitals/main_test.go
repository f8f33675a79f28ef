package main

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

func TestHelpExplainsEveryFlag(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"help"}, &out, &errb); code != 0 {
		t.Fatalf("help exited %d", code)
	}
	for _, want := range []string{"vitals demo", "-addr", "VITALS_ADDR", "-data", "VITALS_DATA", "-duration", "VITALS_DURATION",
		"-postgres", "VITALS_POSTGRES", "-redis", "VITALS_REDIS", "-admin-addr", "VITALS_ADMIN_TOKEN", "-saturate-every", "-drain-delay", "9911"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("help does not mention %q", want)
		}
	}
}

func TestBadUsage(t *testing.T) {
	cases := [][]string{
		nil,
		{"nonsense"},
		{"demo", "--no-such-flag"},
		{"demo", "extra-arg"},
		{"demo", "--log-level", "loud"},
		{"demo", "--log-format", "xml"},
		{"demo", "--duration", "soon"},
	}
	for _, args := range cases {
		var out, errb bytes.Buffer
		if code := run(args, &out, &errb); code != 2 {
			t.Errorf("%q exited %d, want 2 (usage error); stderr: %s", args, code, errb.String())
		}
		if errb.Len() == 0 {
			t.Errorf("%q printed no explanation", args)
		}
	}
}

func TestEnvironmentFallback(t *testing.T) {
	t.Setenv("VITALS_ADDR", "127.0.0.1:1234")
	t.Setenv("VITALS_DURATION", "3s")
	fs, c := demoFlags(new(bytes.Buffer))
	if err := fs.Parse([]string{"--data", "/tmp/x"}); err != nil {
		t.Fatal(err)
	}
	if _, err := applyEnv(fs, demoEnv, os.LookupEnv); err != nil {
		t.Fatal(err)
	}
	if c.Addr != "127.0.0.1:1234" || c.Duration.Seconds() != 3 || c.DataDir != "/tmp/x" {
		t.Fatalf("config %+v", c.Config)
	}
}
