package stream

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// Version is the message schema version, sent as "v" in every server
// message. It changes only when a field changes meaning or disappears;
// new fields may appear within a version.
const Version = 1

// MinInterval is the shortest update interval a subscription may ask for.
const MinInterval = 100 * time.Millisecond

// DefaultInterval is the update interval of a subscription that gives none.
const DefaultInterval = time.Second

// Request is a message from a client. Type is "subscribe", "unsubscribe"
// or "ping".
type Request struct {
	Type string `json:"type"`
	// ID names the subscription: chosen by the client, 1 to 64 bytes,
	// unique on the connection. The server's answers about it carry it.
	ID string `json:"id,omitempty"`
	// Topics of a subscribe: groups or series selectors (see ParseTopic).
	Topics []string `json:"topics,omitempty"`
	// IntervalMS of a subscribe, in milliseconds: at least 100; 0 or
	// absent means 1000.
	IntervalMS int64 `json:"interval_ms,omitempty"`
}

// Error codes of "error" messages.
const (
	CodeBadMessage  = "bad_message"  // not JSON, or not a known type
	CodeBadTopic    = "bad_topic"    // a topic does not parse
	CodeBadInterval = "bad_interval" // interval under 100 ms or over 1 h
	CodeBadID       = "bad_id"       // missing, too long, taken, or unknown
	CodeTooMany     = "too_many"     // subscriptions or topics past the cap
	CodeRateLimited = "rate_limited" // subscription churn past its rate
)

// requestError is a client mistake answered with an "error" message.
type requestError struct {
	code, id, msg string
}

func (e *requestError) Error() string { return e.code + ": " + e.msg }

// parseRequest decodes and validates one client message. Every failure
// is a *requestError that names what is wrong.
func parseRequest(b []byte, maxTopics int) (Request, error) {
	var r Request
	d := json.NewDecoder(bytes.NewReader(b))
	if err := d.Decode(&r); err != nil {
		return r, &requestError{code: CodeBadMessage, msg: "not a JSON request object: " + jsonProblem(err)}
	}
	if d.More() {
		return r, &requestError{code: CodeBadMessage, msg: "one JSON object per message"}
	}
	switch r.Type {
	case "ping":
		return r, nil
	case "subscribe", "unsubscribe":
	default:
		return r, &requestError{code: CodeBadMessage, id: safeID(r.ID),
			msg: fmt.Sprintf("unknown type %q: use subscribe, unsubscribe or ping", truncate(r.Type, 32))}
	}
	if r.ID == "" || len(r.ID) > 64 {
		return r, &requestError{code: CodeBadID, id: safeID(r.ID), msg: "id must be 1 to 64 bytes"}
	}
	if r.Type == "unsubscribe" {
		return r, nil
	}
	if len(r.Topics) == 0 {
		return r, &requestError{code: CodeBadTopic, id: r.ID, msg: "no topics: give groups (" + fmt.Sprint(Groups) + ") or series selectors"}
	}
	if len(r.Topics) > maxTopics {
		return r, &requestError{code: CodeTooMany, id: r.ID, msg: "more than " + strconv.Itoa(maxTopics) + " topics in one subscription"}
	}
	if r.IntervalMS != 0 && (r.IntervalMS < MinInterval.Milliseconds() || r.IntervalMS > time.Hour.Milliseconds()) {
		return r, &requestError{code: CodeBadInterval, id: r.ID,
			msg: fmt.Sprintf("interval_ms %d: use 100 to 3600000 (0 means 1000)", r.IntervalMS)}
	}
	return r, nil
}

func jsonProblem(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return "syntax error at offset " + strconv.FormatInt(se.Offset, 10)
	case errors.As(err, &te):
		return "field " + te.Field + " has the wrong type"
	}
	return "unexpected end of input"
}

func safeID(id string) string {
	if len(id) > 64 {
		return ""
	}
	return id
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// appendHeader starts a server message: {"v":1,"type":"<typ>".
func appendHeader(b []byte, typ string) []byte {
	b = append(b, `{"v":`...)
	b = strconv.AppendInt(b, Version, 10)
	b = append(b, `,"type":"`...)
	b = append(b, typ...)
	return append(b, '"')
}

// appendString appends s as a JSON string.
func appendString(b []byte, s string) []byte {
	q, _ := json.Marshal(s) // a string always marshals
	return append(b, q...)
}

// appendFloat appends v as a JSON number, or null when it has none.
func appendFloat(b []byte, v float64) []byte {
	if v != v || v > 1.7976931348623157e308 || v < -1.7976931348623157e308 {
		return append(b, "null"...)
	}
	return strconv.AppendFloat(b, v, 'g', -1, 64)
}

// errorMessage encodes an "error" message.
func errorMessage(code, id, msg string) []byte {
	b := appendHeader(nil, "error")
	b = append(b, `,"code":`...)
	b = appendString(b, code)
	if id != "" {
		b = append(b, `,"id":`...)
		b = appendString(b, id)
	}
	b = append(b, `,"error":`...)
	b = appendString(b, msg)
	return append(b, '}')
}
