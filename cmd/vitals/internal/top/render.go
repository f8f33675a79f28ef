package top

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// View is what the user chose and what the connection is doing: the part
// of the screen that is not the service's data.
type View struct {
	Sort    SortKey
	Reverse bool   // the sort order flipped (the same sort key pressed again)
	Filter  string // rows whose name contains it, ignoring case
	Editing bool   // the filter is being typed

	Target    string        // the service, as shown (no credentials)
	Transport string        // "ws" or "sse"
	Interval  time.Duration // of the subscription
	Status    string        // a connection problem; "" when frames arrive
}

// Style is how a line is drawn.
type Style uint8

// The styles.
const (
	Plain  Style = iota
	Header       // a section's column titles: reverse video
	Title        // the first line: bold
	Alarm        // a firing alert: bold red
)

// Line is one screen line: text at most the screen's width in cells.
type Line struct {
	Text  string
	Style Style
}

// column is one table column: its title, width in cells, and drop order
// when the screen is narrow (higher drops first; 0 never drops).
type column struct {
	title string
	width int
	drop  int
}

// minName is the narrowest the name column gets before columns drop.
const minName = 12

// table lays out one section: the first column takes the width the others
// leave; columns drop, highest drop first, until it is at least minName.
type table struct {
	cols  []column
	shown []bool
	name  int // width of the first column
}

func newTable(width int, first string, cols ...column) *table {
	t := &table{cols: append([]column{{title: first}}, cols...)}
	t.shown = make([]bool, len(t.cols))
	for i := range t.shown {
		t.shown[i] = true
	}
	for {
		used := 0
		for i, c := range t.cols[1:] {
			if t.shown[i+1] {
				used += 1 + c.width
			}
		}
		t.name = width - used
		if t.name >= minName {
			return t
		}
		worst := -1
		for i, c := range t.cols[1:] {
			if t.shown[i+1] && c.drop > 0 && (worst < 0 || c.drop > t.cols[worst].drop) {
				worst = i + 1
			}
		}
		if worst < 0 {
			t.name = max(width-used, 1)
			return t
		}
		t.shown[worst] = false
	}
}

func (t *table) row(cells ...string) string {
	var b strings.Builder
	b.WriteString(pad(cells[0], t.name))
	for i := 1; i < len(t.cols); i++ {
		if t.shown[i] {
			b.WriteByte(' ')
			b.WriteString(padLeft(cells[i], t.cols[i].width))
		}
	}
	return b.String()
}

func (t *table) header() string {
	cells := make([]string, len(t.cols))
	for i, c := range t.cols {
		cells[i] = c.title
	}
	return t.row(cells...)
}

// section is a titled block of rows; more counts rows that matched but
// did not fit.
type section struct {
	header string
	rows   []Line
	empty  string // shown when there are no rows
	weight int    // rows it gets per round when rows are shared out
	least  int    // rows it keeps before later sections get any
	hint   string // after "... N more"
}

