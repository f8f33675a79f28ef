package main

import (
	"bytes"
	"log/slog"
	"os"
	"strings"
	"testing"
)

// secrets holds distinctive values for every environment variable that
// can carry a credential.
var secrets = map[string]string{
	"VITALS_POSTGRES":       "postgres://shop:PG-SECRET-1@127.0.0.1:1/db",
	"VITALS_REDIS":          "redis://shop:REDIS-SECRET-2@127.0.0.1:1/0",
	"VITALS_REDIS_PASSWORD": "REDIS-SECRET-3",
	"VITALS_ADMIN_TOKEN":    "ADMIN-SECRET-4-0123456789",
	"VITALS_METRICS_TOKEN":  "METRICS-SECRET-5-0123456789",
	"VITALS_API_TOKEN":      "API-SECRET-6-0123456789",
}

func setSecrets(t *testing.T) {
	for k, v := range secrets {
		t.Setenv(k, v)
	}
}

func assertNoSecret(t *testing.T, what, out string) {
	t.Helper()
	for k, v := range secrets {
		for _, part := range []string{v, strings.Split(strings.SplitN(v, ":", 3)[len(strings.SplitN(v, ":", 3))-1], "@")[0]} {
			if len(part) >= 8 && strings.Contains(out, part) {
				t.Errorf("%s shows %s (%q):\n%s", what, k, part, out)
			}
		}
		if strings.Contains(out, "SECRET") {
			t.Errorf("%s shows a secret from the environment:\n%s", what, out)
			return
		}
	}
}

// TestNoSecretInHelpOrErrors: with every secret set in the environment,
// no help text, usage error or start-up error shows one.
func TestNoSecretInHelpOrErrors(t *testing.T) {
	setSecrets(t)
	cases := [][]string{
		nil,
		{"help"}, {"-h"}, {"--help"}, {"-help"},
		{"demo", "-h"}, {"demo", "--help"},
		{"nonsense"},
		{"demo", "--rat", "5"},
		{"demo", "extra-arg"},
		{"demo", "--log-level", "loud"},
		{"demo", "--duration", "soon"},
		{"demo", "--postgres"},
		{"rules", "-h"}, {"rules", "--no-such-flag"},
		{"dashboard", "-h"}, {"dashboard", "--no-such-flag"},
	}
	for _, args := range cases {
		var out, errb bytes.Buffer
		run(args, &out, &errb)
		assertNoSecret(t, strings.Join(args, " "), out.String()+errb.String())
		if len(args) > 0 && (args[0] == "help" || strings.HasSuffix(args[len(args)-1], "help")) && !strings.Contains(out.String()+errb.String(), "VITALS_POSTGRES") {
			t.Errorf("%q: help does not name VITALS_POSTGRES", args)
		}
	}

	// An environment value that does not parse: the error names the
	// variable, not a secret.
	t.Setenv("VITALS_RATE", "fast")
	var errb bytes.Buffer
	if code := run([]string{"demo"}, new(bytes.Buffer), &errb); code != 2 || !strings.Contains(errb.String(), "VITALS_RATE") {
		t.Errorf("bad VITALS_RATE: exit %d, %s", code, errb.String())
	}
	assertNoSecret(t, "bad VITALS_RATE", errb.String())
	t.Setenv("VITALS_RATE", "")

	// Start-up errors: a malformed PostgreSQL URL and a malformed Redis
	// URL, each holding a password.
	for env, bad := range map[string]string{
		"VITALS_POSTGRES": "postgres://shop:PG-SECRET-1@127.0.0.1:notaport/db",
		"VITALS_REDIS":    "redis://shop:REDIS-SECRET-2@127.0.0.1:notaport/0",
	} {
		t.Run(env, func(t *testing.T) {
			t.Setenv("VITALS_POSTGRES", "")
			t.Setenv(env, bad)
			var errb bytes.Buffer
			code := run([]string{"demo", "--data", t.TempDir(), "--addr", "127.0.0.1:0", "--admin-addr", "", "--rate", "0", "--duration", "1ms", "--drain-delay", "0"}, new(bytes.Buffer), &errb)
			if code != 1 || !strings.Contains(errb.String(), "does not parse") {
				t.Errorf("exit %d, want 1 with an explanation: %s", code, errb.String())
			}
			assertNoSecret(t, env+" start-up error", errb.String())
		})
	}
}

func TestEnvironmentAfterFlags(t *testing.T) {
	t.Setenv("VITALS_ADDR", "127.0.0.1:1234")
	t.Setenv("VITALS_RATE", "7")
	t.Setenv("VITALS_DRAIN_DELAY", "2s")
	fs, c := demoFlags(new(bytes.Buffer))
	if err := fs.Parse([]string{"--rate", "0", "--drain-delay", "0"}); err != nil {
		t.Fatal(err)
	}
	if _, err := applyEnv(fs, demoEnv, os.LookupEnv); err != nil {
		t.Fatal(err)
	}
	if c.Addr != "127.0.0.1:1234" || c.Rate != 0 || c.DrainDelay != 0 {
		t.Fatalf("flags must win over the environment, and 0 must stay 0: %+v", c.Config)
	}
}

func TestPasswordInFlagWarns(t *testing.T) {
	for conn, want := range map[string]bool{
		"postgres://u:pw@h/db":              true,
		"postgres://u@h/db":                 false,
		"host=h user=u password=pw":         true,
		"host=h user=u":                     false,
		"redis://:pw@h:6379/0":              true,
		"redis://h:6379":                    false,
		"127.0.0.1:6379":                    false,
		"postgres://u:p%zz@h/db":            true, // does not parse, still a password
		"rediss://default:pw@cache.example": true,
	} {
		if got := hasPassword(conn); got != want {
			t.Errorf("hasPassword(%q) = %v, want %v", conn, got, want)
		}
	}
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	fs, _ := demoFlags(new(bytes.Buffer))
	if err := fs.Parse([]string{"--postgres", "postgres://u:hunter2hunter2@h/db", "--redis", "redis://:swordfish99@h:6379",
		"--alertmanager", "https://am:wordpass77@am.example"}); err != nil {
		t.Fatal(err)
	}
	warnPasswordFlags(log, fs, map[string]bool{"postgres": true, "redis": true, "alertmanager": true})
	out := buf.String()
	for _, want := range []string{"--postgres holds a password", "PGPASSWORD", "--redis holds a password", "--alertmanager holds a password"} {
		if !strings.Contains(out, want) {
			t.Errorf("no warning %q: %s", want, out)
		}
	}
	for _, pw := range []string{"hunter2", "swordfish", "wordpass"} {
		if strings.Contains(out, pw) {
			t.Errorf("the warning shows the password: %s", out)
		}
	}

	// A password from the environment draws no warning.
	buf.Reset()
	t.Setenv("VITALS_POSTGRES", "postgres://u:pw@h/db")
	fs, _ = demoFlags(new(bytes.Buffer))
	if err := fs.Parse(nil); err != nil {
		t.Fatal(err)
	}
	given, err := applyEnv(fs, demoEnv, os.LookupEnv)
	if err != nil {
		t.Fatal(err)
	}
	warnPasswordFlags(log, fs, given)
	if buf.Len() != 0 {
		t.Errorf("warned about a password from the environment: %s", buf.String())
	}
}
