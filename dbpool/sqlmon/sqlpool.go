package sqlmon

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/bizra/vitals"
	"github.com/bizra/vitals/dbpool"
)

// Config is the pool configuration to apply and report. database/sql has
// no getters for these, so the adapter reports what it set.
type Config struct {
	MaxOpen     int           // SetMaxOpenConns; 0: unlimited
	MaxIdle     int           // SetMaxIdleConns
	MaxLifetime time.Duration // SetConnMaxLifetime; 0: unlimited
	MaxIdleTime time.Duration // SetConnMaxIdleTime; 0: unlimited
}

// Options configures New. nil means every default.
type Options struct {
	// Config, when set, is applied to the *sql.DB and exported as
	// configuration metrics. Default nil: only the maximum of open
	// connections (which DBStats reports) is exported.
	Config *Config
	// Pool tunes the monitor: score thresholds, window, operation cap,
	// Classify (default: dbpool.DefaultClassify, which knows
	// driver.ErrBadConn and socket errors; pass pgxpoolmon.Classify for
	// pgx's stdlib driver), Ping (default: sql.DB.PingContext; set it to
	// check more, such as that the database can be written). Driver,
	// Source and IgnoreError are set by New (sql.ErrNoRows is not a
	// failure). Default nil: dbpool's defaults.
	Pool *dbpool.Options
}

// DB wraps a *sql.DB: the methods that take an operation measure the wait
// for a connection apart from the query, which database/sql alone cannot.
// Use DB() for anything else; those calls are not measured, but the pool
// figures (DBStats) cover them.
type DB struct {
	db  *sql.DB
	mon *dbpool.Pool
}

// New monitors db under the pool name name: DBStats is sampled at scrape
// and tick time, and the returned wrapper measures acquires and queries.
// Monitor().Ping pings through db (sql.DB.PingContext, unless Options.Pool
// sets Ping). See package dbpool
// for the metrics.
func New(m *vitals.Monitor, name string, db *sql.DB, opts *Options) *DB {
	var o Options
	if opts != nil {
		o = *opts
	}
	var po dbpool.Options
	if o.Pool != nil {
		po = *o.Pool
	}
	cfg := dbpool.UnknownConfig
	if c := o.Config; c != nil {
		db.SetMaxOpenConns(c.MaxOpen)
		db.SetMaxIdleConns(c.MaxIdle)
		db.SetConnMaxLifetime(c.MaxLifetime)
		db.SetConnMaxIdleTime(c.MaxIdleTime)
		cfg = dbpool.Config{MaxOpen: int64(max(c.MaxOpen, 0)), MaxIdle: int64(max(c.MaxIdle, 0)), MinOpen: -1,
			MaxLifetime: max(c.MaxLifetime, 0), MaxIdleTime: max(c.MaxIdleTime, 0)}
		if c.MaxIdle > c.MaxOpen && c.MaxOpen > 0 {
			cfg.MaxIdle = int64(c.MaxOpen) // what database/sql does
		}
	}
	po.Driver = "database/sql"
	if po.Ping == nil {
		po.Ping = db.PingContext
	}
	po.Source = &source{db: db, cfg: cfg}
	userIgnore := po.IgnoreError
	po.IgnoreError = func(err error) bool {
		return errors.Is(err, sql.ErrNoRows) || (userIgnore != nil && userIgnore(err))
	}
	return &DB{db: db, mon: dbpool.New(m, name, &po)}
}

// source reports DBStats.
type source struct {
	db  *sql.DB
	cfg dbpool.Config
}

func (s *source) Sample() dbpool.Sample {
	st := s.db.Stats()
	smp := dbpool.UnknownSample
	smp.MaxOpen = int64(st.MaxOpenConnections)
	smp.Open, smp.InUse, smp.Idle = int64(st.OpenConnections), int64(st.InUse), int64(st.Idle)
	smp.Waits, smp.WaitTime = st.WaitCount, st.WaitDuration
	smp.ClosedMaxIdle, smp.ClosedMaxIdleTime, smp.ClosedMaxLifetime = st.MaxIdleClosed, st.MaxIdleTimeClosed, st.MaxLifetimeClosed
	return smp
}

func (s *source) Config() dbpool.Config {
	c := s.cfg
	c.MaxOpen = int64(s.db.Stats().MaxOpenConnections) // may have changed since New
	return c
}

