package health

import (
	"strings"
	"testing"
)

func TestRedact(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ name, in, want string }{
		{"empty", "", ""},
		{"plain", "plain error", "plain error"},
		{"url", "dial postgres://app:s3cret@db:5432/x", "dial postgres://app:xxxxx@db:5432/x"},
		{"url no user", "redis://:pw@cache:6379", "redis://:xxxxx@cache:6379"},
		{"url password with @", "postgres://app:p@ss@word@db:5432/x", "postgres://app:xxxxx@db:5432/x"},
		{"libpq", "host=db user=app password=hunter2 sslmode=disable", "host=db user=app password=xxxxx sslmode=disable"},
		{"tail after ;", "Server=db;User=app;password=abc;SECRET;x", "Server=db;User=app;password=xxxxx"},
		{"password with @", "password=p@ss@word host=db", "password=xxxxx host=db"},
		{"quoted", `token: "abc def"`, `token: "xxxxx"`},
		{"json", `{"user":"app","password":"hunter2","n":1}`, `{"user":"app","password":"xxxxx","n":1}`},
		{"json spaced", `{"password" : "hun\"ter2"}`, `{"password" : "xxxxx"}`},
		{"json client_secret", `{"client_secret":"cs-123"}`, `{"client_secret":"xxxxx"}`},
		{"env DB_PASSWORD", "DB_PASSWORD=hunter2 ./app", "DB_PASSWORD=xxxxx ./app"},
		{"env PGPASSWORD", "PGPASSWORD=hunter2", "PGPASSWORD=xxxxx"},
		{"access_token", "GET /cb?access_token=ya29.abc&state=1", "GET /cb?access_token=xxxxx&state=1"},
		{"client_secret", "client_secret=cs-123", "client_secret=xxxxx"},
		{"aws", "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG", "aws_secret_access_key = xxxxx"},
		{"aws upper", "AWS_SECRET_ACCESS_KEY=wJalr", "AWS_SECRET_ACCESS_KEY=xxxxx"},
		{"mysql dsn", "dial u:pw@tcp(db:3306)/shop failed", "dial u:xxxxx@tcp(db:3306)/shop failed"},
		{"mysql dsn @", "u:p@w@tcp(db)/shop", "u:xxxxx@tcp(db)/shop"},
		{"bare userinfo", "connect to app:hunter2@db.internal:5432", "connect to app:xxxxx@db.internal:5432"},
		{"bearer header", "Authorization: Bearer eyJhbGciOi.x.y", "Authorization: xxxxx"},
		{"token header", "Authorization: Token abc123", "Authorization: xxxxx"},
		{"basic header", "authorization=Basic dXNlcjpwdw==", "authorization=xxxxx"},
		{"json header", `{"Authorization":"Token abc123"}`, `{"Authorization":"xxxxx"}`},
		{"bearer alone", "got header Bearer abc123", "got header Bearer xxxxx"},
		{"api key query", "api_key=K&x=1", "api_key=xxxxx&x=1"},
		{"invalid utf8", "bad \xff byte", "bad \uFFFD byte"},
		{"time is not a secret", "took 10:30 at db", "took 10:30 at db"},
	} {
		if got := redact(c.in); got != c.want {
			t.Errorf("%s: redact(%q) = %q, want %q", c.name, c.in, got, c.want)
		}
	}
	long := redact(strings.Repeat("é", 600))
	if len(long) > maxOutput+3 || !strings.HasSuffix(long, "...") || strings.ContainsRune(long, '\uFFFD') {
		t.Fatalf("truncation: %d bytes", len(long))
	}
}

// secretForms are the places a credential shows up in error texts and
// configuration dumps; %s is the secret.
var secretForms = []string{
	"postgres://app:%s@db:5432/shop",
	"redis://:%s@cache:6379/0",
	"host=db user=app password=%s sslmode=disable",
	"Server=db;Password=%s;Database=shop",
	`{"password":"%s"}`,
	`{"user":"app", "client_secret": "%s"}`,
	"DB_PASSWORD=%s",
	"PGPASSWORD=%s psql",
	"GET /cb?access_token=%s&state=1",
	"client_secret=%s",
	"aws_secret_access_key=%s",
	"app:%s@tcp(db:3306)/shop",
	"connect app:%s@db:5432",
	"Authorization: Token %s",
	"Authorization: Bearer %s",
	"Authorization: Basic %s",
	"api_key: '%s'",
	"token=%s;rest",
}

// secretAlphabet holds the bytes a fuzzed secret is made of: everything a
// password may hold in every form above (no space, quote, '&', '/', '?',
// '#', which end a value or cannot appear unescaped in a URL).
const secretAlphabet = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz0123456789@;!$%^*~+=:.,-_()[]{}|<>"

// FuzzRedactNeverLeaks builds a secret from the fuzzer's bytes, puts it in
// every form and checks that no output holds it.
func FuzzRedactNeverLeaks(f *testing.F) {
	for _, s := range []string{"hunter2", "p@ss@word", "abc;SECRET", "a:b@c", "x==", "(tcp)", "Bearer"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		var b strings.Builder
		b.WriteString("Q7z") // a prefix no form's own text holds
		for _, c := range raw {
			b.WriteByte(secretAlphabet[int(c)%len(secretAlphabet)])
		}
		secret := b.String()
		if len(secret) > 200 {
			secret = secret[:200]
		}
		for _, form := range secretForms {
			in := strings.Replace(form, "%s", secret, 1)
			if out := redact(in); strings.Contains(out, secret) || strings.Contains(out, secret[:min(len(secret), 8)]) && len(secret) >= 8 {
				t.Fatalf("secret %q leaked from %q: %q", secret, in, out)
			}
		}
	})
}
