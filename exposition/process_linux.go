package exposition

import (
	"bytes"
	"os"
	"strconv"
	"sync"
	"syscall"
	"unsafe"
)

// On Linux the process metrics come from /proc/self, read as
// client_golang's process collector (through procfs) reads them:
// /proc/self/stat for CPU time, memory and start time, the size of
// /proc/self/fd for open descriptors (Linux 6.2 and later; older kernels
// get the directory counted), getrlimit for the limits, and
// /proc/self/net/netstat for network bytes. The files are opened with raw
// system calls on paths converted once, so a scrape allocates nothing here.

func processFamilies() []rtFamily {
	stat := func(p *procValues) bool { return p.statOK }
	return []rtFamily{
		procFamily(procCPU, stat, func(p *procValues) float64 { return p.cpu }),
		procFamily(procVsize, stat, func(p *procValues) float64 { return p.vsize }),
		procFamily(procRSS, stat, func(p *procValues) float64 { return p.rss }),
		procFamily(procStart, func(p *procValues) bool { return p.startOK }, func(p *procValues) float64 { return p.start }),
		procFamily(procOpenFDs, func(p *procValues) bool { return p.fdsOK }, func(p *procValues) float64 { return p.openFDs }),
		procFamily(procMaxFDs, func(p *procValues) bool { return p.limitsOK }, func(p *procValues) float64 { return p.maxFDs }),
		procFamily(procMaxVsize, func(p *procValues) bool { return p.limitsOK }, func(p *procValues) float64 { return p.maxVsize }),
		procFamily(procRx, func(p *procValues) bool { return p.netOK }, func(p *procValues) float64 { return p.rx }),
		procFamily(procTx, func(p *procValues) bool { return p.netOK }, func(p *procValues) float64 { return p.tx }),
	}
}

// userHZ is the unit of the times in /proc/self/stat. It is 100 on every
// Linux architecture Go supports (procfs assumes the same).
const userHZ = 100

var (
	pathStat    = []byte("/proc/self/stat\x00")
	pathFD      = []byte("/proc/self/fd\x00")
	pathNetstat = []byte("/proc/self/net/netstat\x00")

	bootOnce sync.Once
	bootTime float64 // btime of /proc/stat; -1 if unreadable
)

// readProcess fills p from /proc/self. It never fails as a whole.
func readProcess(p *procValues) {
	if p.buf == nil {
		p.buf = make([]byte, 16<<10)
	}
	p.statOK, p.fdsOK, p.limitsOK, p.netOK, p.startOK = false, false, false, false, false

	if b, ok := readProcFile(pathStat, p.buf); ok {
		parseStat(p, b)
	}
	p.openFDs, p.fdsOK = countFDs(p.buf)

	var nofile, as syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &nofile) == nil && syscall.Getrlimit(syscall.RLIMIT_AS, &as) == nil {
		p.maxFDs, p.maxVsize, p.limitsOK = float64(nofile.Cur), float64(as.Cur), true
	}

	if b, ok := readProcFile(pathNetstat, p.buf); ok {
		p.rx, p.tx, p.netOK = parseNetstat(b)
	}
}

// openat opens a NUL-terminated path read-only without converting it
// (syscall.Open allocates a copy of its string argument).
func openat(path []byte, flags int) (int, bool) {
	cwd := -100 // AT_FDCWD
	fd, _, errno := syscall.Syscall6(syscall.SYS_OPENAT, uintptr(cwd), uintptr(unsafe.Pointer(&path[0])),
		uintptr(flags|syscall.O_RDONLY|syscall.O_CLOEXEC), 0, 0, 0)
	if errno != 0 {
		return -1, false
	}
	return int(fd), true
}

// readProcFile reads a whole /proc file into buf and returns the bytes
// read; false if it cannot be read or does not fit.
func readProcFile(path, buf []byte) ([]byte, bool) {
	fd, ok := openat(path, 0)
	if !ok {
		return nil, false
	}
	defer syscall.Close(fd)
	n := 0
	for n < len(buf) {
		m, err := syscall.Read(fd, buf[n:])
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return nil, false
		}
		if m == 0 {
			return buf[:n], true
		}
		n += m
	}
	return nil, false // larger than the buffer: not a file we know
}

