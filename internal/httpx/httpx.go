// Package httpx holds the JSON and HTTP plumbing that every vitals HTTP
// API shares: one way to write a JSON body or a JSON error, one way to
// turn non-finite numbers into JSON nulls, and one constant-time bearer
// token check. It is internal: users mount the APIs, not these helpers.
package httpx

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"math"
	"net/http"
	"strconv"
	"strings"
)

// ContentTypeJSON is the content type of every JSON document vitals serves,
// unless an API's standard names another (application/health+json).
const ContentTypeJSON = "application/json; charset=utf-8"

// WriteJSON encodes v and writes it with status. The body is encoded into a
// buffer first, so an encoding error is a clean 500 with a JSON error rather
// than half a document. A HEAD request gets the headers only.
func WriteJSON(w http.ResponseWriter, r *http.Request, status int, v any) {
	WriteJSONAs(w, r, status, ContentTypeJSON, v)
}

// WriteJSONAs is WriteJSON with another content type.
func WriteJSONAs(w http.ResponseWriter, r *http.Request, status int, contentType string, v any) {
	var buf bytes.Buffer
	if err := json.NewEncoder(&buf).Encode(v); err != nil {
		WriteError(w, r, http.StatusInternalServerError, "the response could not be encoded")
		return
	}
	WriteBody(w, r, status, contentType, buf.Bytes())
}

// WriteBody writes an already encoded JSON body with status and the headers
// every vitals API sets: content type and length, no caching, no sniffing.
func WriteBody(w http.ResponseWriter, r *http.Request, status int, contentType string, body []byte) {
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	if r == nil || r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}

// WriteError writes {"error": msg} with status: the one error shape of
// every vitals JSON API.
func WriteError(w http.ResponseWriter, r *http.Request, status int, msg string) {
	body, _ := json.Marshal(struct {
		Error string `json:"error"`
	}{msg}) // a string always encodes
	WriteBody(w, r, status, ContentTypeJSON, append(body, '\n'))
}

// NotFound is an http.Handler that answers every request with a JSON 404,
// for the unknown paths under an API's prefix.
func NotFound(w http.ResponseWriter, r *http.Request) {
	WriteError(w, r, http.StatusNotFound, "no such endpoint: "+r.URL.Path)
}

// Finite returns &v, or nil (JSON null) when v is NaN or infinite, which
// JSON cannot carry.
func Finite(v float64) *float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return &v
}

// ZeroNaN returns v, or 0 when v is NaN or infinite.
func ZeroNaN(v float64) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0
	}
	return v
}

// Token checks "Authorization: Bearer <token>" headers against one secret.
// Both sides are hashed before the constant-time comparison, so neither the
// token's bytes nor its length leak through timing. The zero value (and a
// nil *Token) accepts every request: no token configured.
type Token struct {
	sum *[sha256.Size]byte
}

// NewToken returns a Token that accepts only secret. An empty secret gives
// a Token that accepts everything.
func NewToken(secret string) *Token {
	if secret == "" {
		return &Token{}
	}
	sum := sha256.Sum256([]byte(secret))
	return &Token{sum: &sum}
}

// Enabled reports whether a secret is configured.
func (t *Token) Enabled() bool { return t != nil && t.sum != nil }

// Allow reports whether r carries the token, or no token is configured.
func (t *Token) Allow(r *http.Request) bool {
	if !t.Enabled() {
		return true
	}
	scheme, presented, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	return t.Matches(strings.TrimSpace(presented))
}

// Matches compares a presented secret with the configured one in constant
// time over their digests.
func (t *Token) Matches(presented string) bool {
	if !t.Enabled() {
		return true
	}
	sum := sha256.Sum256([]byte(presented))
	return subtle.ConstantTimeCompare(sum[:], t.sum[:]) == 1
}

// Unauthorized answers 401 with a Bearer challenge and a JSON error.
func Unauthorized(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="vitals"`)
	WriteError(w, r, http.StatusUnauthorized, "a valid bearer token is required")
}
