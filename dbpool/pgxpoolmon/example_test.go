package pgxpoolmon_test

import (
	"fmt"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/bizra/vitals/dbpool/pgxpoolmon"
)

// Classify tells what kind of connection error a pgx error is; the
// wrapper counts them in vitals_db_connection_errors_total{kind}.
func ExampleClassify() {
	terminated := &pgconn.PgError{Code: "57P01", Message: "terminating connection due to administrator command"}
	badPassword := &pgconn.PgError{Code: "28P01"}
	syntax := &pgconn.PgError{Code: "42601"}
	fmt.Println(pgxpoolmon.Classify(terminated), pgxpoolmon.Classify(badPassword), pgxpoolmon.Classify(syntax))
	// Output: broken auth none
}