// Render draws snap at width × height cells: a title line, the firing and
// pending alerts, operations, pools, cache tiers and breakers, and a key
// help or filter line at the bottom. Sections share the height: when not
// every row fits, each gets rows in turn (operations two per turn) and
// says how many it left out. Every line fits the width; names are cut
// with '~'.
func Render(snap Snapshot, v View, width, height int) []Line {
	if width < 1 || height < 1 {
		return nil
	}
	var secs []*section

	if len(snap.Alerts) > 0 {
		t := newTable(width, "ALERT", column{"STATE", 7, 0}, column{"SEVERITY", 8, 2}, column{"FOR", 7, 1})
		s := &section{header: t.header(), weight: 1, least: 2}
		for _, a := range snap.Alerts {
			name := a.Name
			if a.Summary != "" {
				name += ": " + a.Summary
			}
			st := Plain
			if a.State == "firing" {
				st = Alarm
			}
			s.rows = append(s.rows, Line{t.row(name, strings.ToUpper(a.State), a.Severity, since(snap.Time, a.Since)), st})
		}
		secs = append(secs, s)
	}

	ops := make([]Op, 0, len(snap.Ops))
	for _, o := range snap.Ops {
		if match(o.Name, v.Filter) {
			ops = append(ops, o)
		}
	}
	sortOps(ops, v.Sort, v.Reverse)
	{
		t := newTable(width, "OPERATION", column{"RATE/s", 8, 0}, column{"P50", 7, 3}, column{"P99", 7, 0},
			column{"ERR/s", 7, 1}, column{"ERR%", 6, 2})
		s := &section{header: t.header(), weight: 2, least: 3, hint: " (/ to filter)", empty: "no operations yet"}
		if v.Filter != "" {
			s.empty = fmt.Sprintf("no operation matches %q", v.Filter)
		}
		if snap.Time.IsZero() {
			s.empty = "waiting for the first frame"
		}
		for _, o := range ops {
			s.rows = append(s.rows, Line{Text: t.row(o.Name, rate(o.Rate), dur(o.P50), dur(o.P99), rate(o.Errs), pct(o.ErrRatio()))})
		}
		secs = append(secs, s)
	}

	if len(snap.Pools) > 0 {
		t := newTable(width, "POOL", column{"IN USE", 6, 0}, column{"IDLE", 5, 2}, column{"MAX", 5, 3},
			column{"WAITERS", 7, 0}, column{"WAIT P99", 8, 0}, column{"ACQ/s", 7, 4}, column{"FAIL/s", 6, 1})
		s := &section{header: t.header(), weight: 1, hint: " (/ to filter)"}
		for _, p := range snap.Pools {
			if !match(p.Name, v.Filter) {
				continue
			}
			mx := count(p.Max)
			if p.Max == 0 {
				mx = "none"
			}
			s.rows = append(s.rows, Line{Text: t.row(p.Name, count(p.InUse), count(p.Idle), mx, count(p.Waiters),
				dur(p.WaitP99), rate(p.Acquires), rate(p.AcqFails))})
		}
		s.empty = fmt.Sprintf("no pool matches %q", v.Filter)
		secs = append(secs, s)
	}

	if len(snap.Caches) > 0 {
		t := newTable(width, "CACHE", column{"TIER", 5, 0}, column{"HIT%", 6, 0}, column{"HITS/s", 8, 1},
			column{"MISSES/s", 8, 2}, column{"ERR/s", 7, 3})
		s := &section{header: t.header(), weight: 1, hint: " (/ to filter)"}
		for _, c := range snap.Caches {
			if !match(c.Cache, v.Filter) {
				continue
			}
			s.rows = append(s.rows, Line{Text: t.row(c.Cache, c.Tier, pct(c.HitRatio()), rate(c.Hits), rate(c.Misses), rate(c.Errors))})
		}
		s.empty = fmt.Sprintf("no cache matches %q", v.Filter)
		secs = append(secs, s)
	}

	if len(snap.Breakers) > 0 {
		t := newTable(width, "BREAKER", column{"STATE", 9, 0}, column{"CALLS/s", 8, 1}, column{"FAIL%", 6, 0},
			column{"REJ/s", 7, 2}, column{"TRANS", 6, 3})
		s := &section{header: t.header(), weight: 1, hint: " (/ to filter)"}
		for _, b := range snap.Breakers {
			if !match(b.Name, v.Filter) {
				continue
			}
			state := b.State
			if state == "" {
				state = "-"
			}
			s.rows = append(s.rows, Line{Text: t.row(b.Name, state, rate(b.Calls), pct(b.FailRate), rate(b.Rejected), count(b.Transitions))})
		}
		s.empty = fmt.Sprintf("no breaker matches %q", v.Filter)
		secs = append(secs, s)
	}

	out := make([]Line, 0, height)
	title := Line{cut(titleLine(snap, v, width), width), Title}
	if v.Status != "" {
		title.Style = Alarm
	}
	out = append(out, title)
	body := height - 2 // the title and the key line
	if body > 0 {
		out = append(out, layout(secs, body, width)...)
	}
	if height > 1 {
		for len(out) < height-1 {
			out = append(out, Line{})
		}
		out = append(out, Line{Text: cut(keyLine(v, width), width)})
	}
	return out
}

