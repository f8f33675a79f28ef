package demoload

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
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
// A file this process may not write or create (a read-only volume, a
// directory it does not own) is not an error: the connection string
// opens it read-only (mode=ro) and roErr says why, so the demo starts
// and its readiness check reports the database unwritable (or absent).
//
// The path goes into a file: URI, escaped: a '?' or '#' in a directory
// name would otherwise end the path and start SQLite's parameters.
func sqliteDSN(path string, openFile func(string, int, os.FileMode) (*os.File, error)) (dsn string, roErr, err error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", nil, fmt.Errorf("demoload: SQLite path: %w", err)
	}
	for _, p := range []string{abs, abs + "-wal", abs + "-shm", abs + "-journal"} {
		fi, err := os.Lstat(p)
		if err == nil && fi.Mode()&fs.ModeSymlink != 0 {
			return "", nil, fmt.Errorf("demoload: SQLite: %s is a symlink; refusing to follow it (remove it, or choose another data directory)", p)
		}
	}
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(abs)}
	f, err := openFile(abs, os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW, 0o600)
	if cannotWrite(err) {
		// Read-only: no pragma that would write (journal mode), and the
		// -wal and -shm files are left as they are.
		u.RawQuery = "mode=ro&_pragma=busy_timeout(5000)"
		return u.String(), err, nil
	}
	if err != nil {
		return "", nil, fmt.Errorf("demoload: SQLite: %w", err)
	}
	fi, err := f.Stat()
	if err == nil && fi.Mode().Perm()&0o077 != 0 {
		err = f.Chmod(0o600)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", nil, fmt.Errorf("demoload: SQLite: %w", err)
	}
	for _, side := range []string{abs + "-wal", abs + "-shm"} {
		if err := os.Chmod(side, 0o600); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return "", nil, fmt.Errorf("demoload: SQLite: %w", err)
		}
	}
	u.RawQuery = "_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)"
	return u.String(), nil, nil
}

// cannotWrite reports whether err means this process may not write or
// create the file.
func cannotWrite(err error) bool {
	return errors.Is(err, syscall.EROFS) || errors.Is(err, syscall.EACCES) || errors.Is(err, syscall.EPERM)
}

// sqliteWritable checks that db hands out a connection that can write:
// in a transaction it rewrites the file header's user_version with its
// own value and rolls back, so it changes nothing. A read-only file fails
// with "attempt to write a readonly database" (taking the write lock
// alone does not: SQLite grants it on a read-only file), a file that
// cannot be opened with "unable to open database file".
func sqliteWritable(ctx context.Context, db *sql.DB) error {
	c, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	if _, err := c.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		return err
	}
	var v int64
	err = c.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v)
	if err == nil {
		_, err = c.ExecContext(ctx, "PRAGMA user_version = "+strconv.FormatInt(v, 10))
	}
	if _, rerr := c.ExecContext(context.WithoutCancel(ctx), "ROLLBACK"); err == nil {
		err = rerr
	}
	return err
}
