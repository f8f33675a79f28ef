package demoload

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"regexp"
	"strings"

	"github.com/redis/go-redis/v9"
)

// redisOptions reads a Redis address (host:port) or URL (redis://,
// rediss://). Errors never repeat the spec: it may hold a password.
func redisOptions(spec, password string) (*redis.Options, error) {
	var o *redis.Options
	if strings.Contains(spec, "://") {
		var err error
		if o, err = redis.ParseURL(spec); err != nil {
			var ue *url.Error
			if errors.As(err, &ue) {
				err = ue.Err // the url.Error's text repeats the whole URL
			}
			return nil, fmt.Errorf("demoload: the Redis URL does not parse (not shown: it may hold a password): %s", redactCredentials(err.Error(), ""))
		}
	} else {
		o = &redis.Options{Addr: spec}
	}
	if password != "" {
		o.Password = password
	}
	return o, nil
}

// urlCredentials matches the user:password@ part of a URL.
var urlCredentials = regexp.MustCompile(`(://[^:/@\s]*:)[^@\s]*@`)

// redactCredentials removes URL passwords and the known secret from s.
func redactCredentials(s, secret string) string {
	if secret != "" {
		s = strings.ReplaceAll(s, secret, "[REDACTED]")
	}
	return urlCredentials.ReplaceAllString(s, "${1}[REDACTED]@")
}

// redisLogger routes go-redis' own log lines (pool dial failures,
// reconnects), which it otherwise prints to stderr outside slog, into
// slog with credentials redacted.
type redisLogger struct {
	log    *slog.Logger
	secret string
}

func newRedisLogger(log *slog.Logger, password string) *redisLogger {
	return &redisLogger{log: log, secret: password}
}

// Printf implements go-redis' internal Logging interface.
func (r *redisLogger) Printf(ctx context.Context, format string, v ...any) {
	if ctx == nil {
		ctx = context.Background()
	}
	r.log.WarnContext(ctx, redactCredentials(fmt.Sprintf(format, v...), r.secret), "component", "go-redis")
}