// layout shares n lines among the sections. Each needs its header and
// at least one line (a row, its empty message or "N more"), and keeps its
// least rows (alerts 2, operations 3) before the sections after it get
// any: sections that do not fit are left out, last first. The lines left
// go round the sections, weight rows a turn (operations 2).
func layout(secs []*section, n, width int) []Line {
	give := make([]int, len(secs))
	for {
		need := 0
		for i, s := range secs {
			give[i] = max(1, min(s.least, len(s.rows)))
			need += 1 + give[i]
		}
		if need <= n || len(secs) == 0 {
			break
		}
		if len(secs) == 1 {
			give[0] = max(n-1, 1)
			break
		}
		secs = secs[:len(secs)-1]
	}
	left := n
	for i := range secs {
		left -= 1 + give[i]
	}
	for progress := true; progress && left > 0; {
		progress = false
		for i, s := range secs {
			for k := 0; k < s.weight && left > 0 && give[i] < len(s.rows); k++ {
				give[i]++
				left--
				progress = true
			}
		}
	}
	var out []Line
	for i, s := range secs {
		out = append(out, Line{cut(s.header, width), Header})
		rows := s.rows
		switch {
		case len(rows) == 0:
			out = append(out, Line{Text: cut("  ("+s.empty+")", width)})
		case len(rows) <= give[i]:
			for _, r := range rows {
				out = append(out, Line{cut(r.Text, width), r.Style})
			}
		default:
			for _, r := range rows[:give[i]-1] {
				out = append(out, Line{cut(r.Text, width), r.Style})
			}
			more := len(rows) - (give[i] - 1)
			out = append(out, Line{Text: cut(fmt.Sprintf("  ... %d more%s", more, s.hint), width)})
		}
	}
	if len(out) > n { // a single section on a screen too short for a row of it
		out = out[:n]
	}
	return out
}

func titleLine(snap Snapshot, v View, width int) string {
	left := "vitals top  " + strings.TrimPrefix(v.Target, "http://")
	var right string
	switch {
	case v.Status != "":
		right = v.Status
	case snap.Time.IsZero():
		right = v.Transport + " " + v.Interval.String() + "  connecting"
	default:
		right = v.Transport + " " + v.Interval.String() + "  " + snap.Time.Format("15:04:05")
	}
	if w := width - textWidth(left) - textWidth(right); w >= 2 {
		return left + strings.Repeat(" ", w) + right
	}
	if v.Status != "" {
		return "vitals top  " + right // a problem matters more than the address
	}
	return left + "  " + right
}

// keyLine is the help line: the longest form that fits.
func keyLine(v View, width int) string {
	if v.Editing {
		return "filter: " + v.Filter + "_   (enter: keep, esc: clear)"
	}
	order := "v"
	if v.Reverse {
		order = "^"
	}
	sorted := " [" + v.Sort.String() + " " + order + "]"
	filter := ""
	if v.Filter != "" {
		filter = " [" + v.Filter + "]  esc clear"
	}
	long := "q quit  sort: r rate p p99 e errors n name" + sorted + "  / filter" + filter
	if textWidth(long) <= width {
		return long
	}
	return "q quit  r p e n sort" + sorted + "  /" + filter
}

// rate formats a per-second figure in at most 6 cells.
func rate(v float64) string {
	switch {
	case math.IsNaN(v) || math.IsInf(v, 0):
		return "-"
	case v < 0.005:
		return "0"
	case v < 10:
		return strconv.FormatFloat(v, 'f', 2, 64)
	case v < 100:
		return strconv.FormatFloat(v, 'f', 1, 64)
	case v < 10e3:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case v < 1e6:
		return si(v/1e3, "k")
	case v < 1e9:
		return si(v/1e6, "M")
	}
	return si(v/1e9, "G")
}

func si(v float64, unit string) string {
	if v < 100 {
		return strconv.FormatFloat(v, 'f', 1, 64) + unit
	}
	return strconv.FormatFloat(v, 'f', 0, 64) + unit
}

