//go:build race

package client

// The race detector allocates on its own; allocation counts are checked
// without it (.ci/run does).
const raceEnabled = true
