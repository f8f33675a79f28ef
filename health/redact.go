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

// secretKey matches the names under which credentials travel, with any
// prefix or suffix: password, DB_PASSWORD, PGPASSWORD, client_secret,
// aws_secret_access_key, access_token, api-key, private_key, credentials,
// auth. It over-matches on purpose ("tokens_used"): masking a harmless
// value costs less than showing a secret.
const secretKey = `[A-Za-z0-9_.-]*(?:password|passwd|passphrase|pwd|secret|token|api[_-]?key|access[_-]?key|private[_-]?key|credential|auth)[A-Za-z0-9_.-]*`

var (
	// scheme://user:password@host; the password runs to the last '@'
	// of the authority, as URL parsers read it, so a password holding
	// '@' is masked whole.
	urlPassword = regexp.MustCompile(`([A-Za-z][A-Za-z0-9+.-]*://[^/\s:@]*):[^\s/?#]*@`)
	// user:password@host and user:password@tcp(host)/db (the Go MySQL
	// DSN) with no scheme, after a boundary.
	bareUserinfo = regexp.MustCompile(`(^|[\s"'=<(,;])([A-Za-z0-9_.~%+-]+):[^\s/?#"']*@`)
	// Authorization: <scheme> <credentials>, whatever the scheme (Bearer,
	// Basic, Token, Digest ...), in headers, logs or JSON.
	authHeader = regexp.MustCompile(`(?i)\b((?:proxy-)?authorization"?\s*[:=]\s*"?)(?:[A-Za-z][A-Za-z0-9_-]*\s+)?[^\s"]+`)
	// Bearer abc, Basic abc anywhere else.
	authScheme = regexp.MustCompile(`(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+`)
	// key=value, key: value, "key":"value", key='value': the value is a
	// quoted string (escapes included) or runs to whitespace or '&' (the
	// next query parameter). ';' and ',' do not end it: in password=abc;x
	// the secret may be all of it.
	keyValueSecret = regexp.MustCompile(`(?i)("?` + secretKey + `"?\s*[=:]\s*)("(?:[^"\\]|\\.)*"?|'[^']*'?|[^\s&"']+)`)
)

// redact masks credentials in text shown on the endpoints, in events and
// in logs, and bounds its length. Check outputs and panic values often
// carry an error that quotes a DSN, a request or a configuration.
func redact(s string) string {
	if s == "" {
		return s
	}
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	s = urlPassword.ReplaceAllString(s, "${1}:"+masked+"@")
	s = bareUserinfo.ReplaceAllString(s, "${1}${2}:"+masked+"@")
	// Headers and schemes before key=value: "Authorization: Token t" must
	// lose t, not only the word Token.
	s = authHeader.ReplaceAllString(s, "${1}"+masked)
	s = authScheme.ReplaceAllString(s, "${1} "+masked)
	s = keyValueSecret.ReplaceAllStringFunc(s, maskValue)
	if len(s) > maxOutput {
		cut := maxOutput
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "..."
	}
	return s
}

// maskValue replaces the value of one keyValueSecret match, keeping its
// quotes so that masked JSON stays JSON.
func maskValue(m string) string {
	sub := keyValueSecret.FindStringSubmatch(m)
	key, val := sub[1], sub[2]
	if val == masked || val == `"`+masked+`"` || val == "'"+masked+"'" {
		return m
	}
	switch {
	case strings.HasPrefix(val, `"`):
		return key + `"` + masked + `"`
	case strings.HasPrefix(val, "'"):
		return key + "'" + masked + "'"
	}
	return key + masked
}
