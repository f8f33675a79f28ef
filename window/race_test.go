//go:build race

package window

// raceEnabled: the race detector makes sync.Pool drop values at random,
// so allocation counts are not meaningful under it.
const raceEnabled = true
