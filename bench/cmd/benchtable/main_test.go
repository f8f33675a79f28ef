package main

import (
	"bytes"
	"strings"
	"testing"
)

const sampleOutput = `goos: linux
goarch: amd64
pkg: github.com/bizra/vitals/bench
cpu: AMD EPYC
BenchmarkObserve/serial/vitals           	17637375	        10.00 ns/op	       0 B/op	       0 allocs/op
BenchmarkObserve/serial/vitals-2         	14098902	        20.00 ns/op	       0 B/op	       0 allocs/op
BenchmarkObserve/serial/vm               	 9756946	        20.00 ns/op	       0 B/op	       0 allocs/op
BenchmarkObserve/serial/vm-2             	12688909	        40.00 ns/op	       0 B/op	       0 allocs/op
BenchmarkObserve/serial/vitals           	17637375	        12.00 ns/op	       0 B/op	       0 allocs/op
BenchmarkObserve/serial/vitals           	17637375	        99.00 ns/op	       0 B/op	       0 allocs/op
BenchmarkObserve/serial/vm               	 9756946	        30.00 ns/op	       0 B/op	       0 allocs/op
BenchmarkScrape10k/vitals                	      24	   4000000 ns/op	   2395961 bytes/scrape	  934 B/op	       1 allocs/op
BenchmarkScrape10k/prom                  	       5	  16000000 ns/op	   1656075 bytes/scrape	 5105072 B/op	   80314 allocs/op
BenchmarkScrape10k/vm                    	       6	   8000000 ns/op	   3632956 bytes/scrape	20102046 B/op	  234499 allocs/op
BenchmarkLonely/vitals                   	     100	       5.0 ns/op
BenchmarkNoSlash                         	     100	       5.0 ns/op
--- FAIL: BenchmarkBroken
PASS
ok  	github.com/bizra/vitals/bench	14.842s
`

func TestTable(t *testing.T) {
	results, err := parse(strings.NewReader(sampleOutput))
	if err != nil {
		t.Fatal(err)
	}
	rows, warnings := compare(results, "vitals")
	var buf bytes.Buffer
	write(&buf, rows, "vitals", "tsv", false)
	// Medians: vitals serial cpu1 of {10, 12, 99} = 12; vm of {20, 30} = 25.
	want := "name\tvitals_ns\tanchor\tanchor_ns\tratio\tvitals_allocs\tanchor_allocs\n" +
		"observe/serial/cpu1\t12.0\tvm\t25.0\t0.48\t0\t0\n" +
		"observe/serial/cpu2\t20.0\tvm\t40.0\t0.50\t0\t0\n" +
		"scrape10k/cpu1\t4000000\tprom\t16000000\t0.25\t1\t80314\n" +
		"scrape10k/cpu1\t4000000\tvm\t8000000\t0.50\t1\t234499\n"
	if got := buf.String(); got != want {
		t.Errorf("table:\n%s\nwant:\n%s", got, want)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "Lonely") {
		t.Errorf("warnings = %q, want one about Lonely", warnings)
	}
}

func TestMarkdownAndExtra(t *testing.T) {
	results, _ := parse(strings.NewReader(sampleOutput))
	rows, _ := compare(results, "vitals")
	var buf bytes.Buffer
	write(&buf, rows[:1], "vitals", "markdown", true)
	want := "| name | vitals_ns | anchor | anchor_ns | ratio | vitals_allocs | anchor_allocs | runs | vitals_spread | anchor_spread |\n" +
		"|---|---:|---|---:|---:|---:|---:|---:|---:|---:|\n" +
		"| observe/serial/cpu1 | 12.0 | vm | 25.0 | 0.48 | 0 | 0 | 2 | 742% | 40% |\n"
	if got := buf.String(); got != want {
		t.Errorf("markdown:\n%s\nwant:\n%s", got, want)
	}
}

func TestMissingAllocs(t *testing.T) {
	results, _ := parse(strings.NewReader("BenchmarkX/vitals 10 5.00 ns/op\nBenchmarkX/other 10 10.0 ns/op\n"))
	rows, _ := compare(results, "vitals")
	var buf bytes.Buffer
	write(&buf, rows, "vitals", "tsv", false)
	if want := "x/cpu1\t5.00\tother\t10.0\t0.50\t-\t-\n"; !strings.HasSuffix(buf.String(), want) {
		t.Errorf("got %q, want suffix %q", buf.String(), want)
	}
}
