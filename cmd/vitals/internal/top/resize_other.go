//go:build !unix

package top

import "os"

// notifyResize does nothing where there is no SIGWINCH: the size is read
// again at every redraw.
func notifyResize(c chan os.Signal) {}