// count formats a gauge of things (connections, waiters).
func count(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "-"
	}
	if v < 10e3 {
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return rate(v)
}

// dur formats seconds in at most 7 cells.
func dur(s float64) string {
	switch {
	case math.IsNaN(s) || math.IsInf(s, 0) || s < 0:
		return "-"
	case s < 0.5e-6:
		return "<1us"
	case s < 1e-3:
		return strconv.FormatFloat(s*1e6, 'f', 0, 64) + "us"
	case s < 10e-3:
		return strconv.FormatFloat(s*1e3, 'f', 2, 64) + "ms"
	case s < 100e-3:
		return strconv.FormatFloat(s*1e3, 'f', 1, 64) + "ms"
	case s < 1:
		return strconv.FormatFloat(s*1e3, 'f', 0, 64) + "ms"
	case s < 100:
		return strconv.FormatFloat(s, 'f', 2, 64) + "s"
	}
	return strconv.FormatFloat(s, 'f', 0, 64) + "s"
}

// pct formats a ratio as a percentage in at most 6 cells.
func pct(r float64) string {
	switch {
	case math.IsNaN(r) || math.IsInf(r, 0):
		return "-"
	case r >= 1:
		return "100%"
	case r > 0 && r < 0.001:
		return "<0.1%"
	}
	return strconv.FormatFloat(r*100, 'f', 1, 64) + "%"
}

// since formats how long an alert has been in its state.
func since(now, t time.Time) string {
	if now.IsZero() || t.IsZero() {
		return "-"
	}
	d := now.Sub(t).Round(time.Second)
	switch {
	case d < 0:
		return "0s"
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dd%02dh", int(d.Hours())/24, int(d.Hours())%24)
}

// Terminal text. Names and labels come from the service: control
// characters (ESC above all, which could move the cursor or retitle the
// terminal) are replaced before they reach the screen, and widths are
// counted in cells, wide characters as two.

// clean replaces control characters and invalid UTF-8 with '?'.
func clean(s string) string {
	ok := true
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == utf8.RuneError {
			ok = false
			break
		}
	}
	if ok {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == utf8.RuneError {
			r = '?'
		}
		b.WriteRune(r)
	}
	return b.String()
}

// runeWidth returns the cells r takes: 0 for combining marks and format
// characters, 2 for East Asian wide and fullwidth ones and emoji.
func runeWidth(r rune) int {
	switch {
	case r < 0x300:
		return 1
	case unicode.In(r, unicode.Mn, unicode.Me, unicode.Cf):
		return 0
	case r >= 0x1100 && r <= 0x115f, r >= 0x2e80 && r <= 0xa4cf && r != 0x303f,
		r >= 0xac00 && r <= 0xd7a3, r >= 0xf900 && r <= 0xfaff, r >= 0xfe30 && r <= 0xfe4f,
		r >= 0xff00 && r <= 0xff60, r >= 0xffe0 && r <= 0xffe6,
		r >= 0x1f300 && r <= 0x1f64f, r >= 0x1f900 && r <= 0x1f9ff, r >= 0x20000 && r <= 0x3fffd:
		return 2
	}
	return 1
}

func textWidth(s string) int {
	n := 0
	for _, r := range s {
		n += runeWidth(r)
	}
	return n
}

// cut cleans s and shortens it to width cells, ending in '~' when cut.
func cut(s string, width int) string {
	s = clean(s)
	if textWidth(s) <= width {
		return s
	}
	if width <= 0 {
		return ""
	}
	var b strings.Builder
	w := 0
	for _, r := range s {
		rw := runeWidth(r)
		if w+rw > width-1 {
			break
		}
		b.WriteRune(r)
		w += rw
	}
	b.WriteByte('~')
	return b.String()
}

// pad cuts s to width cells and pads it with spaces on the right.
func pad(s string, width int) string {
	s = cut(s, width)
	return s + strings.Repeat(" ", max(width-textWidth(s), 0))
}

// padLeft cuts s to width cells and pads it with spaces on the left.
func padLeft(s string, width int) string {
	s = cut(s, width)
	return strings.Repeat(" ", max(width-textWidth(s), 0)) + s
}
