package history

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"time"
)

// FileName is the name of the history file inside Options.Dir.
const FileName = "vitals-history.db"

// Tier is one resolution of the history: a record per series per Step,
// kept until it is Retention old. A coarser tier's records are built from
// the finer tier's when those expire, so each span of time is stored once:
// at the defaults, minutes for the last day, 5 minutes from 1 to 7 days
// back, hours from 7 to 90 days back.
type Tier struct {
	Step      time.Duration
	Retention time.Duration
}

// DefaultTiers are 1-minute records for 24 hours, 5-minute records for 7
// days and 1-hour records for 90 days.
var DefaultTiers = []Tier{
	{Step: time.Minute, Retention: 24 * time.Hour},
	{Step: 5 * time.Minute, Retention: 7 * 24 * time.Hour},
	{Step: time.Hour, Retention: 90 * 24 * time.Hour},
}

// Options configures a Store. The zero value (or nil) gives the defaults
// written on each field.
type Options struct {
	// Dir is the directory holding the history file (FileName). It is
	// created if missing. "": "vitals-data".
	Dir string
	// Tiers are the resolutions kept, finest first. Each Step is a whole
	// number of seconds and a multiple of the previous tier's; each
	// Retention is at least the next tier's Step, since coarser records are
	// built from finer ones. nil: DefaultTiers.
	Tiers []Tier
	// Logger receives persistence problems: one line when writing starts
	// failing, one when it works again. nil: slog.Default().
	Logger *slog.Logger
	// MaxPending is how many finished steps of the finest tier may wait
	// in memory for the disk (one hour at the default 1-minute step).
	// While the disk is unusable, history keeps this much and drops the
	// oldest, counting them in vitals_history_dropped_frames_total.
	// 0: 60.
	MaxPending int
	// MaxSeries caps the series recorded; later ones are left out and
	// counted in vitals_history_series_dropped_total. 0: 10,000.
	MaxSeries int
	// RewindAfter is how far the clock may go back before the Store
	// believes it. Smaller steps back are absorbed: ticks count into the
	// newest step until the clock catches up. A bigger one rewinds the
	// history: records stamped after the new time are deleted, as they
	// came from a clock that was wrong. 0: 5 minutes.
	RewindAfter time.Duration
	// OnCorrupt is what Open does with a damaged file: CorruptFail (the
	// default) returns an error wrapping ErrCorrupt and leaves the file
	// as it is; CorruptMoveAside renames it aside and starts afresh.
	OnCorrupt CorruptAction
	// ReadOnly opens an existing history file read-only and serves it:
	// nothing is written, new steps are kept in memory (up to MaxPending)
	// and answered by queries, Flush returns ErrReadOnly. Open does the
	// same by itself, and logs it, when the file exists but this process
	// may not write it or its directory (a read-only volume, EACCES).
	// Default false.
	ReadOnly bool
	// MaxQueryRecords bounds the records one query holds while it merges
	// them (about 110 bytes each, so 11 MB at the default); a query that
	// would read more fails with ErrQueryTooLarge. At the default tiers no
	// query within MaxPoints comes near it; finer custom tiers can.
	// 0: 100,000.
	MaxQueryRecords int
	// NoSync skips the fsync after each write. A process crash still
	// loses nothing written; a power loss may lose recent minutes. For
	// tests and benchmarks. Default false.
	NoSync bool

	// openFile replaces os.OpenFile for the database file in tests
	// (fault injection).
	openFile func(string, int, os.FileMode) (*os.File, error)
}

// ErrOptions is wrapped by Open's errors about invalid options.
var ErrOptions = errors.New("history: invalid options")

func (o *Options) normalize() error {
	if o.Dir == "" {
		o.Dir = "vitals-data"
	}
	if o.Tiers == nil {
		o.Tiers = DefaultTiers
	}
	o.Tiers = slices.Clone(o.Tiers)
	if len(o.Tiers) == 0 || len(o.Tiers) > 8 {
		return fmt.Errorf("%w: %d tiers (want 1 to 8)", ErrOptions, len(o.Tiers))
	}
	for i, t := range o.Tiers {
		if t.Step < time.Second || t.Step%time.Second != 0 {
			return fmt.Errorf("%w: tier %d step %v is not a whole number of seconds", ErrOptions, i, t.Step)
		}
		if t.Retention < t.Step {
			return fmt.Errorf("%w: tier %d keeps %v, less than its step %v", ErrOptions, i, t.Retention, t.Step)
		}
		if i > 0 {
			p := o.Tiers[i-1]
			if t.Step <= p.Step || t.Step%p.Step != 0 {
				return fmt.Errorf("%w: tier %d step %v is not a larger multiple of %v", ErrOptions, i, t.Step, p.Step)
			}
			if p.Retention < t.Step {
				return fmt.Errorf("%w: tier %d keeps %v, less than tier %d's step %v that is built from it", ErrOptions, i-1, p.Retention, i, t.Step)
			}
		}
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.MaxPending <= 0 {
		o.MaxPending = 60
	}
	if o.MaxSeries <= 0 {
		o.MaxSeries = 10000
	}
	if o.MaxQueryRecords <= 0 {
		o.MaxQueryRecords = 100000
	}
	if o.RewindAfter <= 0 {
		o.RewindAfter = 5 * time.Minute
	}
	return nil
}

// alignDown returns the start of the step-long interval (aligned to the
// Unix epoch) holding t, in Unix seconds.
func alignDown(t int64, step int64) int64 {
	r := t % step
	if r < 0 {
		r += step
	}
	return t - r
}
