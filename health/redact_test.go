package health

import (
	"strings"
	"testing"
)

func TestRedact(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"":                                     "",
		"plain error":                          "plain error",
		"dial postgres://app:s3cret@db:5432/x": "dial postgres://app:xxxxx@db:5432/x",
		"redis://:pw@cache:6379":               "redis://:xxxxx@cache:6379",
		"host=db user=app password=hunter2 sslmode=disable": "host=db user=app password=xxxxx sslmode=disable",
		`token: "abc def"`:                     "token: xxxxx",
		"Authorization: Bearer eyJhbGciOi.x.y": "Authorization: xxxxx xxxxx",
		"got header Bearer abc123":             "got header Bearer xxxxx",
		"api_key=K&x=1":                        "api_key=xxxxx&x=1",
		"bad \xff byte":                        "bad \uFFFD byte",
	} {
		if got := redact(in); got != want {
			t.Errorf("redact(%q) = %q, want %q", in, got, want)
		}
	}
	long := redact(strings.Repeat("é", 600))
	if len(long) > maxOutput+3 || !strings.HasSuffix(long, "...") || strings.ContainsRune(long, '\uFFFD') {
		t.Fatalf("truncation: %d bytes", len(long))
	}
}
