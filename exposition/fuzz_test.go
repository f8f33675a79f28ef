package exposition

import (
	"bytes"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"google.golang.org/protobuf/proto"

	"github.com/bizra/vitals/metric"
)

func fuzzRegistry() *metric.Registry {
	reg := metric.NewRegistry()
	reg.Counter(metric.Opts{Name: "fuzz_requests_total", Help: "Requests."}).Add(1)
	reg.GaugeVec(metric.Opts{Name: "fuzz_depth", Help: "Depth.", Labels: []string{"q"}}).With(`a"\` + "\n").Set(3)
	reg.Histogram(metric.Opts{Name: "fuzz_latency_seconds", Help: "Latency.", Unit: "seconds"}).Observe(0.1)
	return reg
}

// FuzzNegotiate feeds arbitrary Accept and Accept-Encoding headers to the
// negotiation and to the handler: the answer is always 200 with one of the
// exact Content-Types, never a panic.
func FuzzNegotiate(f *testing.F) {
	f.Add("", "")
	f.Add("application/openmetrics-text;version=1.0.0", "gzip")
	f.Add(ContentTypeProtobuf, "gzip;q=0")
	h := Handler(fuzzRegistry(), &HandlerOpts{DisableRuntimeMetrics: true, MaxRequestsInFlight: -1})
	valid := map[string]bool{ContentTypeText: true, ContentTypeOpenMetrics: true, contentTypeOpenMetrics001: true, ContentTypeProtobuf: true}
	f.Fuzz(func(t *testing.T, accept, encoding string) {
		_, ct := negotiate(accept)
		if !valid[ct] {
			t.Fatalf("negotiate(%q) = %q", accept, ct)
		}
		gz := acceptsGzip(encoding)
		req := httptest.NewRequest("GET", "/metrics", nil)
		req.Header["Accept"] = []string{accept}
		req.Header["Accept-Encoding"] = []string{encoding}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			t.Fatalf("status %d", rec.Code)
		}
		if got := rec.Header().Get("Content-Type"); got != ct {
			t.Fatalf("Content-Type %q, negotiated %q", got, ct)
		}
		if (rec.Header().Get("Content-Encoding") == "gzip") != gz {
			t.Fatalf("Accept-Encoding %q: Content-Encoding %q", encoding, rec.Header().Get("Content-Encoding"))
		}
	})
}

// FuzzNameQuery sends arbitrary query strings: the handler answers 200
// with parseable text holding only the families asked for, or 400.
func FuzzNameQuery(f *testing.F) {
	f.Add("name[]=fuzz_requests_total")
	f.Add("name%5B%5D=fuzz_depth&name[]=fuzz_depth")
	f.Add("name[]=%zz")
	h := Handler(fuzzRegistry(), &HandlerOpts{DisableRuntimeMetrics: true, MaxRequestsInFlight: -1})
	f.Fuzz(func(t *testing.T, query string) {
		req := httptest.NewRequest("GET", "/metrics", nil)
		req.URL.RawQuery = query
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		switch rec.Code {
		case http.StatusBadRequest:
			if _, err := url.ParseQuery(query); err == nil {
				t.Fatalf("400 for a query that parses: %q", query)
			}
			return
		case http.StatusOK:
		default:
			t.Fatalf("status %d for %q", rec.Code, query)
		}
		got := parseText(t, rec.Body.Bytes())
		q, _ := url.ParseQuery(query)
		if names, ok := q["name[]"]; ok {
			allowed := make(map[string]bool)
			for _, n := range names {
				allowed[n] = true
			}
			for n := range got {
				if !allowed[n] {
					t.Fatalf("query %q: family %s exposed", query, n)
				}
			}
		} else if len(got) < 3 {
			t.Fatalf("query %q: only %d families", query, len(got))
		}
	})
}

// FuzzNativeEncoders writes a family with an arbitrary label value, HELP
// text and value natively in OpenMetrics and protobuf, and through
// familyToDTO and expfmt / proto.Marshal: the bytes must agree, and the
// native protobuf must decode.
func FuzzNativeEncoders(f *testing.F) {
	f.Add("/api", "Requests.", 1.5, uint64(3))
	f.Add(`a"\`+"\n", "Help with \\ and \"quotes\"\nand a newline.", math.Inf(-1), uint64(0))
	f.Add(strings.Repeat("x", 300), strings.Repeat("h", 200), 1e300, uint64(1<<63))
	f.Fuzz(func(t *testing.T, label, help string, v float64, n uint64) {
		if !utf8.ValidString(label) || !utf8.ValidString(help) || help == "" {
			t.Skip()
		}
		reg := metric.NewRegistry()
		reg.FloatGaugeVec(metric.Opts{Name: "fuzz_value", Help: help, Labels: []string{"l"}}).With(label).Set(v)
		reg.CounterVec(metric.Opts{Name: "fuzz_events_total", Help: help, Labels: []string{"l"}}).With(label).Add(n)
		reg.HistogramVec(metric.Opts{Name: "fuzz_seconds", Help: help, Unit: "seconds", Labels: []string{"l"}}).With(label).Observe(v)
		var hv metric.HistogramValue
		for _, fam := range reg.Families() {
			e := getEncoder(nil)
			e.writeFamilyProto(fam)
			var want []byte
			if mf := familyToDTO(fam, &hv, true); mf != nil {
				b, err := proto.Marshal(mf)
				if err != nil {
					t.Fatal(err)
				}
				want = protodelimPrefix(b)
			}
			if !bytes.Equal(e.buf, want) {
				t.Fatalf("%s protobuf:\nnative %x\ndto    %x", fam.Name, e.buf, want)
			}
			if err := expfmt.NewDecoder(bytes.NewReader(e.buf), expfmt.FmtProtoDelim).Decode(new(dto.MetricFamily)); err != nil && len(want) > 0 {
				t.Fatalf("%s: native protobuf does not decode: %v", fam.Name, err)
			}
			e.buf = e.buf[:0]
			e.writeFamilyOM(fam, false)
			var om bytes.Buffer
			if mf := familyToDTO(fam, &hv, false); mf != nil {
				if _, err := expfmt.MetricFamilyToOpenMetrics(&om, mf); err != nil {
					t.Fatal(err)
				}
			}
			if !bytes.Equal(e.buf, om.Bytes()) {
				t.Fatalf("%s OpenMetrics:\nnative %q\nexpfmt %q", fam.Name, e.buf, om.Bytes())
			}
			putEncoder(e)
		}
	})
}
