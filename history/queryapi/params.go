package queryapi

import (
	"errors"
	"fmt"
	"math"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/bizra/vitals/history"
)

// paramError is a bad request parameter; its message goes to the client.
type paramError struct{ msg string }

func (e *paramError) Error() string { return e.msg }

func badParam(format string, args ...any) error { return &paramError{fmt.Sprintf(format, args...)} }

// Limits on parameters, so that a request's cost does not depend on how
// long its parameters are.
const (
	maxSeriesLen = 2048
	maxValueLen  = 64
)

// quote shortens and quotes a user value for an error message.
func quote(s string) string {
	if len(s) > maxValueLen {
		s = s[:maxValueLen] + "…"
	}
	return strconv.Quote(s)
}

// single returns the parameter's one value; "" when absent. Repeating a
// parameter, or giving it without a value ("window="), is an error rather
// than a silent choice.
func single(q url.Values, name string, maxLen int) (string, error) {
	vs := q[name]
	switch {
	case len(vs) == 0:
		return "", nil
	case len(vs) > 1:
		return "", badParam("parameter %s given %d times", name, len(vs))
	case vs[0] == "":
		return "", badParam("parameter %s has no value: give one or leave the parameter out", name)
	case len(vs[0]) > maxLen:
		return "", badParam("parameter %s is longer than %d bytes", name, maxLen)
	}
	return vs[0], nil
}

// parseTime reads RFC 3339 ("2026-03-01T12:00:00Z"), Unix seconds
// ("1772366400", "1772366400.25"), "now", or "now-<duration>" ("now-6h",
// "now-90d").
func parseTime(name, s string, now time.Time) (time.Time, error) {
	if s == "now" {
		return now, nil
	}
	if rest, ok := strings.CutPrefix(s, "now-"); ok {
		d, err := parseDuration(rest)
		if err != nil || d < 0 {
			return time.Time{}, badParam("%s: %s is not now-<duration> (such as now-6h or now-90d)", name, quote(s))
		}
		return now.Add(-d), nil
	}
	if s != "" && (s[0] >= '0' && s[0] <= '9' || s[0] == '-') && !strings.ContainsAny(s, "T:") {
		f, err := strconv.ParseFloat(s, 64)
		// Seconds between 1970 and 5138: anything else is a mistake (or
		// milliseconds).
		if err != nil || math.IsNaN(f) || f < 0 || f > 1e11 {
			return time.Time{}, badParam("%s: %s is not Unix seconds between 0 and 1e11", name, quote(s))
		}
		sec, frac := math.Modf(f)
		return time.Unix(int64(sec), int64(frac*1e9)).UTC(), nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, badParam("%s: %s is neither RFC 3339 (2006-01-02T15:04:05Z) nor Unix seconds", name, quote(s))
	}
	if t.Year() < 1970 || t.Year() > 5000 {
		return time.Time{}, badParam("%s: %s is outside the years 1970 to 5000", name, quote(s))
	}
	return t, nil
}

// parseStep reads a duration ("5m", "1h30m", "1d") or seconds ("300").
func parseStep(s string) (time.Duration, error) {
	var d time.Duration
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		if math.IsNaN(f) || f <= 0 || f > 366*24*3600 {
			return 0, badParam("step: %s seconds is not in (0, 366 days]", quote(s))
		}
		d = time.Duration(f * float64(time.Second))
	} else {
		d, err = parseDuration(s)
		if err != nil {
			return 0, badParam("step: %s is neither a duration (5m, 1h, 1d) nor seconds", quote(s))
		}
	}
	if d <= 0 || d > 366*24*time.Hour {
		return 0, badParam("step: %s is not in (0, 366 days]", quote(s))
	}
	return max(d, time.Second), nil
}

// defaultRange is the span of a query without from.
const defaultRange = time.Hour

