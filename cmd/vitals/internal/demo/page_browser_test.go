package demo

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// chromium finds the browser: $VITALS_CHROMIUM, else chromium (Debian's
// package) or Chrome on PATH. Without one the test skips, saying so, unless
// $CI is set: then it fails (.ci/run installs chromium).
func chromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("VITALS_CHROMIUM"); p != "" {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("VITALS_CHROMIUM=%s: %v", p, err)
		}
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("chromium not found and CI is set: install it (apt-get install -y chromium) or set VITALS_CHROMIUM")
	}
	t.Skip("chromium not found (set VITALS_CHROMIUM or apt-get install -y chromium); the dashboard's browser test did not run")
	return ""
}

// browserDemo runs the demo on a fixed address and data directory, so that
// it can be stopped and started again where the page expects it.
type browserDemo struct {
	t       *testing.T
	addr    string
	dataDir string
	cancel  context.CancelFunc
	done    chan error
}

func (d *browserDemo) start(ln net.Listener) {
	ctx, cancel := context.WithCancel(context.Background())
	d.cancel, d.done = cancel, make(chan error, 1)
	go func() {
		d.done <- Run(ctx, Config{Listener: ln, DataDir: d.dataDir, Rate: 50, DrainDelay: -1,
			Logger: slog.New(slog.DiscardHandler)})
	}()
}

func (d *browserDemo) stop() {
	if d.cancel == nil {
		return
	}
	d.cancel()
	d.cancel = nil
	select {
	case err := <-d.done:
		if err != nil {
			d.t.Errorf("demo Run: %v", err)
		}
	case <-time.After(30 * time.Second):
		d.t.Error("demo did not stop within 30 s")
	}
}

