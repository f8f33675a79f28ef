module github.com/bizra/vitals/history

go 1.26.0

require (
	github.com/bizra/vitals v0.1.0
	go.etcd.io/bbolt v1.5.0
	go.uber.org/goleak v1.3.0
)

require golang.org/x/sys v0.49.0 // indirect

replace github.com/bizra/vitals => ..
