// Command benchtable turns `go test -bench` output into a comparison
// table: one row per (subject, anchor) pair of every benchmark group, with
// the medians over all repetitions (-count).
//
// Benchmarks are grouped by name: in BenchmarkObserve/serial/vitals-2 the
// last element ("vitals") is the implementation, the rest
// ("Observe/serial") the group, and the -2 suffix the GOMAXPROCS of the run
// (none means 1). The implementation named by -subject is compared with
// every other implementation of its group at the same GOMAXPROCS.
//
// Usage:
//
//	go test -run '^$' -bench . -cpu 1,2 -count 6 | benchtable
//	benchtable -format markdown < results/bench.txt
//
// Output columns (TSV by default):
//
//	name           group and GOMAXPROCS, e.g. observe/serial/cpu2
//	vitals_ns      median ns/op of the subject
//	anchor         the other implementation
//	anchor_ns      its median ns/op
//	ratio          vitals_ns / anchor_ns: below 1 means the subject is faster
//	vitals_allocs  median allocs/op of the subject
//	anchor_allocs  median allocs/op of the anchor
//
// -extra appends the number of runs and each side's spread ((max-min) /
// median over the runs), to judge how much a shared machine disturbed
// them. Lines that are not benchmark results are ignored.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

func main() {
	subject := flag.String("subject", "vitals", "implementation compared with all others of its group")
	format := flag.String("format", "tsv", "output format: tsv or markdown")
	extra := flag.Bool("extra", false, "add columns for the number of runs and the spread of each side")
	flag.Parse()
	if *format != "tsv" && *format != "markdown" {
		fmt.Fprintf(os.Stderr, "benchtable: unknown -format %q (want tsv or markdown)\n", *format)
		os.Exit(2)
	}
	results, err := parse(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchtable:", err)
		os.Exit(1)
	}
	rows, warnings := compare(results, *subject)
	for _, w := range warnings {
		fmt.Fprintln(os.Stderr, "benchtable:", w)
	}
	if len(rows) == 0 {
		fmt.Fprintln(os.Stderr, "benchtable: no comparison found in the input")
		os.Exit(1)
	}
	write(os.Stdout, rows, *subject, *format, *extra)
}

// sample is one result line.
type sample struct {
	nsPerOp     float64
	allocsPerOp float64 // NaN when the run did not report allocations
}

// series are the samples of one implementation in one group at one
// GOMAXPROCS, in input order.
type series struct {
	group   string
	cpu     int
	impl    string
	samples []sample
}

// A result line: name, iterations, then value-unit pairs.
var lineRE = regexp.MustCompile(`^Benchmark(\S+)\s+(\d+)\s+(.+)$`)

// The -N suffix go test appends when GOMAXPROCS is not 1.
var cpuRE = regexp.MustCompile(`^(.*)-(\d+)$`)

// parse reads go test -bench output and returns one series per
// implementation, in the order they first appear.
func parse(r io.Reader) ([]*series, error) {
	var out []*series
	index := map[string]*series{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		m := lineRE.FindStringSubmatch(strings.TrimSpace(sc.Text()))
		if m == nil {
			continue
		}
		name, cpu := m[1], 1
		if c := cpuRE.FindStringSubmatch(name); c != nil {
			n, err := strconv.Atoi(c[2])
			if err == nil && n > 0 {
				name, cpu = c[1], n
			}
		}
		slash := strings.LastIndexByte(name, '/')
		if slash <= 0 || slash == len(name)-1 {
			continue // not of the form Group/impl: nothing to compare it with
		}
		group, impl := name[:slash], name[slash+1:]
		s, ok := parseMeasurements(m[3])
		if !ok {
			continue
		}
		key := group + "\x00" + strconv.Itoa(cpu) + "\x00" + impl
		se := index[key]
		if se == nil {
			se = &series{group: group, cpu: cpu, impl: impl}
			index[key] = se
			out = append(out, se)
		}
		se.samples = append(se.samples, s)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading input: %w", err)
	}
	return out, nil
}

// parseMeasurements reads "17.48 ns/op  0 B/op  0 allocs/op  ..." and
// reports whether ns/op was there.
func parseMeasurements(s string) (sample, bool) {
	f := strings.Fields(s)
	out := sample{nsPerOp: -1, allocsPerOp: nan()}
	for i := 0; i+1 < len(f); i += 2 {
		v, err := strconv.ParseFloat(f[i], 64)
		if err != nil {
			return sample{}, false
		}
		switch f[i+1] {
		case "ns/op":
			out.nsPerOp = v
		case "allocs/op":
			out.allocsPerOp = v
		}
	}
	return out, out.nsPerOp >= 0
}

// row is one comparison of the table.
type row struct {
	name          string
	subjectNs     float64
	anchor        string
	anchorNs      float64
	subjectAllocs float64
	anchorAllocs  float64
	subjectN      int
	anchorN       int
	subjectSpread float64
	anchorSpread  float64
}

