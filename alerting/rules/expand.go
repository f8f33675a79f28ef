package rules

import (
	"strings"
	"text/template"
)

// Expand expands an annotation template the way Prometheus does for the
// subset the rules use: {{ $labels.<name> }} and {{ $value }}. It runs Go's
// text/template with the same preamble Prometheus puts before every
// annotation, so a template that expands here expands identically there.
func Expand(text string, labels map[string]string) (string, error) {
	return ExpandValue(text, labels, 0)
}

// ExpandValue is Expand with the alert's value.
func ExpandValue(text string, labels map[string]string, value float64) (string, error) {
	const preamble = "{{$labels := .Labels}}{{$value := .Value}}"
	t, err := template.New("annotation").Option("missingkey=zero").Parse(preamble + text)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	err = t.Execute(&b, struct {
		Labels map[string]string
		Value  float64
	}{labels, value})
	return b.String(), err
}