// parseRange reads the parameters of /api/v1/query_range into a request:
// series and stat required; to defaults to now, from to an hour before
// to, step to about 720 points (the Store's choice).
func parseRange(q url.Values, now time.Time) (history.QueryRequest, error) {
	var req history.QueryRequest
	series, err := single(q, "series", maxSeriesLen)
	if err != nil {
		return req, err
	}
	if series == "" {
		return req, badParam("parameter series is required: a key from /api/v1/series, such as http_requests_total{code=\"200\"}")
	}
	req.Series = series
	stat, err := single(q, "stat", maxValueLen)
	if err != nil {
		return req, err
	}
	if stat == "" {
		return req, badParam("parameter stat is required: one of %s", strings.Join(history.StatNames(), ", "))
	}
	if req.Stat, err = history.ParseStat(stat); err != nil {
		return req, badParam("stat: %s is not one of %s", quote(stat), strings.Join(history.StatNames(), ", "))
	}
	to, err := single(q, "to", maxValueLen)
	if err != nil {
		return req, err
	}
	req.To = now
	if to != "" {
		if req.To, err = parseTime("to", to, now); err != nil {
			return req, err
		}
	}
	from, err := single(q, "from", maxValueLen)
	if err != nil {
		return req, err
	}
	req.From = req.To.Add(-defaultRange)
	if from != "" {
		if req.From, err = parseTime("from", from, now); err != nil {
			return req, err
		}
	}
	if req.From.After(req.To) {
		return req, badParam("from %s is after to %s", req.From.UTC().Format(time.RFC3339), req.To.UTC().Format(time.RFC3339))
	}
	step, err := single(q, "step", maxValueLen)
	if err != nil {
		return req, err
	}
	if step != "" {
		if req.Step, err = parseStep(step); err != nil {
			return req, err
		}
	}
	return req, nil
}

// parseWindow reads /api/v1/window's window parameter: one of the
// aggregator's windows, or "" for all of them.
func parseWindow(s string, windows []time.Duration) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	d, err := parseDuration(s)
	if err != nil {
		if f, ferr := strconv.ParseFloat(s, 64); ferr == nil && f > 0 && f < 1e9 {
			d, err = time.Duration(f*float64(time.Second)), nil
		}
	}
	names := make([]string, len(windows))
	for i, w := range windows {
		names[i] = shortDuration(w)
		if err == nil && w == d {
			return d, nil
		}
	}
	return 0, badParam("window: %s is not one of %s", quote(s), strings.Join(names, ", "))
}

// shortDuration prints 5m rather than 5m0s.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

// Units of parseDuration: Go's, plus days and weeks, since history spans
// 90 days.
var durationUnits = map[string]time.Duration{
	"ns": time.Nanosecond, "us": time.Microsecond, "µs": time.Microsecond, "ms": time.Millisecond,
	"s": time.Second, "m": time.Minute, "h": time.Hour, "d": 24 * time.Hour, "w": 7 * 24 * time.Hour,
}

// parseDuration reads a Go duration extended with days (d, 24 hours) and
// weeks (w, 7 days): "90d", "2w", "1d12h", "1.5h". No sign; at most
// about 290 years (time.Duration's range).
func parseDuration(s string) (time.Duration, error) {
	if s == "" {
		return 0, errors.New("empty duration")
	}
	if s == "0" {
		return 0, nil
	}
	var total float64
	for s != "" {
		i := 0
		for i < len(s) && (s[i] >= '0' && s[i] <= '9' || s[i] == '.') {
			i++
		}
		if i == 0 {
			return 0, errors.New("duration: expected a number")
		}
		num := s[:i]
		if strings.Count(num, ".") > 1 || num == "." {
			return 0, errors.New("duration: bad number")
		}
		v, err := strconv.ParseFloat(num, 64)
		if err != nil {
			return 0, err
		}
		s = s[i:]
		j := 0
		for j < len(s) && !(s[j] >= '0' && s[j] <= '9' || s[j] == '.') {
			j++
		}
		unit, ok := durationUnits[s[:j]]
		if !ok {
			return 0, errors.New("duration: unknown unit")
		}
		s = s[j:]
		total += v * float64(unit)
		if total >= float64(math.MaxInt64) { // 2^63: past the range
			return 0, errors.New("duration: too long")
		}
	}
	return time.Duration(total), nil
}
