package top

import "unicode/utf8"

// Key is one key press: a printable rune, or one of the special keys
// below (negative).
type Key rune

// The special keys.
const (
	KeyEsc       Key = -1
	KeyEnter     Key = -2
	KeyBackspace Key = -3
	KeyCtrlC     Key = -4
	KeyOther     Key = -5 // an arrow, a function key: ignored
)

// ParseKeys splits what one read from the terminal returned into keys.
// Escape sequences (arrows, function keys) become KeyOther; an ESC that
// ends the read is the Esc key itself.
func ParseKeys(b []byte) []Key {
	var keys []Key
	for len(b) > 0 {
		c := b[0]
		switch {
		case c == 0x1b:
			if len(b) == 1 {
				keys = append(keys, KeyEsc)
				b = b[1:]
				continue
			}
			n := escapeLen(b)
			if n == 1 {
				keys = append(keys, KeyEsc)
			} else {
				keys = append(keys, KeyOther)
			}
			b = b[n:]
			continue
		case c == 3:
			keys = append(keys, KeyCtrlC)
		case c == '\r' || c == '\n':
			keys = append(keys, KeyEnter)
		case c == 0x7f || c == 8:
			keys = append(keys, KeyBackspace)
		case c < 0x20:
			keys = append(keys, KeyOther)
		case c < utf8.RuneSelf:
			keys = append(keys, Key(c))
		default:
			r, n := utf8.DecodeRune(b)
			if r == utf8.RuneError {
				keys = append(keys, KeyOther)
			} else {
				keys = append(keys, Key(r))
			}
			b = b[n:]
			continue
		}
		b = b[1:]
	}
	return keys
}

// escapeLen returns the length of the escape sequence at the start of b
// (which starts with ESC and has more bytes): CSI (ESC [ ... final) and
// SS3 (ESC O x); ESC followed by anything else is a lone Esc.
func escapeLen(b []byte) int {
	switch b[1] {
	case '[':
		for i := 2; i < len(b); i++ {
			if b[i] >= 0x40 && b[i] <= 0x7e {
				return i + 1
			}
		}
		return len(b)
	case 'O':
		return min(3, len(b))
	}
	return 1
}

// maxFilter bounds the filter's length.
const maxFilter = 64

// Handle applies one key to the view and reports whether to quit.
//
//	q, Ctrl-C     quit (q types a q while editing the filter)
//	r p e n       sort by rate, p99, errors, name; the same key again reverses
//	s             next sort key
//	/             type a filter; Enter keeps it, Esc clears it
//	Esc           clear the filter
func (v *View) Handle(k Key) (quit bool) {
	if k == KeyCtrlC {
		return true
	}
	if v.Editing {
		switch {
		case k == KeyEnter:
			v.Editing = false
		case k == KeyEsc:
			v.Editing, v.Filter = false, ""
		case k == KeyBackspace:
			if v.Filter != "" {
				_, n := utf8.DecodeLastRuneInString(v.Filter)
				v.Filter = v.Filter[:len(v.Filter)-n]
			}
		case k >= 0x20 && len(v.Filter) < maxFilter:
			v.Filter += string(rune(k))
		}
		return false
	}
	switch k {
	case 'q', 'Q':
		return true
	case '/':
		v.Editing = true
	case KeyEsc:
		v.Filter = ""
	case 's':
		v.Sort, v.Reverse = (v.Sort+1)%(ByName+1), false
	case 'r', 'p', 'e', 'n':
		next := map[Key]SortKey{'r': ByRate, 'p': ByP99, 'e': ByErrors, 'n': ByName}[k]
		if next == v.Sort {
			v.Reverse = !v.Reverse
		} else {
			v.Sort, v.Reverse = next, false
		}
	}
	return false
}
