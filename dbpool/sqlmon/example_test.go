package sqlmon_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"

	_ "modernc.org/sqlite"

	"github.com/bizra/vitals"
	"github.com/bizra/vitals/dbpool/sqlmon"
)

func Example() {
	dir, _ := os.MkdirTemp("", "sqlmon-example")
	defer os.RemoveAll(dir)
	raw, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "shop.db"))
	if err != nil {
		panic(err)
	}
	defer raw.Close()
	m := vitals.New(nil)
	db := sqlmon.New(m, "shop", raw, &sqlmon.Options{Config: &sqlmon.Config{MaxOpen: 2, MaxIdle: 2}})
	ctx := context.Background()
	ddl, get := db.Op("schema"), db.Op("item.get")

	db.Exec(ctx, ddl, "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT)")
	db.Exec(ctx, ddl, "INSERT INTO items (name) VALUES ('apple')")
	var name string
	db.QueryRow(ctx, get, "SELECT name FROM items WHERE id = ?", 1).Scan(&name)
	db.QueryRow(ctx, get, "SELECT name FROM items WHERE id = ?", 2).Scan(&name) // no rows: not a failure
	m.Collect()

	st := db.Monitor().Stats()
	fmt.Println(name, st.Driver, st.Config.MaxOpen, st.AcquiresOK)
	for _, op := range st.Operations {
		fmt.Println(op.Name, op.Latency.Count, op.Errors)
	}
	// Output:
	// apple database/sql 2 4
	// schema 2 0
	// item.get 2 0
}
