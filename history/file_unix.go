//go:build unix

package history

import "syscall"

// noFollow makes opening the history file fail (ELOOP) on a symbolic
// link: a link planted in a shared directory must not redirect writes.
const noFollow = syscall.O_NOFOLLOW
