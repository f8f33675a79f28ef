package health

import (
	"regexp"
	"strings"
	"unicode/utf8"
)

// maxOutput bounds a check's output as served and logged: an error that
// embeds a whole response body must not bloat every probe.
const maxOutput = 512

const masked = "xxxxx"

var (
	// scheme://user:password@host
	urlPassword = regexp.MustCompile(`([A-Za-z][A-Za-z0-9+.-]*://[^/\s:@]*):[^@\s/]*@`)
	// password=..., token: ..., api_key="...", as in DSNs and error texts
	keyValueSecret = regexp.MustCompile(`(?i)\b(password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key|authorization|auth)(\s*[=:]\s*)("[^"]*"|'[^']*'|[^\s&;,]+)`)
	// Authorization: Bearer abc, Basic abc
	authScheme = regexp.MustCompile(`(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+`)
)

// redact masks credentials in text shown on the endpoints, in events and
// in logs, and bounds its length. Check outputs and panic values often
// carry an error that quotes a DSN or a request.
func redact(s string) string {
	if s == "" {
		return s
	}
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	s = urlPassword.ReplaceAllString(s, "${1}:"+masked+"@")
	// Schemes first: "Authorization: Bearer t" must lose t, not only the
	// word Bearer.
	s = authScheme.ReplaceAllString(s, "${1} "+masked)
	s = keyValueSecret.ReplaceAllString(s, "${1}${2}"+masked)
	if len(s) > maxOutput {
		cut := maxOutput
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "..."
	}
	return s
}
