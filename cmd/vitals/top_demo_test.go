package main

import (
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestTopAgainstDemo runs the built vitals demo and points vitals top
// --once at it: the demo's own operations, pool, cache tiers and breaker
// come through its /stream.
func TestTopAgainstDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: builds and runs the demo")
	}
	bin := buildVitals(t)
	addr := closedAddr(t)
	demo := exec.Command(bin, "demo", "--addr", addr, "--admin-addr", "", "--data", t.TempDir(),
		"--rate", "50", "--drain-delay", "0", "--log-level", "warn")
	demo.Env = append(os.Environ(), "VITALS_API_TOKEN=", "VITALS_POSTGRES=", "VITALS_REDIS=")
	var log strings.Builder
	demo.Stdout, demo.Stderr = &log, &log
	if err := demo.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- demo.Wait() }()
	t.Cleanup(func() {
		demo.Process.Signal(syscall.SIGTERM)
		if err := <-exited; err != nil {
			t.Errorf("the demo exited with %v:\n%s", err, log.String())
		}
	})
	url := "http://" + addr
	tick := time.NewTicker(50 * time.Millisecond) // polling another process
	defer tick.Stop()
	for deadline := time.Now().Add(60 * time.Second); ; <-tick.C {
		if resp, err := http.Get(url + "/metrics"); err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the demo never answered:\n%s", log.String())
		}
	}

	out, err := exec.Command(bin, "top", "--once", "--interval", "200ms", url).CombinedOutput()
	if err != nil {
		t.Fatalf("vitals top: %v\n%s", err, out)
	}
	t.Logf("vitals top --once against the demo:\n%s", out)
	screen := string(out)
	for _, want := range []string{"ws 200ms", "GET /shop/products", "POST /shop/checkout", "\nshop ", "\nproducts ", " l1 ", " l2 ", " all ", "\npayments "} {
		if !strings.Contains(screen, want) {
			t.Errorf("no %q in the output", want)
		}
	}
	for i, l := range strings.Split(strings.TrimSuffix(screen, "\n"), "\n") {
		if len([]rune(l)) > 80 {
			t.Errorf("line %d is wider than 80 columns: %q", i, l)
		}
	}
}