// TestDashboardInBrowser loads the dashboard from a running demo in
// headless Chromium and checks what a user would: live data arrives,
// values change between two readings, every panel has data, the page
// fits a phone's width, the range selector reads the history, the page
// reconnects by itself after the demo restarts on the same port, and the
// console shows no error. Screenshots (desktop and phone width) go to the
// test's temp dir (the path is logged), and also to $VITALS_SCREENSHOT_DIR
// when set (docs/dashboard.png is desktop.png made that way).
func TestDashboardInBrowser(t *testing.T) {
	bin := chromium(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	d := &browserDemo{t: t, addr: ln.Addr().String(), dataDir: t.TempDir()}
	d.start(ln)
	defer d.stop()
	base := "http://" + d.addr

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(bin), chromedp.NoSandbox,
		chromedp.WindowSize(1280, 900), chromedp.Flag("disable-dev-shm-usage", true))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(actx)
	defer cancelBrowser()
	// The first action starts the browser and lives as long as bctx, so it
	// runs without a timeout; the others with one.
	if err := chromedp.Do(bctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	ctx, cancel := context.WithTimeout(bctx, 5*time.Minute)
	defer cancel()

	// Console errors and warnings, uncaught exceptions and browser log
	// entries (CSP violations, failed loads). While the demo is down on
	// purpose, the browser's own network errors (the refused WebSocket)
	// are expected.
	var (
		mu         sync.Mutex
		problems   []string
		restarting atomic.Bool
	)
	consoleCtx, stopConsole := context.WithCancel(ctx)
	messages := chromedp.Console(consoleCtx)
	var reading sync.WaitGroup
	reading.Go(func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			switch m.Type {
			case chromedp.ConsoleError, chromedp.ConsoleWarning, chromedp.ConsoleException:
			default:
				continue
			}
			if m.Source == "network" && restarting.Load() {
				continue
			}
			mu.Lock()
			problems = append(problems, fmt.Sprintf("%s (source %q, %s:%d)", m, m.Source, m.URL, m.Line))
			mu.Unlock()
		}
	})
	defer reading.Wait()
	defer stopConsole()

	evalBool := func(expr string) (bool, error) { return chromedp.Run(ctx, chromedp.Evaluate[bool](expr)) }
	evalInt := func(expr string) int { n, _ := chromedp.Run(ctx, chromedp.Evaluate[int](expr)); return n }
	evalString := func(expr string) string { v, _ := chromedp.Run(ctx, chromedp.Evaluate[string](expr)); return v }
	// waitFor polls expr (a JS expression giving a boolean) until it holds.
	waitFor := func(what, expr string, within time.Duration) {
		t.Helper()
		deadline := time.Now().Add(within)
		for {
			ok, err := evalBool(expr)
			if err == nil && ok {
				return
			}
			if time.Now().After(deadline) {
				state := evalString(`JSON.stringify({dash: window.vitalsDash, conn: document.querySelector('#conn') && document.querySelector('#conn').innerText,
					notReady: [...document.querySelectorAll('[data-panel]')].filter(p => p.dataset.ready !== '1').map(p => p.dataset.panel)})`)
				t.Fatalf("%s: not within %v (last error %v); page state %s", what, within, err, state)
			}
			time.Sleep(250 * time.Millisecond) // polling a real browser
		}
	}

	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/")); err != nil {
		t.Fatal(err)
	}
	waitFor("live frames", `window.vitalsDash && vitalsDash.frames >= 3 && document.querySelector('#conn').dataset.state === 'live'`, 90*time.Second)
	waitFor("every panel has data", `[...document.querySelectorAll('[data-panel]')].every(p => p.dataset.ready === '1')`, 90*time.Second)
	waitFor("operations with numbers", `[...document.querySelectorAll('#ops tbody tr')].some(r => /^[0-9.]+$/.test(r.cells[1].innerText))`, 60*time.Second)

	// Values change between two readings.
	first := evalString(`document.querySelector('#ops tbody').innerText + '|' + document.querySelector('#health-tiles').innerText`)
	waitFor("values change", fmt.Sprintf(`(document.querySelector('#ops tbody').innerText + '|' + document.querySelector('#health-tiles').innerText) !== %q`, first), 30*time.Second)
	t.Logf("panels with data: %s", evalString(`[...document.querySelectorAll('[data-panel]')].map(p => p.dataset.panel).join(', ')`))

	dir := t.TempDir()
	shot := func(name string) {
		t.Helper()
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
			t.Fatal(err)
		}
		if out := os.Getenv("VITALS_SCREENSHOT_DIR"); out != "" {
			if err := os.WriteFile(filepath.Join(out, name), png, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Let the charts gather a few more points for the picture.
	waitFor("charts with points", `vitalsDash.frames >= 8`, 60*time.Second)
	shot("desktop.png")

	// Phone width: nothing overflows sideways.
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile)); err != nil {
		t.Fatal(err)
	}
	frames := evalInt(`vitalsDash.frames`)
	waitFor("a frame drawn at phone width", fmt.Sprintf(`vitalsDash.frames > %d`, frames+1), 30*time.Second)
	if overflow := evalInt(`document.documentElement.scrollWidth - document.documentElement.clientWidth`); overflow > 0 {
		t.Errorf("at 390 px the page is %d px wider than the screen", overflow)
	}
	shot("phone.png")
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 900)); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshots: %s (desktop.png, phone.png)", dir)

	// The range selector reads the history and comes back to live.
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`button[data-range="1h"]`))); err != nil {
		t.Fatal(err)
	}
	waitFor("1h range loaded", `vitalsDash.range === '1h' && document.querySelector('#note').innerText === ''`, 90*time.Second)
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`button[data-range="live"]`))); err != nil {
		t.Fatal(err)
	}
	waitFor("back to live", `vitalsDash.range === 'live'`, 10*time.Second)

	// Restart the demo on the same port: the page notices, reconnects by
	// itself, and live data flows again.
	restarting.Store(true)
	d.stop()
	waitFor("the page notices the restart", `document.querySelector('#conn').dataset.state !== 'live'`, 30*time.Second)
	var ln2 net.Listener
	deadline := time.Now().Add(20 * time.Second)
	for {
		if ln2, err = net.Listen("tcp", d.addr); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("listen again on %s: %v", d.addr, err)
		}
		time.Sleep(100 * time.Millisecond) // the port is released asynchronously
	}
	frames = evalInt(`vitalsDash.frames`)
	d.start(ln2)
	waitFor("reconnected with live data", fmt.Sprintf(`vitalsDash.connects >= 2 && vitalsDash.frames > %d + 2 && document.querySelector('#conn').dataset.state === 'live'`, frames), 90*time.Second)
	restarting.Store(false)
	waitFor("every panel has data after the restart", `[...document.querySelectorAll('[data-panel]')].every(p => p.dataset.ready === '1')`, 30*time.Second)

	// One more frame after the restart window, so late log entries land.
	frames = evalInt(`vitalsDash.frames`)
	waitFor("a frame after the restart", fmt.Sprintf(`vitalsDash.frames > %d`, frames), 30*time.Second)
	if pageErrors := evalInt(`vitalsDash.errors`); pageErrors != 0 {
		t.Errorf("the page counted %d stream errors", pageErrors)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, p := range problems {
		t.Errorf("browser console: %s", p)
	}
}
