package stream_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/bizra/vitals"
	"github.com/bizra/vitals/stream"
	"github.com/bizra/vitals/stream/client"
)

func Example() {
	m := vitals.New(nil)
	m.Operation("checkout").Observe(12*time.Millisecond, nil)

	hub := stream.New(m, nil)
	defer hub.Close()
	mux := http.NewServeMux()
	hub.Mount(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, srv.URL, nil)
	if err != nil {
		panic(err)
	}
	defer c.Close()
	c.Subscribe(ctx, "ops", []string{`vitals_operation_duration_seconds{operation="checkout"}`}, 100*time.Millisecond)
	var st client.State
	for {
		msg, err := c.Next(ctx)
		if err != nil {
			panic(err)
		}
		fmt.Println(msg.Type)
		if st.Apply(msg) {
			s := st.Find("vitals_operation_duration_seconds", "operation", "checkout")
			fmt.Println(s.Kind, *s.Count)
			return
		}
	}
	// Output:
	// hello
	// subscribed
	// full
	// histogram 1
}

func ExampleParseTopic() {
	t, err := stream.ParseTopic(`vitals_cache_hits_total{ tier = "l1", cache=~"sess.*" }`)
	fmt.Println(t, err)
	_, err = stream.ParseTopic("vitals_cache_hits_total{tier}")
	fmt.Println(err != nil)
	// Output:
	// vitals_cache_hits_total{cache=~"sess.*",tier="l1"} <nil>
	// true
}
