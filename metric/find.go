package metric

import "unicode/utf8"

// Find returns the series with exactly these label values, or nil when the
// family has none (Find never creates a series and never returns the
// overflow series for values that were folded into it). It is for the read
// side: consumers that keep per-series state look their series up once and
// then find its point in each snapshot by pointer.
func (f *Family) Find(values ...string) *Series {
	if len(values) != len(f.Labels) {
		return nil
	}
	for _, v := range values {
		if !utf8.ValidString(v) {
			return nil
		}
	}
	var buf [256]byte
	key := appendKey(buf[:0], values)
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.index[string(key)]
}

// Resolve returns the series a Vec's With(values...) call made or found:
// the series with these values, or, when they were folded past the cap,
// the overflow series. nil when neither exists (With was never called).
func (f *Family) Resolve(values ...string) *Series {
	if s := f.Find(values...); s != nil {
		return s
	}
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.overS
}
