// Package client connects Go programs to a vitals stream: the WebSocket
// at /stream (Dial) or Server-Sent Events at /events (DialSSE), both
// carrying the JSON messages of schema version 1 described in
// docs/STREAMING.md. State applies full and update frames to keep the
// current value of every series.
//
//	c, err := client.Dial(ctx, "http://127.0.0.1:8080", nil)
//	if err != nil { ... }
//	defer c.Close()
//	c.Subscribe(ctx, "ops", []string{"performance"}, time.Second)
//	var st client.State
//	for {
//		m, err := c.Next(ctx)
//		if err != nil { ... }
//		if st.Apply(m) {
//			s := st.Find("vitals_operation_duration_seconds", "op", "checkout")
//			...
//		}
//	}
//
// A Conn is read from one goroutine; its send methods are safe from any.
package client
