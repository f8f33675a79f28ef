package history

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// lockHolder names the process holding path's lock, read from
// /proc/locks (bbolt locks with flock), with its program's name (not its
// arguments: they may hold a password).
func lockHolder(path string) string {
	const unknown = "another process (its id is not in /proc/locks: it may run in another PID namespace or on another host)"
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		return unknown
	}
	maj := (st.Dev>>8)&0xfff | (st.Dev>>32)&^0xfff
	min := st.Dev&0xff | (st.Dev>>12)&^0xff
	want := fmt.Sprintf("%02x:%02x:%d", maj, min, st.Ino)
	f, err := os.Open("/proc/locks")
	if err != nil {
		return unknown
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// 1: FLOCK  ADVISORY  WRITE 1234 08:01:5678 0 EOF
		fs := strings.Fields(sc.Text())
		if len(fs) < 6 || fs[1] == "->" || fs[1] != "FLOCK" || fs[5] != want {
			continue
		}
		pid, err := strconv.Atoi(fs[4])
		if err != nil || pid <= 0 {
			continue
		}
		if pid == os.Getpid() {
			return "this process (pid " + fs[4] + ", another Store on the same directory)"
		}
		cmd, _ := os.ReadFile("/proc/" + fs[4] + "/cmdline")
		cmd = bytes.TrimRight(cmd, "\x00")
		if len(cmd) == 0 {
			return "process " + fs[4]
		}
		prog, _, _ := bytes.Cut(cmd, []byte{0})
		return "process " + fs[4] + " (" + truncate(filepath.Base(string(prog)), 80) + ")"
	}
	return unknown
}
