package testutil

import (
	"net"
	"testing"
	"time"
)

type fakeTB struct {
	testing.TB
	fatal, skipped bool
}

func (f *fakeTB) Helper()               {}
func (f *fakeTB) Fatalf(string, ...any) { f.fatal = true; panic(f) }
func (f *fakeTB) Skip(...any)           { f.skipped = true; panic(f) }

func run(fn func(tb testing.TB)) (ft *fakeTB) {
	ft = &fakeTB{}
	defer func() {
		if r := recover(); r != nil && r != any(ft) {
			panic(r)
		}
	}()
	fn(ft)
	return ft
}

func TestServices(t *testing.T) {
	t.Setenv(EnvRedis, "")
	if ft := run(func(tb testing.TB) { Redis(tb) }); !ft.skipped {
		t.Fatal("unset: must skip")
	}
	// Set but unreachable: a port nothing listens on.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	t.Setenv(EnvRedis, addr)
	if ft := run(func(tb testing.TB) { Redis(tb) }); !ft.fatal {
		t.Fatal("set but unreachable: must fail")
	}
	t.Setenv(EnvPostgres, "postgres://postgres@"+addr+"/test")
	if ft := run(func(tb testing.TB) { Postgres(tb) }); !ft.fatal {
		t.Fatal("set but unreachable: must fail")
	}
	t.Setenv(EnvPromtool, "/nonexistent/promtool")
	if ft := run(func(tb testing.TB) { Promtool(tb) }); !ft.fatal {
		t.Fatal("a promtool that does not run: must fail")
	}
}

func TestWaitFor(t *testing.T) {
	n := 0
	WaitFor(t, "three polls", time.Second, func() bool { n++; return n == 3 })
	if ft := run(func(tb testing.TB) { WaitFor(tb, "never", 10*time.Millisecond, func() bool { return false }) }); !ft.fatal {
		t.Fatal("must fail after the limit")
	}
}
