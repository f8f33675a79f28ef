package main

import (
	"flag"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
)

// envBinding ties a flag to the environment variable read when the flag
// is not given on the command line.
type envBinding struct {
	flag, env string
	// secret values (URLs that may hold a password) are never echoed,
	// not even in an error about them.
	secret bool
}

// applyEnv sets each flag that was not given from its environment
// variable. It runs after parsing, so help and usage errors only ever
// show built-in defaults. It returns the flags given on the command line.
func applyEnv(fs *flag.FlagSet, bindings []envBinding, lookup func(string) (string, bool)) (map[string]bool, error) {
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	for _, b := range bindings {
		if given[b.flag] {
			continue
		}
		v, ok := lookup(b.env)
		if !ok || v == "" {
			continue
		}
		if err := fs.Set(b.flag, v); err != nil {
			if b.secret {
				return given, fmt.Errorf("%s: not a valid value for --%s (not shown: it may hold a password)", b.env, b.flag)
			}
			return given, fmt.Errorf("%s=%q: not a valid value for --%s: %v", b.env, v, b.flag, err)
		}
	}
	return given, nil
}

// warnPasswordFlags warns about every flag given on the command line
// (given, as applyEnv returns it: flags set from the environment are not)
// whose value carries a password (a --postgres, --redis or push URL with
// user:password@, a password= key): every local user can read argv (ps,
// /proc/PID/cmdline), which is why the tokens are environment-only. The
// value itself is never logged.
func warnPasswordFlags(log *slog.Logger, fs *flag.FlagSet, given map[string]bool) {
	advice := map[string]string{
		"postgres": "set VITALS_POSTGRES instead, or PGPASSWORD or ~/.pgpass, which pgx reads as libpq does",
		"redis":    "set VITALS_REDIS_PASSWORD (or VITALS_REDIS) instead",
	}
	fs.Visit(func(f *flag.Flag) {
		if !given[f.Name] || !hasPassword(f.Value.String()) {
			return
		}
		do, ok := advice[f.Name]
		if !ok {
			do = "pass credentials through the environment or a file instead"
		}
		log.Warn("--" + f.Name + " holds a password, which every local user can read in the process list; " + do)
	})
}

// hasPassword reports whether a database URL or key/value connection
// string carries a password.
func hasPassword(conn string) bool {
	if u, err := url.Parse(conn); err == nil && u.User != nil {
		if _, ok := u.User.Password(); ok {
			return true
		}
	}
	for _, f := range strings.Fields(conn) { // libpq key=value form
		if k, _, ok := strings.Cut(f, "="); ok && strings.EqualFold(k, "password") {
			return true
		}
	}
	// A URL that does not parse may still hold user:password@.
	if i := strings.Index(conn, "://"); i >= 0 {
		rest := conn[i+3:]
		if at := strings.LastIndex(rest, "@"); at >= 0 && strings.Contains(rest[:at], ":") {
			return true
		}
	}
	return false
}

// splitList splits a comma-separated flag value, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
