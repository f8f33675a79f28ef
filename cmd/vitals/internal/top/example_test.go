package top_test

import (
	"fmt"
	"strings"
	"time"

	"github.com/bizra/vitals/cmd/vitals/internal/top"
	"github.com/bizra/vitals/stream/client"
)

func Example() {
	f := func(v float64) *float64 { return &v }
	// Two frames of a stream: the full state, then an update with rates.
	var st client.State
	st.Apply(&client.Message{Type: "full", Stream: 1, Series: []client.Series{
		{ID: 1, Name: "vitals_operation_duration_seconds", Kind: "histogram", Labels: map[string]string{"operation": "checkout"}},
		{ID: 2, Name: "vitals_operation_errors_total", Kind: "counter", Labels: map[string]string{"operation": "checkout"}, Value: f(0)},
	}})
	st.Apply(&client.Message{Type: "update", Stream: 1, Series: []client.Series{
		{ID: 1, Rate: f(42), P50: f(0.018), P99: f(0.061)},
		{ID: 2, Value: f(1), Rate: f(0.5)},
	}})
	snap := top.Build(&st, nil, time.Date(2026, 12, 1, 3, 14, 15, 0, time.UTC))

	view := top.View{Target: "http://127.0.0.1:9911", Transport: "ws", Interval: time.Second}
	for _, k := range top.ParseKeys([]byte("p")) { // sort by p99
		view.Handle(k)
	}
	for _, l := range top.Render(snap, view, 60, 5) {
		fmt.Println(strings.TrimRight(l.Text, " "))
	}
	// Output:
	// vitals top  127.0.0.1:9911                   ws 1s  03:14:15
	// OPERATION              RATE/s     P50     P99   ERR/s   ERR%
	// checkout                 42.0  18.0ms  61.0ms    0.50   1.2%
	//
	// q quit  sort: r rate p p99 e errors n name [p99 v]  / filter
}
