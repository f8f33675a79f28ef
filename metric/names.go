package metric

import (
	"errors"
	"fmt"
	"strings"
)

// ErrInvalidName is wrapped by every name validation error.
var ErrInvalidName = errors.New("invalid name")

// ValidateName checks a metric name: ASCII letters, digits, '_' and ':',
// not starting with a digit, at most 200 bytes. Names work with every
// Prometheus version and every exposition format without quoting.
func ValidateName(name string) error {
	if err := validateIdent(name, true); err != nil {
		return fmt.Errorf("%w: metric %q: %s", ErrInvalidName, truncate(name), err.Error())
	}
	return nil
}

// ValidateLabelName checks a label name: ASCII letters, digits and '_', not
// starting with a digit, at most 100 bytes, not starting with "__" (reserved
// by Prometheus), and not "le" or "quantile" (reserved for buckets and
// summaries).
func ValidateLabelName(name string) error {
	err := validateIdent(name, false)
	if err == nil {
		switch {
		case strings.HasPrefix(name, "__"):
			err = errors.New(`names starting with "__" are reserved`)
		case name == "le" || name == "quantile":
			err = errors.New("reserved for histogram and summary buckets")
		case len(name) > 100:
			err = errors.New("longer than 100 bytes")
		}
	}
	if err != nil {
		return fmt.Errorf("%w: label %q: %s", ErrInvalidName, truncate(name), err.Error())
	}
	return nil
}

type identError string

func (e identError) Error() string { return string(e) }

func validateIdent(s string, colon bool) error {
	if s == "" {
		return identError("empty")
	}
	if len(s) > 200 {
		return identError("longer than 200 bytes")
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		ok := c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			(colon && c == ':') || (i > 0 && c >= '0' && c <= '9')
		if !ok {
			return identError(fmt.Sprintf("byte %d (%q) not allowed", i, c))
		}
	}
	return nil
}

func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}
