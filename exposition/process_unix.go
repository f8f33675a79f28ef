//go:build unix && !linux

package exposition

import "syscall"

// Outside Linux there is no /proc to read without cgo; the portable subset
// is what getrusage and getrlimit tell: CPU time and the descriptor limit.
// client_golang reads more on darwin (through cgo or sysctl) and Windows;
// use HandlerOpts.ClientGolangRuntime for those.

func processFamilies() []rtFamily {
	return []rtFamily{
		procFamily(procCPU, func(p *procValues) bool { return p.statOK }, func(p *procValues) float64 { return p.cpu }),
		procFamily(procMaxFDs, func(p *procValues) bool { return p.limitsOK }, func(p *procValues) float64 { return p.maxFDs }),
	}
}

func readProcess(p *procValues) {
	var ru syscall.Rusage
	p.statOK = syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil
	if p.statOK {
		p.cpu = float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
	}
	var nofile syscall.Rlimit
	p.limitsOK = syscall.Getrlimit(syscall.RLIMIT_NOFILE, &nofile) == nil
	if p.limitsOK {
		p.maxFDs = float64(nofile.Cur)
	}
}
