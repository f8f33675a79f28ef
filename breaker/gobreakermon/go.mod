module github.com/bizra/vitals/breaker/gobreakermon

go 1.26.0

require (
	github.com/bizra/vitals v0.1.0
	github.com/sony/gobreaker/v2 v2.4.0
	go.uber.org/goleak v1.3.0
)

replace github.com/bizra/vitals => ../..