// compare pairs the subject of every group and GOMAXPROCS with each other
// implementation there. Groups come in input order, GOMAXPROCS ascending
// within a group, anchors in input order.
func compare(all []*series, subject string) ([]row, []string) {
	type groupKey struct {
		group string
		cpu   int
	}
	var keys []groupKey
	byKey := map[groupKey][]*series{}
	groupOrder := map[string]int{}
	for _, s := range all {
		k := groupKey{s.group, s.cpu}
		if _, ok := byKey[k]; !ok {
			keys = append(keys, k)
		}
		if _, ok := groupOrder[s.group]; !ok {
			groupOrder[s.group] = len(groupOrder)
		}
		byKey[k] = append(byKey[k], s)
	}
	slices.SortStableFunc(keys, func(a, b groupKey) int {
		if d := groupOrder[a.group] - groupOrder[b.group]; d != 0 {
			return d
		}
		return a.cpu - b.cpu
	})

	var rows []row
	var warnings []string
	for _, k := range keys {
		members := byKey[k]
		i := slices.IndexFunc(members, func(s *series) bool { return s.impl == subject })
		if i < 0 {
			warnings = append(warnings, fmt.Sprintf("%s at -cpu %d has no %q benchmark; skipped", k.group, k.cpu, subject))
			continue
		}
		subj := members[i]
		if len(members) == 1 {
			warnings = append(warnings, fmt.Sprintf("%s at -cpu %d has no anchor to compare %q with", k.group, k.cpu, subject))
			continue
		}
		sNs, sAllocs := subj.column(func(s sample) float64 { return s.nsPerOp }), subj.column(func(s sample) float64 { return s.allocsPerOp })
		for _, a := range members {
			if a == subj {
				continue
			}
			aNs, aAllocs := a.column(func(s sample) float64 { return s.nsPerOp }), a.column(func(s sample) float64 { return s.allocsPerOp })
			rows = append(rows, row{
				name:          rowName(k.group, k.cpu),
				subjectNs:     median(sNs),
				anchor:        a.impl,
				anchorNs:      median(aNs),
				subjectAllocs: median(sAllocs),
				anchorAllocs:  median(aAllocs),
				subjectN:      len(sNs),
				anchorN:       len(aNs),
				subjectSpread: spread(sNs),
				anchorSpread:  spread(aNs),
			})
		}
	}
	return rows, warnings
}

func (s *series) column(get func(sample) float64) []float64 {
	out := make([]float64, 0, len(s.samples))
	for _, x := range s.samples {
		if v := get(x); v == v { // not NaN
			out = append(out, v)
		}
	}
	return out
}

// rowName turns "Observe/serial" at 2 into "observe/serial/cpu2".
func rowName(group string, cpu int) string {
	r, n := utf8.DecodeRuneInString(group)
	return string(unicode.ToLower(r)) + group[n:] + "/cpu" + strconv.Itoa(cpu)
}

// median of xs; NaN when empty. The median, not the mean, because on a
// shared machine the noise is one-sided: a neighbour's burst only ever
// makes a run slower.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return nan()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	m := len(s) / 2
	if len(s)%2 == 1 {
		return s[m]
	}
	return (s[m-1] + s[m]) / 2
}

// spread is (max-min)/median: 0.1 means the runs were within 10%.
func spread(xs []float64) float64 {
	if len(xs) == 0 {
		return nan()
	}
	med := median(xs)
	if med == 0 {
		return 0
	}
	return (slices.Max(xs) - slices.Min(xs)) / med
}

func nan() float64 { v := 0.0; return v / v }

func write(w io.Writer, rows []row, subject, format string, extra bool) {
	header := []string{"name", subject + "_ns", "anchor", "anchor_ns", "ratio", subject + "_allocs", "anchor_allocs"}
	if extra {
		header = append(header, "runs", subject+"_spread", "anchor_spread")
	}
	lines := [][]string{header}
	for _, r := range rows {
		l := []string{
			r.name, formatNs(r.subjectNs), r.anchor, formatNs(r.anchorNs),
			formatRatio(r.subjectNs, r.anchorNs), formatCount(r.subjectAllocs), formatCount(r.anchorAllocs),
		}
		if extra {
			l = append(l, strconv.Itoa(min(r.subjectN, r.anchorN)), formatPercent(r.subjectSpread), formatPercent(r.anchorSpread))
		}
		lines = append(lines, l)
	}
	bw := bufio.NewWriter(w)
	defer bw.Flush()
	if format == "markdown" {
		for i, l := range lines {
			fmt.Fprintf(bw, "| %s |\n", strings.Join(l, " | "))
			if i == 0 {
				seps := make([]string, len(l))
				for j := range seps {
					seps[j] = "---"
					if j != 0 && j != 2 {
						seps[j] = "---:"
					}
				}
				fmt.Fprintf(bw, "|%s|\n", strings.Join(seps, "|"))
			}
		}
		return
	}
	for _, l := range lines {
		fmt.Fprintln(bw, strings.Join(l, "\t"))
	}
}

// formatNs keeps three significant digits for small values and drops the
// meaningless decimals of large ones.
func formatNs(v float64) string {
	switch {
	case v != v:
		return "-"
	case v < 10:
		return strconv.FormatFloat(v, 'f', 2, 64)
	case v < 1000:
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
	return strconv.FormatFloat(v, 'f', 0, 64)
}

func formatRatio(a, b float64) string {
	if a != a || b != b || b == 0 {
		return "-"
	}
	r := a / b
	if r < 0.01 {
		return strconv.FormatFloat(r, 'f', 4, 64)
	}
	return strconv.FormatFloat(r, 'f', 2, 64)
}

func formatCount(v float64) string {
	if v != v {
		return "-"
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

func formatPercent(v float64) string {
	if v != v {
		return "-"
	}
	return strconv.FormatFloat(100*v, 'f', 0, 64) + "%"
}
