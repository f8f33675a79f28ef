//go:build !unix

package exposition

// Without Unix system calls (Windows, WebAssembly, Plan 9) vitals exports
// no process metrics; client_golang reads them on Windows: use
// HandlerOpts.ClientGolangRuntime there.

func processFamilies() []rtFamily { return nil }

func readProcess(*procValues) {}
