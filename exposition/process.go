package exposition

// procValues is one scrape's reading of the process metrics. Each group
// has its own ok flag: a group that could not be read is left out of the
// scrape, as client_golang's process collector leaves it out.
type procValues struct {
	buf []byte // scratch for reading /proc files

	statOK          bool
	cpu, vsize, rss float64

	fdsOK   bool
	openFDs float64

	limitsOK         bool
	maxFDs, maxVsize float64

	netOK  bool
	rx, tx float64

	startOK bool
	start   float64
}

// The process families with client_golang's names and HELP. Which of them
// a platform fills is up to its readProcess; processFamilies lists only
// those it can.
var (
	procCPU      = constFamily{name: "process_cpu_seconds_total", help: "Total user and system CPU time spent in seconds.", kind: constCounter}
	procOpenFDs  = constFamily{name: "process_open_fds", help: "Number of open file descriptors.", kind: constGauge}
	procMaxFDs   = constFamily{name: "process_max_fds", help: "Maximum number of open file descriptors.", kind: constGauge}
	procVsize    = constFamily{name: "process_virtual_memory_bytes", help: "Virtual memory size in bytes.", kind: constGauge}
	procMaxVsize = constFamily{name: "process_virtual_memory_max_bytes", help: "Maximum amount of virtual memory available in bytes.", kind: constGauge}
	procRSS      = constFamily{name: "process_resident_memory_bytes", help: "Resident memory size in bytes.", kind: constGauge}
	procStart    = constFamily{name: "process_start_time_seconds", help: "Start time of the process since unix epoch in seconds.", kind: constGauge}
	procRx       = constFamily{name: "process_network_receive_bytes_total", help: "Number of bytes received by the process over the network.", kind: constCounter}
	procTx       = constFamily{name: "process_network_transmit_bytes_total", help: "Number of bytes sent by the process over the network.", kind: constCounter}
)

// procFamily returns the family proto whose value get reads, left out of
// the scrape when ok says the reading failed.
func procFamily(proto constFamily, ok func(*procValues) bool, get func(*procValues) float64) rtFamily {
	return rtFamily{proto: proto, fill: func(s *rtScratch, c *constFamily) {
		if !ok(&s.proc) {
			c.skip = true
			return
		}
		c.value = get(&s.proc)
	}}
}
