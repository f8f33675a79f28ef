package demo

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestEpisodeTrigger(t *testing.T) {
	t.Parallel()
	started := make(chan time.Duration, 4)
	ended := make(chan error, 4)
	tr := NewEpisodeTrigger(func(ctx context.Context, d time.Duration) {
		started <- d
		<-ctx.Done()
		ended <- ctx.Err()
	}, &EpisodeOptions{Token: "s3cret", Max: time.Hour, Logger: quiet()})
	defer tr.Close()
	auth := http.Header{"Authorization": {"Bearer s3cret"}}

	for _, c := range []struct {
		method, target string
		hdr            http.Header
		code           int
	}{
		{"POST", "/admin/saturate", nil, 401},
		{"POST", "/admin/saturate", http.Header{"Authorization": {"Bearer wrong"}}, 401},
		{"POST", "/admin/saturate", http.Header{"Authorization": {"Basic s3cret"}}, 401},
		{"POST", "/admin/saturate?for=banana", auth, 400},
		{"POST", "/admin/saturate?for=-1s", auth, 400},
		{"POST", "/admin/saturate?for=2h", auth, 400},
		{"POST", "/admin/saturate?for=%zz", auth, 400},
		{"PUT", "/admin/saturate", auth, 405},
		{"GET", "/admin/saturate", auth, 200},
	} {
		w := serve(tr, c.method, c.target, c.hdr)
		if w.Code != c.code || !json.Valid(w.Body.Bytes()) || w.Header().Get("Cache-Control") != "no-store" {
			t.Errorf("%s %s: %d %s", c.method, c.target, w.Code, w.Body)
		}
		if strings.Contains(w.Body.String(), "s3cret") {
			t.Errorf("token echoed: %s", w.Body)
		}
	}
	w := serve(tr, "POST", "/admin/saturate?for=30m", auth)
	if w.Code != 202 || !strings.Contains(w.Body.String(), `"for":"30m0s"`) {
		t.Fatalf("start: %d %s", w.Code, w.Body)
	}
	if d := <-started; d != 30*time.Minute || !tr.Running() {
		t.Fatalf("episode of %v", d)
	}
	if w := serve(tr, "POST", "/admin/saturate", auth); w.Code != 409 {
		t.Fatalf("second episode: %d", w.Code)
	}
	if w := serve(tr, "GET", "/admin/saturate", auth); !strings.Contains(w.Body.String(), `"running":true`) {
		t.Fatalf("status %s", w.Body)
	}
	if w := serve(tr, "DELETE", "/admin/saturate", auth); w.Code != 200 {
		t.Fatalf("stop: %d", w.Code)
	}
	if err := <-ended; err != context.Canceled {
		t.Fatalf("ended with %v", err)
	}
	// The default length, ended by its own deadline this time.
	short := NewEpisodeTrigger(func(ctx context.Context, d time.Duration) {
		<-ctx.Done()
		ended <- ctx.Err()
	}, &EpisodeOptions{Token: "t", Default: 10 * time.Millisecond, Logger: quiet()})
	if w := serve(short, "POST", "/", http.Header{"Authorization": {"bearer t"}}); w.Code != 202 {
		t.Fatalf("default: %d %s", w.Code, w.Body)
	}
	if err := <-ended; err != context.DeadlineExceeded {
		t.Fatalf("ended with %v", err)
	}
	short.Close()
	short.Close()
	if w := serve(short, "POST", "/", http.Header{"Authorization": {"Bearer t"}}); w.Code != 503 {
		t.Fatalf("after Close: %d", w.Code)
	}
}

func TestEpisodeTriggerWithoutToken(t *testing.T) {
	t.Parallel()
	tr := NewEpisodeTrigger(func(context.Context, time.Duration) {}, nil)
	defer tr.Close()
	if w := serve(tr, "POST", "/", http.Header{"Authorization": {"Bearer "}}); w.Code != 401 {
		t.Fatalf("no token configured must refuse: %d", w.Code)
	}
}

func TestEpisodePanicIsContained(t *testing.T) {
	t.Parallel()
	tr := NewEpisodeTrigger(func(context.Context, time.Duration) { panic("password=x") }, &EpisodeOptions{Token: "t", Logger: quiet()})
	if w := serve(tr, "POST", "/", http.Header{"Authorization": {"Bearer t"}}); w.Code != 202 {
		t.Fatal(w.Code)
	}
	tr.Close() // waits for the episode, which panicked and was recovered
	if tr.Running() {
		t.Fatal("still running")
	}
}

func quiet() *slog.Logger { return slog.New(slog.DiscardHandler) }

func serve(h http.Handler, method, target string, hdr http.Header) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, target, nil)
	for k, v := range hdr {
		r.Header[k] = v
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}
