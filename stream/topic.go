package stream

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/bizra/vitals/metric"
)

// The topic groups. A group selects every series of one area by metric
// name prefix; health and alerts also carry the health report, health
// transitions and alert states.
const (
	GroupPerformance    = "performance"
	GroupCache          = "cache"
	GroupDatabase       = "database"
	GroupCircuitBreaker = "circuit-breaker"
	GroupHealth         = "health"
	GroupAlerts         = "alerts"
)

// groupPrefixes maps each group to the metric name prefixes it selects.
var groupPrefixes = map[string][]string{
	GroupPerformance:    {"vitals_operation_", "vitals_operations_", "vitals_http_"},
	GroupCache:          {"vitals_cache_"},
	GroupDatabase:       {"vitals_db_"},
	GroupCircuitBreaker: {"vitals_breaker_"},
	GroupHealth:         {"vitals_health_"},
	GroupAlerts:         {"vitals_alert_", "vitals_alerts_"},
}

// Groups lists the topic groups in documentation order.
var Groups = []string{GroupPerformance, GroupCache, GroupDatabase, GroupCircuitBreaker, GroupHealth, GroupAlerts}

// MaxTopicLen bounds one topic's text; longer topics are rejected.
const MaxTopicLen = 512

// ErrTopic is wrapped by every topic parse error.
var ErrTopic = errors.New("invalid topic")

// Topic is a parsed topic: a group, or a series selector (a metric name
// pattern where '*' matches any run of characters, with optional label
// matchers =, !=, =~ and !~ like PromQL's; regular expressions are RE2,
// anchored at both ends).
type Topic struct {
	group    string
	name     string // pattern; "" for a group
	matchers []matcher
}

type matcher struct {
	label string
	op    string // "=", "!=", "=~", "!~"
	value string
	re    *regexp.Regexp
}

// ParseTopic parses a group name or a series selector such as
// vitals_operation_duration_seconds{op=~"check.*"}.
func ParseTopic(s string) (Topic, error) {
	if len(s) > MaxTopicLen {
		return Topic{}, fmt.Errorf("%w: longer than %d bytes", ErrTopic, MaxTopicLen)
	}
	if _, ok := groupPrefixes[s]; ok {
		return Topic{group: s}, nil
	}
	p := &topicParser{s: s}
	t, err := p.parse()
	if err != nil {
		return Topic{}, fmt.Errorf("%w %q: %s (a topic is one of %s, or a series selector such as name{label=\"value\"})",
			ErrTopic, s, err.Error(), strings.Join(Groups, ", "))
	}
	return t, nil
}

// Group returns the group name, or "" for a series selector.
func (t Topic) Group() string { return t.group }

// String returns the canonical text of t: matchers sorted, values quoted.
// Two topics that select the same series by the same rules print alike.
func (t Topic) String() string {
	if t.group != "" {
		return t.group
	}
	if len(t.matchers) == 0 {
		return t.name
	}
	b := []byte(t.name)
	b = append(b, '{')
	for i, m := range t.matchers {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, m.label...)
		b = append(b, m.op...)
		b = strconv.AppendQuote(b, m.value)
	}
	return string(append(b, '}'))
}

// matchFamily reports whether any series of f can match t.
func (t Topic) matchFamily(f *metric.Family) bool {
	if t.group != "" {
		for _, p := range groupPrefixes[t.group] {
			if strings.HasPrefix(f.Name, p) {
				return true
			}
		}
		return false
	}
	return globMatch(t.name, f.Name)
}

// matchSeries reports whether series s of family f (already matched by
// matchFamily) matches t's label matchers. A label the family does not have
// has the value "".
func (t Topic) matchSeries(f *metric.Family, s *metric.Series) bool {
	for _, m := range t.matchers {
		v := ""
		if i := slices.Index(f.Labels, m.label); i >= 0 && i < len(s.Values) {
			v = s.Values[i]
		}
		var ok bool
		switch m.op {
		case "=":
			ok = v == m.value
		case "!=":
			ok = v != m.value
		case "=~":
			ok = m.re.MatchString(v)
		case "!~":
			ok = !m.re.MatchString(v)
		}
		if !ok {
			return false
		}
	}
	return true
}