// DB returns the wrapped *sql.DB.
func (d *DB) DB() *sql.DB { return d.db }

// Monitor returns the pool monitor: Stats, Score, Saturation, Waiters.
func (d *DB) Monitor() *dbpool.Pool { return d.mon }

// Op returns the handle of the operation called name; see dbpool.Pool.Op.
func (d *DB) Op(name string) *dbpool.Op { return d.mon.Op(name) }

// Conn acquires a connection, measuring the wait. Close it to return it
// to the pool.
func (d *DB) Conn(ctx context.Context) (*sql.Conn, error) {
	a := d.mon.BeginAcquire()
	c, err := d.db.Conn(ctx)
	a.End(err)
	return c, err
}

// Exec runs a statement as operation op on a connection of its own.
func (d *DB) Exec(ctx context.Context, op *dbpool.Op, query string, args ...any) (sql.Result, error) {
	c, err := d.Conn(ctx)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	q := op.Start()
	res, err := c.ExecContext(ctx, query, args...)
	q.End(err)
	return res, err
}

// Query runs a query as operation op. The query's time runs until the
// rows are exhausted or closed, and the connection returns to the pool
// then: always Close the rows, as with database/sql. Queries that return
// several result sets need Conn, since reaching the end of the first one
// closes the rows here.
func (d *DB) Query(ctx context.Context, op *dbpool.Op, query string, args ...any) (*Rows, error) {
	c, err := d.Conn(ctx)
	if err != nil {
		return nil, err
	}
	q := op.Start()
	rows, err := c.QueryContext(ctx, query, args...)
	if err != nil {
		q.End(err)
		c.Close()
		return nil, err
	}
	return &Rows{Rows: rows, conn: c, q: q}, nil
}

// Rows are the result of Query: *sql.Rows that also end the measurement
// and release the connection.
type Rows struct {
	*sql.Rows
	conn *sql.Conn
	q    dbpool.Query
	done bool
}

// Next prepares the next row; at the end it closes the rows, records the
// query and releases the connection.
func (r *Rows) Next() bool {
	if r.Rows.Next() {
		return true
	}
	r.finish()
	return false
}

// Close closes the rows, records the query and releases the connection.
// It is idempotent.
func (r *Rows) Close() error {
	return r.finish()
}

func (r *Rows) finish() error {
	if r.done {
		return nil
	}
	r.done = true
	cerr := r.Rows.Close()
	err := r.Rows.Err()
	if err == nil {
		err = cerr
	}
	r.q.End(err)
	r.conn.Close()
	return cerr
}

// QueryRow runs a query expected to return at most one row as operation
// op. Call Scan on the result: it records the query and releases the
// connection (sql.ErrNoRows is not a failure).
func (d *DB) QueryRow(ctx context.Context, op *dbpool.Op, query string, args ...any) *Row {
	c, err := d.Conn(ctx)
	if err != nil {
		return &Row{err: err}
	}
	q := op.Start()
	return &Row{row: c.QueryRowContext(ctx, query, args...), conn: c, q: q}
}

// Row is the result of QueryRow.
type Row struct {
	row  *sql.Row
	conn *sql.Conn
	q    dbpool.Query
	err  error // the acquire failed
}

// Scan copies the row's columns into dest, records the query and releases
// the connection.
func (r *Row) Scan(dest ...any) error {
	if r.err != nil {
		return r.err
	}
	err := r.row.Scan(dest...)
	r.q.End(err)
	r.conn.Close()
	return err
}

// Tx runs fn in a transaction as operation op: the transaction's time,
// commit included, is the operation's. fn's error, or a failed commit,
// rolls back and is returned.
func (d *DB) Tx(ctx context.Context, op *dbpool.Op, opts *sql.TxOptions, fn func(*sql.Tx) error) (err error) {
	c, err := d.Conn(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	q := op.Start()
	defer func() { q.End(err) }()
	tx, err := c.BeginTx(ctx, opts)
	if err != nil {
		return err
	}
	if err = fn(tx); err != nil {
		if rerr := tx.Rollback(); rerr != nil && !errors.Is(rerr, sql.ErrTxDone) {
			return errors.Join(err, rerr)
		}
		return err
	}
	return tx.Commit()
}
