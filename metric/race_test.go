//go:build race

package metric

// raceEnabled skips the tests whose cost the race detector multiplies
// without checking anything more (memory layout, not synchronisation).
const raceEnabled = true
