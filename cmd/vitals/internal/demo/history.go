package demo

import "github.com/bizra/vitals/history"

// ParseHistoryOnCorrupt reads the --history-on-corrupt flag: "fail" or
// "move-aside".
func ParseHistoryOnCorrupt(s string) (history.CorruptAction, error) {
	return history.ParseCorruptAction(s)
}
