package demo

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/bizra/vitals/internal/httpx"
)

// EpisodeOptions configure an EpisodeTrigger. Token is required; the zero
// values of the others take the defaults written on each.
type EpisodeOptions struct {
	// Token is the bearer token a request must carry
	// (Authorization: Bearer <token>). Empty: every request is refused,
	// so a trigger is never open by accident.
	Token string
	// Default is the episode length when the request has no ?for=. 0: 30 s.
	Default time.Duration
	// Max is the longest episode a request may ask for. 0: 5 minutes.
	Max time.Duration
	// Logger receives episode starts and ends. nil: slog.Default().
	Logger *slog.Logger
}

// EpisodeTrigger is the demo's admin HTTP handler that starts a bounded episode
// of something the application supplies, such as driving the demo's
// database pool into saturation to watch readiness turn not-ready and
// recover:
//
//	POST   ?for=30s   start an episode (202); 409 while one runs
//	DELETE            end the running episode early (200)
//	GET, HEAD         is one running? (200)
//
// Every request needs Authorization: Bearer <Token>. Mount it on an admin
// listener, not the public one. The episode runs on a goroutine the
// trigger owns; Close ends it and waits.
type EpisodeTrigger struct {
	run   func(ctx context.Context, d time.Duration)
	o     EpisodeOptions
	token *httpx.Token

	mu      sync.Mutex
	cancel  context.CancelFunc
	until   time.Time
	running bool
	closed  bool
	wg      sync.WaitGroup
}

// NewEpisodeTrigger returns a trigger that calls run(ctx, d) for each
// episode. run must return when ctx is done or d has passed, whichever
// is first (ctx carries d as its deadline).
func NewEpisodeTrigger(run func(ctx context.Context, d time.Duration), opts *EpisodeOptions) *EpisodeTrigger {
	var o EpisodeOptions
	if opts != nil {
		o = *opts
	}
	if o.Default <= 0 {
		o.Default = 30 * time.Second
	}
	if o.Max <= 0 {
		o.Max = 5 * time.Minute
	}
	o.Default = min(o.Default, o.Max)
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return &EpisodeTrigger{run: run, o: o, token: httpx.NewToken(o.Token)}
}

type episodeJSON struct {
	Running bool   `json:"running"`
	For     string `json:"for,omitempty"`
	Until   string `json:"until,omitempty"`
}

// ServeHTTP implements http.Handler.
func (t *EpisodeTrigger) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 1024) // parameters are in the query
	// No token configured refuses everything: a trigger is never open by
	// accident. The comparison is over digests (httpx.Token), so neither
	// the token's bytes nor its length leak through timing.
	if !t.token.Enabled() || !t.token.Allow(r) {
		httpx.Unauthorized(w, r)
		return
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		t.mu.Lock()
		st := episodeJSON{Running: t.running}
		if t.running {
			st.Until = formatTime(t.until)
		}
		t.mu.Unlock()
		httpx.WriteJSON(w, r, http.StatusOK, st)
	case http.MethodPost:
		d, err := t.duration(r.URL.RawQuery)
		if err != "" {
			httpx.WriteError(w, r, http.StatusBadRequest, err)
			return
		}
		until, code := t.start(d)
		if code != http.StatusAccepted {
			msg := "an episode is already running"
			if code == http.StatusServiceUnavailable {
				msg = "the trigger is closed"
			}
			httpx.WriteError(w, r, code, msg)
			return
		}
		httpx.WriteJSON(w, r, http.StatusAccepted, episodeJSON{Running: true, For: d.String(), Until: formatTime(until)})
	case http.MethodDelete:
		t.mu.Lock()
		if t.cancel != nil {
			t.cancel()
		}
		t.mu.Unlock()
		httpx.WriteJSON(w, r, http.StatusOK, episodeJSON{Running: false})
	default:
		w.Header().Set("Allow", "GET, HEAD, POST, DELETE")
		httpx.WriteError(w, r, http.StatusMethodNotAllowed, "method "+r.Method+" not allowed")
	}
}

// duration reads ?for=; it returns an error message for bad input.
func (t *EpisodeTrigger) duration(raw string) (time.Duration, string) {
	vals, err := url.ParseQuery(raw)
	if err != nil {
		return 0, "malformed query string: " + err.Error()
	}
	v := vals.Get("for")
	if v == "" {
		return t.o.Default, ""
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, "for: want a positive duration such as 30s, got " + strconv.Quote(clip(v))
	}
	if d > t.o.Max {
		return 0, "for: at most " + t.o.Max.String()
	}
	return d, ""
}

func (t *EpisodeTrigger) start(d time.Duration) (time.Time, int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	switch {
	case t.closed:
		return time.Time{}, http.StatusServiceUnavailable
	case t.running:
		return time.Time{}, http.StatusConflict
	}
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.cancel, t.running, t.until = cancel, true, time.Now().Add(d)
	t.wg.Add(1)
	go func() {
		defer t.wg.Done()
		defer cancel()
		defer func() {
			if p := recover(); p != nil {
				t.o.Logger.Error("demo: episode panicked", "panic", fmt.Sprint(p))
			}
			t.mu.Lock()
			t.running, t.cancel = false, nil
			t.mu.Unlock()
			t.o.Logger.Info("demo: episode ended")
		}()
		t.o.Logger.Info("demo: episode started", "for", d.String())
		t.run(ctx, d)
	}()
	return t.until, http.StatusAccepted
}

// Running reports whether an episode is running.
func (t *EpisodeTrigger) Running() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.running
}

// Close ends a running episode, waits for it, and refuses later ones.
// Idempotent.
func (t *EpisodeTrigger) Close() {
	t.mu.Lock()
	t.closed = true
	if t.cancel != nil {
		t.cancel()
	}
	t.mu.Unlock()
	t.wg.Wait()
}

// clip keeps echoed input short in error messages.
func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}

// formatTime is the JSON time format of the trigger's answers.
func formatTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z07:00") }
