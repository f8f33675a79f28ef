package demoload

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	_ "modernc.org/sqlite" // the embedded default database

	"github.com/bizra/vitals"
	"github.com/bizra/vitals/dbpool"
	"github.com/bizra/vitals/dbpool/pgxpoolmon"
	"github.com/bizra/vitals/dbpool/sqlmon"
)

// DBOptions configures NewDBLoad. nil means every default.
type DBOptions struct {
	// PostgresURL selects PostgreSQL through pgx. Default "": SQLite
	// through modernc.org/sqlite in SQLitePath.
	PostgresURL string
	// SQLitePath is the SQLite file. Default "": a temporary file that Run
	// removes when it returns.
	SQLitePath string
	// Schema is the PostgreSQL schema the demo's tables live in. Default
	// "vitals_demo". Letters, digits and underscores only.
	Schema string
	// DropSchema drops the schema when Run returns (tests). Default false.
	DropSchema bool
	// Pool is the pool's monitor name. Default "shop".
	Pool string
	// MaxConns is the pool's size: small, so that a saturation episode
	// queues. Default 4.
	MaxConns int
	// Workers run the read/write mix. Default 4.
	Workers int
	// Interval is each worker's pause between operations. Default 25 ms.
	Interval time.Duration
	// SlowQuery is how long each query of a saturation episode holds its
	// connection. Default 300 ms.
	SlowQuery time.Duration
	// MonitorOptions tunes the pool monitor (score thresholds). Default nil.
	MonitorOptions *dbpool.Options
	// Logger receives the database's state changes: a read-only SQLite
	// file, a setup that failed and is retried, the database reachable
	// again. Default nil: slog.Default().
	Logger *slog.Logger

	// openFile opens the SQLite file (tests simulate a read-only file
	// system with it). Default nil: os.OpenFile.
	openFile func(name string, flag int, perm os.FileMode) (*os.File, error)
}

