#!/usr/bin/env bash
# Build cost of the in-process PromQL evaluator (docs/PERFORMANCE.md): two
# programs in the alerting module, one importing only the root vitals
# package, one also alerting/store and alerting/eval, each built with an
# empty GOCACHE (the standard library compiled too, for both). Prints CPU
# and wall time, binary size and the packages linked.
set -euo pipefail
cd "$(dirname "$0")"
d=$(mktemp -d -p . buildcost.XXXX); trap 'rm -rf "$d"' EXIT
mkdir -p "$d/core" "$d/eval"
cat > "$d/core/main.go" <<'GO'
package main

import (
	"time"

	"github.com/bizra/vitals"
)

func main() {
	m := vitals.New(nil)
	m.Operation("GET /").Observe(time.Millisecond, nil)
	m.Stop()
}
GO
cat > "$d/eval/main.go" <<'GO'
package main

import (
	"time"

	"github.com/bizra/vitals"
	"github.com/bizra/vitals/alerting/eval"
	"github.com/bizra/vitals/alerting/store"
)

func main() {
	m := vitals.New(nil)
	m.Operation("GET /").Observe(time.Millisecond, nil)
	st := store.New(m, nil)
	ev, err := eval.New(st, nil)
	if err != nil {
		panic(err)
	}
	ev.Start()
	ev.Stop()
	st.Close()
	m.Stop()
}
GO
for p in core eval; do
  cache=$(mktemp -d)
  /usr/bin/time -f "$p: wall %es user %Us sys %Ss" env GOCACHE="$cache" go build -o "$d/$p.bin" "./$d/$p"
  echo "$p: $(stat -c %s "$d/$p.bin") bytes, $(go list -deps "./$d/$p" | wc -l) packages ($(go list -deps -f "{{if not .Standard}}{{.ImportPath}}{{end}}" "./$d/$p" | wc -l) outside the standard library)"
  rm -rf "$cache"
done
