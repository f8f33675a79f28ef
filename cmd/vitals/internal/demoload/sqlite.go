package demoload

import (
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"syscall"
)

// sqliteDSN prepares the SQLite database file at path and returns its
// connection string.
//
// The file is created 0600 without following a symlink, before SQLite
// opens it: SQLite gives the -wal and -shm files it creates later the
// database file's permissions, so all three stay private. A symlink in
// place of any of them is refused rather than followed. An existing
// database readable by others is made private.
//
// The path goes into a file: URI, escaped: a '?' or '#' in a directory
// name would otherwise end the path and start SQLite's parameters.
func sqliteDSN(path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", fmt.Errorf("demoload: SQLite path: %w", err)
	}
	for _, p := range []string{abs, abs + "-wal", abs + "-shm", abs + "-journal"} {
		fi, err := os.Lstat(p)
		if err == nil && fi.Mode()&fs.ModeSymlink != 0 {
			return "", fmt.Errorf("demoload: SQLite: %s is a symlink; refusing to follow it (remove it, or choose another data directory)", p)
		}
	}
	f, err := os.OpenFile(abs, os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return "", fmt.Errorf("demoload: SQLite: %w", err)
	}
	fi, err := f.Stat()
	if err == nil && fi.Mode().Perm()&0o077 != 0 {
		err = f.Chmod(0o600)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", fmt.Errorf("demoload: SQLite: %w", err)
	}
	for _, side := range []string{abs + "-wal", abs + "-shm"} {
		if err := os.Chmod(side, 0o600); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("demoload: SQLite: %w", err)
		}
	}
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(abs),
		RawQuery: "_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)"}
	return u.String(), nil
}
