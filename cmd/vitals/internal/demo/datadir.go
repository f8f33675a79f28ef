package demo

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
)

// prepareDataDir creates dir 0700 when it does not exist, and otherwise
// refuses a directory another user could plant files or symlinks in: one
// group- or world-writable, or owned by another user (allowInsecure turns
// the refusal into a warning). A symlink to a directory is followed only
// when the link itself belongs to this user or root.
func prepareDataDir(dir string, allowInsecure bool, log *slog.Logger) error {
	li, err := os.Lstat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("data directory: %w", err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	var problems []string
	if li.Mode()&fs.ModeSymlink != 0 {
		if uid, ok := fileOwner(li); ok && uid != os.Geteuid() && uid != 0 {
			problems = append(problems, fmt.Sprintf("is a symlink owned by uid %d", uid))
		}
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("data directory %s: not a directory", dir)
	}
	if fi.Mode().Perm()&0o022 != 0 {
		problems = append(problems, fmt.Sprintf("is writable by others (mode %04o)", fi.Mode().Perm()))
	}
	if uid, ok := fileOwner(fi); ok && uid != os.Geteuid() {
		problems = append(problems, fmt.Sprintf("is owned by uid %d, not this process's uid %d", uid, os.Geteuid()))
	}
	for _, p := range problems {
		if !allowInsecure {
			return fmt.Errorf("data directory %s %s: another user could replace its files or plant symlinks; "+
				"use a directory of your own with mode 0700 (chmod go-w), or pass --allow-insecure-data-dir", dir, p)
		}
		log.Warn("data directory is not private; continuing because --allow-insecure-data-dir is set", "dir", dir, "problem", p)
	}
	return nil
}
