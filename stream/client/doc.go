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
// Next decodes each message; NextRaw returns its JSON; NextHead copies
// only its first bytes and allocates nothing over WebSocket, for a program
// that watches many connections and needs only the fields a message
// begins with (type, stream, seq, time), as `vitals loadtest` does.
//
// A Conn is read from one goroutine; its send methods are safe from any.
package client
