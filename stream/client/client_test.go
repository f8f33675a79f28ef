package client

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/coder/websocket"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func f(v float64) *float64 { return &v }

func TestStateApply(t *testing.T) {
	var s State
	if s.Apply(&Message{Type: "update", Stream: 1}) {
		t.Fatal("an update before the full state was applied")
	}
	s.Apply(&Message{Type: "full", Stream: 1, Seq: 1, Series: []Series{
		{ID: 0, Name: "a_total", Kind: "counter", Labels: map[string]string{"x": "1"}, Value: f(1)},
		{ID: 1, Name: "b", Kind: "gauge", Value: f(5)},
	}})
	s.Apply(&Message{Type: "update", Stream: 1, Seq: 2, Series: []Series{{ID: 0, Value: f(3), Rate: f(2)}, {ID: 2, Name: "c", Kind: "gauge", Value: f(1)}}, Removed: []uint32{1}})
	if s.Apply(&Message{Type: "update", Stream: 9}) {
		t.Fatal("another stream's update was applied")
	}
	a := s.Find("a_total", "x", "1")
	if a == nil || *a.Value != 3 || *a.Rate != 2 || a.Kind != "counter" {
		t.Fatalf("a_total: %+v", a)
	}
	if s.Find("b") != nil || s.Find("c") == nil || s.Seq != 2 || s.Find("a_total", "x", "2") != nil {
		t.Fatalf("state: %+v", s)
	}
}

func TestSSEParsing(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("interval_ms") != "250" || len(r.URL.Query()["topic"]) != 2 || r.Header.Get("Authorization") != "Bearer t" {
			http.Error(w, "bad", 400)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		w.Write([]byte("retry: 2000\n\n: comment\n\ndata: {\"v\":1,\n"))
		w.Write([]byte("data: \"type\":\"hello\"}\r\n\r\ndata: {\"v\":1,\"type\":\"full\",\"stream\":3,\"series\":[{\"id\":0,\"name\":\"" + string(make([]byte, 0)) + "x\",\"value\":1}]}\n\n"))
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := DialSSE(ctx, srv.URL, []string{"cache", "health"}, 250*time.Millisecond, &Options{Token: "t"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	m, err := c.Next(ctx)
	if err != nil || m.Type != "hello" {
		t.Fatalf("multi-line event: %v %v", m, err)
	}
	m, err = c.Next(ctx)
	if err != nil || m.Type != "full" || m.Stream != 3 || *m.Series[0].Value != 1 {
		t.Fatalf("full: %v %v", m, err)
	}
	if _, err := c.Next(ctx); err == nil {
		t.Fatal("no error at the end of the stream")
	}
	if _, err := DialSSE(ctx, srv.URL, []string{"cache"}, 0, nil); err == nil {
		t.Fatal("a 400 was not an error")
	}
}

func TestEndpoint(t *testing.T) {
	for in, want := range map[string]string{
		"http://h:1":      "ws://h:1/stream",
		"https://h/base/": "wss://h/base/stream",
		"ws://h:2":        "ws://h:2/stream",
	} {
		u, err := endpoint(in, "/stream")
		if err != nil || u.String() != want {
			t.Errorf("%s: %v %v", in, u, err)
		}
	}
	if _, err := endpoint("ftp://h", "/stream"); err == nil {
		t.Error("ftp accepted")
	}
}

func TestNextHeadReadsHeadsWithoutAllocating(t *testing.T) {
	long := bytes.Repeat([]byte("x"), 5000)
	const runs = 200
	written := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer ws.CloseNow()
		ctx := r.Context()
		_ = ws.Write(ctx, websocket.MessageText, long)
		_ = ws.Write(ctx, websocket.MessageText, []byte("short"))
		// 201 messages of 300 bytes fit in the socket buffers: all are
		// written before the allocations are counted, which counts the
		// whole process, this server included.
		for i := 0; i < runs+1; i++ {
			_ = ws.Write(ctx, websocket.MessageText, long[:300])
		}
		close(written)
		_ = ws.Close(websocket.StatusNormalClosure, "done")
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := Dial(ctx, srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	head := make([]byte, 160)
	if n, size, err := c.NextHead(ctx, head); err != nil || n != 160 || size != 5000 {
		t.Fatalf("long message: n %d size %d err %v", n, size, err)
	}
	if n, size, err := c.NextHead(ctx, head); err != nil || n != 5 || size != 5 || string(head[:n]) != "short" {
		t.Fatalf("short message: n %d size %d err %v %q", n, size, err, head[:n])
	}
	select {
	case <-written:
	case <-ctx.Done():
		t.Fatal("the server did not write every message")
	}
	bg := context.Background()
	allocs := testing.AllocsPerRun(runs, func() {
		if n, size, err := c.NextHead(bg, head); err != nil || n != 160 || size != 300 {
			t.Fatalf("n %d size %d err %v", n, size, err)
		}
	})
	if allocs != 0 && !raceEnabled {
		t.Errorf("%.1f allocations per message, want 0", allocs)
	}
	if _, _, err := c.NextHead(ctx, head); CloseStatus(err) != int(websocket.StatusNormalClosure) {
		t.Fatalf("after the last message: %v", err)
	}
}
