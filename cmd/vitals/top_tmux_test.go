package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// buildVitals builds the vitals command into a temporary directory, with
// the race detector when the test has it (so the build reuses the test's
// compiled packages).
func buildVitals(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "vitals")
	args := append([]string{"build", "-o", bin}, raceFlag...)
	out, err := exec.Command("go", append(args, "github.com/bizra/vitals/cmd/vitals")...).CombinedOutput()
	if err != nil {
		t.Fatalf("building vitals: %v\n%s", err, out)
	}
	return bin
}

// tmuxSession runs a command in a detached tmux session of its own server
// (a socket in a temporary directory, no user configuration). The
// command's exit status is written to the file status when it ends:
// tmux 3.3's #{pane_dead_status} is sometimes left empty when the pane's
// terminal closes before the process is reaped.
type tmuxSession struct {
	t      *testing.T
	tmux   string
	sock   string
	status string
}

func newTmux(t *testing.T, width, height int, env []string, argv ...string) *tmuxSession {
	t.Helper()
	path, err := exec.LookPath("tmux")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("tmux is not installed, and CI is set: .ci/run installs it")
		}
		t.Skip("tmux is not installed: skipping the terminal test of vitals top (apt-get install tmux)")
	}
	dir := t.TempDir()
	s := &tmuxSession{t: t, tmux: path, sock: filepath.Join(dir, "tmux.sock"), status: filepath.Join(dir, "status")}
	args := []string{"new-session", "-d", "-s", "top", "-x", strconv.Itoa(width), "-y", strconv.Itoa(height)}
	for _, e := range env {
		args = append(args, "-e", e)
	}
	// sh runs the command and then records its status; the pane stays
	// after it exits, to read what is left on the screen.
	args = append(args, "sh", "-c", `"$@"; echo $? > '`+s.status+`'`, "sh")
	args = append(args, argv...)
	args = append(args, ";", "set-option", "-t", "top", "remain-on-exit", "on")
	s.run(args...)
	t.Cleanup(func() { exec.Command(s.tmux, "-S", s.sock, "kill-server").Run() })
	return s
}

func (s *tmuxSession) run(args ...string) string {
	s.t.Helper()
	out, err := exec.Command(s.tmux, append([]string{"-S", s.sock, "-f", "/dev/null"}, args...)...).CombinedOutput()
	if err != nil {
		s.t.Fatalf("tmux %q: %v\n%s", args, err, out)
	}
	return string(out)
}

func (s *tmuxSession) keys(keys ...string) {
	s.t.Helper()
	s.run(append([]string{"send-keys", "-t", "top"}, keys...)...)
}

func (s *tmuxSession) capture() string { s.t.Helper(); return s.run("capture-pane", "-p", "-t", "top") }

// waitFor polls the pane until ok holds for its text, and fails after a
// generous deadline (the machine may be loaded; nothing waits for a fixed
// time).
func (s *tmuxSession) waitFor(what string, ok func(screen string) bool) string {
	s.t.Helper()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	deadline := time.Now().Add(60 * time.Second)
	var screen string
	for time.Now().Before(deadline) {
		screen = s.capture()
		if ok(screen) {
			return screen
		}
		<-tick.C
	}
	s.t.Fatalf("waiting for %s; the pane shows:\n%s", what, screen)
	return ""
}

// opRows returns the names in the operations section, in screen order.
func opRows(screen string) []string {
	var names []string
	in := false
	for _, l := range strings.Split(screen, "\n") {
		switch {
		case strings.HasPrefix(l, "OPERATION"):
			in = true
		case in && (l == "" || strings.HasPrefix(l, "POOL") || strings.HasPrefix(l, "CACHE") || strings.HasPrefix(l, "BREAKER")):
			return names
		case in:
			if f := strings.Fields(l); len(f) > 0 && !strings.HasPrefix(l, "  ") {
				names = append(names, f[0])
			}
		}
	}
	return names
}