// parseStat reads utime, stime, starttime, vsize and rss from
// /proc/self/stat. The command name (field 2) may hold spaces and
// parentheses, so fields are counted from the last ')'.
func parseStat(p *procValues, b []byte) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return
	}
	rest := b[i+1:]
	// Fields after the name: state is 0, utime 11, stime 12, starttime 19,
	// vsize 20, rss 21.
	var utime, stime, starttime, vsize, rss uint64
	field := 0
	for len(rest) > 0 && field <= 21 {
		rest = bytes.TrimLeft(rest, " ")
		end := bytes.IndexByte(rest, ' ')
		if end < 0 {
			end = len(rest)
		}
		tok := bytes.TrimRight(rest[:end], "\n")
		switch field {
		case 11:
			utime = parseUintBytes(tok)
		case 12:
			stime = parseUintBytes(tok)
		case 19:
			starttime = parseUintBytes(tok)
		case 20:
			vsize = parseUintBytes(tok)
		case 21:
			rss = parseUintBytes(tok)
		}
		rest = rest[end:]
		field++
	}
	if field <= 21 {
		return
	}
	p.cpu = float64(utime+stime) / userHZ
	p.vsize = float64(vsize)
	p.rss = float64(rss * uint64(os.Getpagesize()))
	p.statOK = true
	bootOnce.Do(readBootTime)
	if bootTime >= 0 {
		p.start = bootTime + float64(starttime)/userHZ
		p.startOK = true
	}
}

func parseUintBytes(b []byte) uint64 {
	var v uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return v
		}
		v = v*10 + uint64(c-'0')
	}
	return v
}

// readBootTime reads btime from /proc/stat, once per process.
func readBootTime() {
	bootTime = -1
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return
	}
	for line := range bytes.Lines(b) {
		if v, ok := bytes.CutPrefix(line, []byte("btime ")); ok {
			if t, err := strconv.ParseUint(string(bytes.TrimSpace(v)), 10, 64); err == nil {
				bootTime = float64(t)
			}
			return
		}
	}
}

// countFDs counts the open descriptors: the size of /proc/self/fd where the
// kernel reports it (6.2 and later), else its entries.
func countFDs(buf []byte) (float64, bool) {
	fd, ok := openat(pathFD, syscall.O_DIRECTORY)
	if !ok {
		return 0, false
	}
	defer syscall.Close(fd)
	var st syscall.Stat_t
	if syscall.Fstat(fd, &st) == nil && st.Size > 0 {
		return float64(st.Size - 1), true // less the descriptor open on the directory
	}
	n := 0
	for {
		m, err := syscall.ReadDirent(fd, buf)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return 0, false
		}
		if m == 0 {
			break
		}
		for b := buf[:m]; len(b) > 0; {
			// struct linux_dirent64: ino 8, off 8, reclen 2, type 1, name.
			if len(b) < 19 {
				break
			}
			reclen := int(b[16]) | int(b[17])<<8
			if reclen <= 0 || reclen > len(b) {
				break
			}
			name := b[19:reclen]
			if end := bytes.IndexByte(name, 0); end >= 0 {
				name = name[:end]
			}
			if !bytes.Equal(name, []byte(".")) && !bytes.Equal(name, []byte("..")) {
				n++
			}
			b = b[reclen:]
		}
	}
	// The directory itself was open while counting.
	return float64(n - 1), true
}

// parseNetstat returns IpExt InOctets and OutOctets from
// /proc/self/net/netstat: a header line of names and a line of values.
func parseNetstat(b []byte) (rx, tx float64, ok bool) {
	var header []byte
	for line := range bytes.Lines(b) {
		v, found := bytes.CutPrefix(line, []byte("IpExt:"))
		if !found {
			continue
		}
		if header == nil {
			header = v
			continue
		}
		inIdx, outIdx := fieldIndex(header, "InOctets"), fieldIndex(header, "OutOctets")
		if inIdx < 0 || outIdx < 0 {
			return 0, 0, false
		}
		in, ok1 := nthField(v, inIdx)
		out, ok2 := nthField(v, outIdx)
		if !ok1 || !ok2 {
			return 0, 0, false
		}
		return float64(parseUintBytes(in)), float64(parseUintBytes(out)), true
	}
	return 0, 0, false
}

func fieldIndex(line []byte, name string) int {
	for i := 0; ; i++ {
		f, ok := nthField(line, i)
		if !ok {
			return -1
		}
		if string(f) == name {
			return i
		}
	}
}

// nthField returns the i-th space-separated field of line.
func nthField(line []byte, i int) ([]byte, bool) {
	for {
		line = bytes.TrimLeft(line, " \n")
		if len(line) == 0 {
			return nil, false
		}
		end := bytes.IndexAny(line, " \n")
		if end < 0 {
			end = len(line)
		}
		if i == 0 {
			return line[:end], true
		}
		line = line[end:]
		i--
	}
}