var schemaName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,62}$`)

func (o *DBOptions) withDefaults() (DBOptions, error) {
	var d DBOptions
	if o != nil {
		d = *o
	}
	if d.Schema == "" {
		d.Schema = "vitals_demo"
	}
	if !schemaName.MatchString(d.Schema) {
		return d, fmt.Errorf("demoload: schema %q: use letters, digits and underscores", d.Schema)
	}
	if d.Pool == "" {
		d.Pool = "shop"
	}
	if d.MaxConns <= 0 {
		d.MaxConns = 4
	}
	if d.Workers <= 0 {
		d.Workers = 4
	}
	if d.Interval <= 0 {
		d.Interval = 25 * time.Millisecond
	}
	if d.SlowQuery <= 0 {
		d.SlowQuery = 300 * time.Millisecond
	}
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	if d.openFile == nil {
		d.openFile = os.OpenFile
	}
	return d, nil
}

// DBLoad is the database workload: a small shop schema (items, orders)
// with a read/write mix, against SQLite by default or PostgreSQL, on a
// small pool whose monitor the health checks read.
type DBLoad struct {
	opts    DBOptions
	mon     *dbpool.Pool
	sqlDB   *sqlmon.DB       // SQLite
	pg      *pgxpoolmon.Pool // PostgreSQL
	tmpDir  string
	q       queries
	ops     [numDBOps]*dbpool.Op
	kickMu  sync.Mutex
	kick    chan struct{} // closed to start a saturation episode
	satEnd  time.Time
	closeMu sync.Mutex
	closed  bool
}

const (
	opGet = iota
	opUpdate
	opInsert
	opRecent
	opSlow
	numDBOps
)

var dbOpNames = [numDBOps]string{"item.get", "item.update", "order.insert", "order.recent", "report.slow"}

type queries struct{ get, update, insert, recent string }

const numItems = 500

// NewDBLoad opens the database pool (lazily: nothing connects before Run)
// and registers its monitor in m.
func NewDBLoad(m *vitals.Monitor, opts *DBOptions) (*DBLoad, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	l := &DBLoad{opts: o, kick: make(chan struct{})}
	if o.PostgresURL != "" {
		cfg, err := pgxpool.ParseConfig(o.PostgresURL)
		if err != nil {
			return nil, errors.New("demoload: the PostgreSQL URL does not parse") // the URL may hold a password: not echoed
		}
		cfg.MaxConns = int32(o.MaxConns)
		cfg.ConnConfig.RuntimeParams["application_name"] = "vitals-demo"
		cfg.ConnConfig.RuntimeParams["search_path"] = o.Schema
		raw, err := pgxpool.NewWithConfig(context.Background(), cfg)
		if err != nil {
			return nil, fmt.Errorf("demoload: PostgreSQL pool: %w", err)
		}
		l.pg = pgxpoolmon.New(m, o.Pool, raw, o.MonitorOptions)
		l.mon = l.pg.Monitor()
		l.q = queries{
			get:    `SELECT name, stock FROM items WHERE id = $1`,
			update: `UPDATE items SET stock = stock + $1 WHERE id = $2`,
			insert: `INSERT INTO orders (item_id, qty, created_at) VALUES ($1, $2, $3)`,
			recent: `SELECT count(*) FROM orders WHERE item_id = $1`,
		}
	} else {
		path := o.SQLitePath
		if path == "" {
			dir, err := os.MkdirTemp("", "vitals-demo-sqlite-")
			if err != nil {
				return nil, fmt.Errorf("demoload: %w", err)
			}
			l.tmpDir = dir
			path = filepath.Join(dir, "shop.db")
		}
		dsn, roErr, err := sqliteDSN(path, o.openFile)
		if err != nil {
			return nil, err
		}
		if roErr != nil {
			o.Logger.Error("demo database: the SQLite file cannot be written; opened read-only, so writes fail and readiness reports the database down until it is writable and the demo restarts",
				"path", path, "err", roErr)
		}
		raw, err := sql.Open("sqlite", dsn)
		if err != nil {
			return nil, fmt.Errorf("demoload: SQLite: %w", err)
		}
		var po dbpool.Options
		if o.MonitorOptions != nil {
			po = *o.MonitorOptions
		}
		// The readiness ping asks for what the shop needs of SQLite: a
		// connection that can write. A plain ping passes on a read-only
		// file, and every order would then fail behind an "ok".
		po.Ping = func(ctx context.Context) error { return sqliteWritable(ctx, raw) }
		l.sqlDB = sqlmon.New(m, o.Pool, raw, &sqlmon.Options{
			Config: &sqlmon.Config{MaxOpen: o.MaxConns, MaxIdle: o.MaxConns, MaxLifetime: 30 * time.Minute, MaxIdleTime: 5 * time.Minute},
			Pool:   &po})
		l.mon = l.sqlDB.Monitor()
		l.q = queries{
			get:    `SELECT name, stock FROM items WHERE id = ?`,
			update: `UPDATE items SET stock = stock + ? WHERE id = ?`,
			insert: `INSERT INTO orders (item_id, qty, created_at) VALUES (?, ?, ?)`,
			recent: `SELECT count(*) FROM orders WHERE item_id = ?`,
		}
	}
	for i, n := range dbOpNames {
		l.ops[i] = l.mon.Op(n)
	}
	return l, nil
}

// Monitor returns the pool's monitor: Stats, Score, Saturation, Waiters.
func (l *DBLoad) Monitor() *dbpool.Pool { return l.mon }

// Driver says which database the load runs on: "sqlite" or "postgres".
func (l *DBLoad) Driver() string {
	if l.pg != nil {
		return "postgres"
	}
	return "sqlite"
}

// Saturate starts a saturation episode of length d: twice as many
// callers as the pool has connections run slow queries back to back
// (pg_sleep on PostgreSQL; on SQLite a query whose connection is then held
// for SlowQuery), so that the regular workers queue for connections. It
// returns at once; calling it during an episode extends it. It does
// nothing unless Run is running.
func (l *DBLoad) Saturate(d time.Duration) {
	l.kickMu.Lock()
	defer l.kickMu.Unlock()
	if end := time.Now().Add(d); end.After(l.satEnd) {
		l.satEnd = end
	}
	close(l.kick)
	l.kick = make(chan struct{})
}

func (l *DBLoad) episode() (<-chan struct{}, time.Time) {
	l.kickMu.Lock()
	defer l.kickMu.Unlock()
	return l.kick, l.satEnd
}

// Run creates the schema if needed, then runs the workload until ctx is
// done, and closes the database. While the database cannot be reached
// or written (a closed port, a read-only SQLite file), Run retries the
// setup with a growing pause (up to 15 s), logging the first failure and
// the recovery; the pool monitor's readiness ping meanwhile counts the
// failures. It returns nil when ctx ends it.
func (l *DBLoad) Run(ctx context.Context) error {
	defer l.Close()
	if !l.setupRetrying(ctx) {
		return nil
	}
	var wg sync.WaitGroup
	for i := range l.opts.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l.worker(ctx, rand.New(rand.NewPCG(uint64(i), uint64(time.Now().UnixNano()))))
		}()
	}
	for range 2 * l.opts.MaxConns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l.flooder(ctx)
		}()
	}
	wg.Wait()
	if l.opts.DropSchema && l.pg != nil {
		dctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if _, err := l.pg.Pool().Exec(dctx, `DROP SCHEMA IF EXISTS `+l.opts.Schema+` CASCADE`); err != nil {
			return fmt.Errorf("demoload: drop schema: %w", err)
		}
	}
	return nil
}

// Close closes the database (Run does when it returns). It is idempotent.
func (l *DBLoad) Close() {
	l.closeMu.Lock()
	defer l.closeMu.Unlock()
	if l.closed {
		return
	}
	l.closed = true
	if l.pg != nil {
		l.pg.Pool().Close()
	}
	if l.sqlDB != nil {
		l.sqlDB.DB().Close()
	}
	if l.tmpDir != "" {
		os.RemoveAll(l.tmpDir)
	}
}

// setupRetrying runs setup until it succeeds (true) or ctx ends (false).
func (l *DBLoad) setupRetrying(ctx context.Context) bool {
	pause := time.Second
	for failures := 0; ; failures++ {
		err := l.setup(ctx)
		if ctx.Err() != nil {
			return false
		}
		if err == nil {
			if failures > 0 {
				l.opts.Logger.Info("demo database: reachable; the workload starts", "database", l.Driver(), "failed_attempts", failures)
			}
			return true
		}
		if failures == 0 {
			l.opts.Logger.Error("demo database: cannot set up the shop's tables; retrying, and readiness fails until it works",
				"database", l.Driver(), "err", err, "retry_every", "1s to 15s")
		} else {
			l.opts.Logger.Debug("demo database: setup failed again", "database", l.Driver(), "err", err)
		}
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return false
		case <-t.C:
		}
		pause = min(2*pause, 15*time.Second)
	}
}

func (l *DBLoad) setup(ctx context.Context) error {
	sctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if l.pg != nil {
		p := l.pg.Pool()
		stmts := []string{
			`CREATE SCHEMA IF NOT EXISTS ` + l.opts.Schema,
			`CREATE TABLE IF NOT EXISTS ` + l.opts.Schema + `.items (id integer PRIMARY KEY, name text NOT NULL, stock integer NOT NULL)`,
			`CREATE TABLE IF NOT EXISTS ` + l.opts.Schema + `.orders (id bigserial PRIMARY KEY, item_id integer NOT NULL, qty integer NOT NULL, created_at bigint NOT NULL)`,
			`CREATE INDEX IF NOT EXISTS orders_item ON ` + l.opts.Schema + `.orders (item_id)`,
			`INSERT INTO ` + l.opts.Schema + `.items (id, name, stock) SELECT g, 'item ' || g, 100 FROM generate_series(1, ` + fmt.Sprint(numItems) + `) g ON CONFLICT DO NOTHING`,
		}
		for _, s := range stmts {
			if _, err := p.Exec(sctx, s); err != nil {
				return fmt.Errorf("demoload: PostgreSQL setup: %w", err)
			}
		}
		return nil
	}
	db := l.sqlDB.DB()
	stmts := []string{
		`CREATE TABLE IF NOT EXISTS items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, stock INTEGER NOT NULL)`,
		`CREATE TABLE IF NOT EXISTS orders (id INTEGER PRIMARY KEY, item_id INTEGER NOT NULL, qty INTEGER NOT NULL, created_at INTEGER NOT NULL)`,
		`CREATE INDEX IF NOT EXISTS orders_item ON orders (item_id)`,
		`WITH RECURSIVE g(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM g WHERE x < ` + fmt.Sprint(numItems) + `)
		 INSERT OR IGNORE INTO items (id, name, stock) SELECT x, 'item ' || x, 100 FROM g`,
	}
	for _, s := range stmts {
		if _, err := db.ExecContext(sctx, s); err != nil {
			return fmt.Errorf("demoload: SQLite setup: %w", err)
		}
	}
	return nil
}

// worker runs the mix: 70% item reads, 15% stock updates, 10% order
// inserts, 5% order counts.
func (l *DBLoad) worker(ctx context.Context, r *rand.Rand) {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		id := 1 + r.IntN(numItems)
		var err error
		switch x := r.IntN(100); {
		case x < 70:
			var name string
			var stock int
			err = l.queryRow(ctx, opGet, l.q.get, []any{id}, &name, &stock)
		case x < 85:
			err = l.exec(ctx, opUpdate, l.q.update, r.IntN(5)-2, id)
		case x < 95:
			err = l.exec(ctx, opInsert, l.q.insert, id, 1+r.IntN(3), time.Now().Unix())
		default:
			var n int
			err = l.queryRow(ctx, opRecent, l.q.recent, []any{id}, &n)
		}
		_ = err // counted by the monitor; a demo worker carries on
		t.Reset(l.opts.Interval/2 + time.Duration(r.Int64N(int64(l.opts.Interval))))
	}
}

func (l *DBLoad) exec(ctx context.Context, op int, q string, args ...any) error {
	if l.pg != nil {
		_, err := l.pg.Exec(ctx, l.ops[op], q, args...)
		return err
	}
	_, err := l.sqlDB.Exec(ctx, l.ops[op], q, args...)
	return err
}

func (l *DBLoad) queryRow(ctx context.Context, op int, q string, args []any, dest ...any) error {
	if l.pg != nil {
		return l.pg.QueryRow(ctx, l.ops[op], q, args...).Scan(dest...)
	}
	return l.sqlDB.QueryRow(ctx, l.ops[op], q, args...).Scan(dest...)
}

// flooder waits for a saturation episode and runs slow queries until it
// ends.
func (l *DBLoad) flooder(ctx context.Context) {
	for {
		kick, _ := l.episode()
		select {
		case <-ctx.Done():
			return
		case <-kick:
		}
		for {
			_, end := l.episode()
			if !time.Now().Before(end) || ctx.Err() != nil {
				break
			}
			l.slowQuery(ctx)
		}
	}
}

func (l *DBLoad) slowQuery(ctx context.Context) {
	op := l.ops[opSlow]
	if l.pg != nil {
		l.pg.Exec(ctx, op, `SELECT pg_sleep($1)`, l.opts.SlowQuery.Seconds())
		return
	}
	// SQLite has no sleep: run a query, then hold the connection as a
	// slow query would.
	c, err := l.sqlDB.Conn(ctx)
	if err != nil {
		return
	}
	defer c.Close()
	q := op.Start()
	var n int
	err = c.QueryRowContext(ctx, `SELECT count(*) FROM orders`).Scan(&n)
	if err == nil {
		t := time.NewTimer(l.opts.SlowQuery)
		select {
		case <-ctx.Done():
			err = ctx.Err()
		case <-t.C:
		}
		t.Stop()
	}
	q.End(err)
}