func TestTopUnderTmux(t *testing.T) {
	const token = "tmux-test-token-0123456789abcdef"
	url, restart := streamServer(t, token, false)
	if _, err := exec.LookPath("tmux"); err != nil && os.Getenv("CI") == "" {
		t.Skip("tmux is not installed: skipping the terminal test of vitals top (apt-get install tmux)")
	}
	bin := buildVitals(t)
	// A race report printed on the alternate screen would vanish with it,
	// leaving only exit status 66: the reports go to files shown on failure.
	raceLog := filepath.Join(t.TempDir(), "race")
	s := newTmux(t, 80, 24, []string{"VITALS_TOKEN=" + token, "GORACE=log_path=" + raceLog}, bin, "top", "--interval", "100ms", url)
	t.Cleanup(func() {
		reports, _ := filepath.Glob(raceLog + ".*")
		for _, r := range reports {
			b, _ := os.ReadFile(r)
			t.Errorf("vitals top reported a data race (%s):\n%s", r, b)
		}
	})

	// Everything shows, busiest operation first, within 80 columns.
	screen := s.waitFor("every section with rates", func(sc string) bool {
		ops := opRows(sc)
		return len(ops) == 3 && ops[0] == "search" && strings.Contains(sc, "ws 100ms") &&
			strings.Contains(sc, "orders") && strings.Contains(sc, "catalog") && strings.Contains(sc, "payments") &&
			strings.Contains(sc, "CheckoutSlow") && strings.Contains(sc, "FIRING")
	})
	t.Logf("first screen:\n%s", screen)
	lines := strings.Split(strings.TrimSuffix(screen, "\n"), "\n")
	if len(lines) != 24 {
		t.Errorf("%d lines, want 24", len(lines))
	}
	for i, l := range lines {
		if len([]rune(l)) > 80 {
			t.Errorf("line %d is wider than 80 columns: %q", i, l)
		}
	}
	if !strings.HasPrefix(lines[23], "q quit") {
		t.Errorf("the key line is not at the bottom: %q", lines[23])
	}

	// p: by p99, checkout (40-120 ms) first.
	s.keys("p")
	s.waitFor("sort by p99", func(sc string) bool {
		ops := opRows(sc)
		return strings.Contains(sc, "[p99 v]") && len(ops) == 3 && ops[0] == "checkout"
	})
	// n twice: by name, Z to A.
	s.keys("n", "n")
	s.waitFor("sort by name, reversed", func(sc string) bool {
		return strings.Contains(sc, "[name ^]") && strings.Join(opRows(sc), ",") == "search,checkout,cart.add"
	})
	// e: by errors, checkout (one call in ten fails) first.
	s.keys("e")
	s.waitFor("sort by errors", func(sc string) bool {
		ops := opRows(sc)
		return strings.Contains(sc, "[errors v]") && len(ops) == 3 && ops[0] == "checkout"
	})

	// A filter typed after /: only the matching rows; Enter keeps it.
	s.keys("/", "c", "a", "r")
	s.waitFor("the filter being typed", func(sc string) bool { return strings.Contains(sc, "filter: car_") })
	s.keys("Enter")
	screen = s.waitFor("the filter applied", func(sc string) bool {
		return strings.Contains(sc, "[car]  esc clear") && strings.Join(opRows(sc), ",") == "cart.add"
	})
	if !strings.Contains(screen, `no pool matches "car"`) || !strings.Contains(screen, "CheckoutSlow") {
		t.Errorf("the filter hid an alert or left other sections:\n%s", screen)
	}
	s.keys("Escape")
	s.waitFor("the filter cleared", func(sc string) bool { return len(opRows(sc)) == 3 && !strings.Contains(sc, "[car]") })

	// A server restart: the title says so, then the view comes back.
	restart()
	s.waitFor("the disconnection shown", func(sc string) bool { return strings.Contains(sc, "disconnected (server going away)") })
	s.waitFor("the reconnection", func(sc string) bool {
		return strings.Contains(sc, "ws 100ms") && !strings.Contains(sc, "disconnected") && len(opRows(sc)) == 3
	})

	// A smaller terminal: the layout follows.
	s.run("resize-window", "-t", "top", "-x", "50", "-y", "12")
	screen = s.waitFor("the 50x12 layout", func(sc string) bool {
		ls := strings.Split(strings.TrimSuffix(sc, "\n"), "\n")
		return len(ls) == 12 && strings.HasPrefix(ls[11], "q quit  r p e n sort")
	})
	for i, l := range strings.Split(screen, "\n") {
		if len([]rune(l)) > 50 {
			t.Errorf("50 columns: line %d is %d wide: %q", i, len([]rune(l)), l)
		}
	}
	t.Logf("50x12:\n%s", screen)

	// q: the program exits with status 0 and gives the terminal back.
	s.keys("q")
	var status string
	s.waitFor("vitals top to exit", func(string) bool {
		b, err := os.ReadFile(s.status)
		status = strings.TrimSpace(string(b))
		return err == nil && strings.HasSuffix(string(b), "\n")
	})
	if status != "0" {
		t.Fatalf("vitals top exited with status %s after q; the pane shows:\n%s", status, s.capture())
	}
	if sc := s.capture(); strings.Contains(sc, "OPERATION") || strings.Contains(sc, token) {
		t.Errorf("after q the screen still shows the view (or the token):\n%s", sc)
	}
}