// globMatch matches name against pattern, where '*' matches any run of
// characters. It is linear in practice: patterns are short and names are
// metric names.
func globMatch(pattern, name string) bool {
	star := strings.IndexByte(pattern, '*')
	if star < 0 {
		return pattern == name
	}
	if !strings.HasPrefix(name, pattern[:star]) {
		return false
	}
	name = name[star:]
	parts := strings.Split(pattern[star+1:], "*")
	last := parts[len(parts)-1]
	for _, p := range parts[:len(parts)-1] {
		i := strings.Index(name, p)
		if i < 0 {
			return false
		}
		name = name[i+len(p):]
	}
	return len(name) >= len(last) && strings.HasSuffix(name, last)
}

type topicParser struct {
	s   string
	pos int
}

func (p *topicParser) parse() (Topic, error) {
	var t Topic
	start := p.pos
	for p.pos < len(p.s) && (isNameByte(p.s[p.pos], p.pos == start) || p.s[p.pos] == '*') {
		p.pos++
	}
	t.name = p.s[start:p.pos]
	if t.name == "" {
		return t, errors.New("no metric name pattern")
	}
	if p.pos == len(p.s) {
		return t, nil
	}
	if p.s[p.pos] != '{' {
		return t, fmt.Errorf("unexpected %q at offset %d", p.s[p.pos], p.pos)
	}
	p.pos++
	for {
		p.space()
		if p.eat('}') {
			break
		}
		m, err := p.matcher()
		if err != nil {
			return t, err
		}
		if len(t.matchers) == 8 {
			return t, errors.New("more than 8 label matchers")
		}
		t.matchers = append(t.matchers, m)
		p.space()
		if p.eat(',') {
			continue
		}
		if p.eat('}') {
			break
		}
		return t, fmt.Errorf("expected ',' or '}' at offset %d", p.pos)
	}
	if p.pos != len(p.s) {
		return t, fmt.Errorf("trailing text at offset %d", p.pos)
	}
	slices.SortFunc(t.matchers, func(a, b matcher) int {
		if c := strings.Compare(a.label, b.label); c != 0 {
			return c
		}
		if c := strings.Compare(a.op, b.op); c != 0 {
			return c
		}
		return strings.Compare(a.value, b.value)
	})
	return t, nil
}

func (p *topicParser) matcher() (matcher, error) {
	var m matcher
	start := p.pos
	for p.pos < len(p.s) && isNameByte(p.s[p.pos], p.pos == start) && p.s[p.pos] != ':' {
		p.pos++
	}
	m.label = p.s[start:p.pos]
	if m.label == "" {
		return m, fmt.Errorf("expected a label name at offset %d", p.pos)
	}
	p.space()
	switch {
	case strings.HasPrefix(p.s[p.pos:], "=~"), strings.HasPrefix(p.s[p.pos:], "!~"), strings.HasPrefix(p.s[p.pos:], "!="):
		m.op = p.s[p.pos : p.pos+2]
	case strings.HasPrefix(p.s[p.pos:], "="):
		m.op = "="
	default:
		return m, fmt.Errorf("expected =, !=, =~ or !~ after label %s", m.label)
	}
	p.pos += len(m.op)
	p.space()
	if p.pos >= len(p.s) || (p.s[p.pos] != '"' && p.s[p.pos] != '\'' && p.s[p.pos] != '`') {
		return m, fmt.Errorf("expected a quoted value for label %s", m.label)
	}
	q, err := strconv.QuotedPrefix(p.s[p.pos:])
	if err != nil {
		return m, fmt.Errorf("bad quoted value for label %s", m.label)
	}
	p.pos += len(q)
	if m.value, err = strconv.Unquote(q); err != nil {
		return m, fmt.Errorf("bad quoted value for label %s", m.label)
	}
	if m.op == "=~" || m.op == "!~" {
		if m.re, err = regexp.Compile("^(?:" + m.value + ")$"); err != nil {
			return m, fmt.Errorf("label %s: bad regular expression: %v", m.label, err)
		}
	}
	return m, nil
}

func (p *topicParser) space() {
	for p.pos < len(p.s) && (p.s[p.pos] == ' ' || p.s[p.pos] == '\t') {
		p.pos++
	}
}

func (p *topicParser) eat(c byte) bool {
	if p.pos < len(p.s) && p.s[p.pos] == c {
		p.pos++
		return true
	}
	return false
}

func isNameByte(c byte, first bool) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '_', c == ':':
		return true
	case c >= '0' && c <= '9':
		return !first
	}
	return false
}
