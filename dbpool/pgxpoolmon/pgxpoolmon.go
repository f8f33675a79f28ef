package pgxpoolmon

import (
	"context"
	"errors"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/bizra/vitals"
	"github.com/bizra/vitals/dbpool"
)

// Pool wraps a *pgxpool.Pool: the methods that take an operation measure
// the wait for a connection apart from the query. Use Pool() for anything
// else; those calls are not measured, but pgxpool.Stat covers them.
type Pool struct {
	pool *pgxpool.Pool
	mon  *dbpool.Pool
}

// New monitors pool under the pool name name: pgxpool.Stat and the pool's
// configuration are sampled at scrape and tick time, and the returned
// wrapper measures acquires and queries. opts tunes the monitor (score
// thresholds, window, operation cap); Driver and Source are set here,
// Classify defaults to Classify and IgnoreError treats pgx.ErrNoRows as no
// failure. Monitor().Ping pings through pool (pgxpool.Pool.Ping). See
// package dbpool for the metrics.
func New(m *vitals.Monitor, name string, pool *pgxpool.Pool, opts *dbpool.Options) *Pool {
	var o dbpool.Options
	if opts != nil {
		o = *opts
	}
	o.Driver = "pgxpool"
	c := pool.Config() // immutable once the pool is built: read once
	o.Source = &source{pool: pool, cfg: dbpool.Config{MaxOpen: int64(c.MaxConns), MaxIdle: -1, MinOpen: int64(c.MinConns),
		MaxLifetime: c.MaxConnLifetime, MaxIdleTime: c.MaxConnIdleTime}}
	if o.Classify == nil {
		o.Classify = Classify
	}
	o.Ping = pool.Ping
	userIgnore := o.IgnoreError
	o.IgnoreError = func(err error) bool {
		return errors.Is(err, pgx.ErrNoRows) || (userIgnore != nil && userIgnore(err))
	}
	return &Pool{pool: pool, mon: dbpool.New(m, name, &o)}
}

type source struct {
	pool *pgxpool.Pool
	cfg  dbpool.Config
}

func (s *source) Sample() dbpool.Sample {
	st := s.pool.Stat()
	smp := dbpool.UnknownSample
	smp.MaxOpen = int64(st.MaxConns())
	smp.Open = int64(st.TotalConns())
	smp.InUse = int64(st.AcquiredConns())
	smp.Idle = int64(st.IdleConns())
	smp.Constructing = int64(st.ConstructingConns())
	smp.Waits = st.EmptyAcquireCount()
	smp.WaitTime = st.EmptyAcquireWaitTime()
	smp.Opened = st.NewConnsCount()
	smp.ClosedMaxIdleTime = st.MaxIdleDestroyCount()
	smp.ClosedMaxLifetime = st.MaxLifetimeDestroyCount()
	return smp
}

func (s *source) Config() dbpool.Config { return s.cfg }

// Classify tells PostgreSQL connection errors apart: a connection that
// could not be opened is Dial, or Auth when the server refused the role,
// password or database (SQLSTATE classes 28 and 3D); a server that ended
// the session (57P01 admin shutdown, as pg_terminate_backend does, 57P02,
// 57P03, class 08) or a connection pgx already closed is Broken. Anything
// else falls back to dbpool.DefaultClassify.
func Classify(err error) dbpool.ErrorKind {
	if err == nil {
		return dbpool.NotConnection
	}
	var pgErr *pgconn.PgError
	isPg := errors.As(err, &pgErr)
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		if isPg && (strings.HasPrefix(pgErr.Code, "28") || pgErr.Code == "3D000") {
			return dbpool.Auth
		}
		return dbpool.Dial
	}
	if isPg {
		switch {
		case strings.HasPrefix(pgErr.Code, "28"):
			return dbpool.Auth
		case strings.HasPrefix(pgErr.Code, "57P"), strings.HasPrefix(pgErr.Code, "08"):
			return dbpool.Broken
		}
		return dbpool.NotConnection // the server answered: the query failed, not the connection
	}
	if errors.Is(err, pgconn.ErrConnClosed) {
		return dbpool.Broken
	}
	return dbpool.DefaultClassify(err)
}

// Pool returns the wrapped *pgxpool.Pool.
func (p *Pool) Pool() *pgxpool.Pool { return p.pool }

// Monitor returns the pool monitor: Stats, Score, Saturation, Waiters.
func (p *Pool) Monitor() *dbpool.Pool { return p.mon }

// Op returns the handle of the operation called name; see dbpool.Pool.Op.
func (p *Pool) Op(name string) *dbpool.Op { return p.mon.Op(name) }

// Acquire acquires a connection, measuring the wait. Release it when done.
func (p *Pool) Acquire(ctx context.Context) (*pgxpool.Conn, error) {
	a := p.mon.BeginAcquire()
	c, err := p.pool.Acquire(ctx)
	a.End(err)
	return c, err
}

// Exec runs a statement as operation op on a connection of its own.
func (p *Pool) Exec(ctx context.Context, op *dbpool.Op, sql string, args ...any) (pgconn.CommandTag, error) {
	c, err := p.Acquire(ctx)
	if err != nil {
		return pgconn.CommandTag{}, err
	}
	defer c.Release()
	q := op.Start()
	tag, err := c.Exec(ctx, sql, args...)
	q.End(err)
	return tag, err
}

// Query runs a query as operation op. The query's time runs until the
// rows are exhausted or closed; the connection returns to the pool then.
// Always Close the rows, as with pgx.
func (p *Pool) Query(ctx context.Context, op *dbpool.Op, sql string, args ...any) (pgx.Rows, error) {
	c, err := p.Acquire(ctx)
	if err != nil {
		return nil, err
	}
	q := op.Start()
	rows, err := c.Query(ctx, sql, args...)
	if err != nil {
		q.End(err)
		c.Release()
		return nil, err
	}
	return &measuredRows{Rows: rows, conn: c, q: q}, nil
}

type measuredRows struct {
	pgx.Rows
	conn *pgxpool.Conn
	q    dbpool.Query
	done bool
}

func (r *measuredRows) Next() bool {
	if r.Rows.Next() {
		return true
	}
	r.Close()
	return false
}

func (r *measuredRows) Close() {
	if r.done {
		return
	}
	r.done = true
	r.Rows.Close()
	r.q.End(r.Rows.Err())
	r.conn.Release()
}

// QueryRow runs a query expected to return at most one row as operation
// op. Scan on the result records the query and releases the connection
// (pgx.ErrNoRows is not a failure).
func (p *Pool) QueryRow(ctx context.Context, op *dbpool.Op, sql string, args ...any) pgx.Row {
	c, err := p.Acquire(ctx)
	if err != nil {
		return errRow{err}
	}
	q := op.Start()
	return &measuredRow{row: c.QueryRow(ctx, sql, args...), conn: c, q: q}
}

type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }

type measuredRow struct {
	row  pgx.Row
	conn *pgxpool.Conn
	q    dbpool.Query
}

func (r *measuredRow) Scan(dest ...any) error {
	err := r.row.Scan(dest...)
	r.q.End(err)
	r.conn.Release()
	return err
}
