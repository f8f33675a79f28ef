package vitalshttp_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/bizra/vitals"
	"github.com/bizra/vitals/vitalshttp"
)

func TestRoute(t *testing.T) {
	m := vitals.New(nil)
	ok := vitalshttp.Route(m, "GET /ok", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("hi")) }))
	bad := vitalshttp.Route(m, "GET /bad", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.Error(w, "no", http.StatusServiceUnavailable) }))
	boom := vitalshttp.Route(m, "GET /boom", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { panic("boom") }))
	for i := 0; i < 3; i++ {
		ok.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/ok", nil))
	}
	bad.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/bad", nil))
	func() {
		defer func() { recover() }()
		boom.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/boom", nil))
	}()
	s := m.Collect()
	want := map[[2]string]float64{{"GET /ok", "2xx"}: 3, {"GET /bad", "5xx"}: 1, {"GET /boom", "5xx"}: 1, {"GET /ok", "5xx"}: 0}
	for k, v := range want {
		p, found := s.Lookup("vitals_http_responses_total", k[0], k[1])
		if !found || p.Value != v {
			t.Errorf("responses%v = %v (found %v), want %v", k, p, found, v)
		}
	}
	for op, wantErr := range map[string]float64{"GET /ok": 0, "GET /bad": 1, "GET /boom": 1} {
		p, _ := s.Lookup("vitals_operation_errors_total", op)
		if p.Value != wantErr {
			t.Errorf("errors{%s} = %v, want %v", op, p.Value, wantErr)
		}
	}
}

func ExampleRoute() {
	m := vitals.New(nil)
	mux := http.NewServeMux()
	mux.Handle("GET /hello", vitalshttp.Route(m, "GET /hello", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "hello")
	})))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	for i := 0; i < 5; i++ {
		resp, err := http.Get(srv.URL + "/hello")
		if err == nil {
			resp.Body.Close()
		}
	}
	m.Collect()
	s, _ := m.Latest().Lookup("vitals_http_responses_total", "GET /hello", "2xx")
	fmt.Println(s.Value)
	// Output: 5
}

func ExampleHandler() {
	m := vitals.New(nil)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /users/{id}", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "user", r.PathValue("id"))
	})
	srv := httptest.NewServer(vitalshttp.Handler(m, mux)) // every route, named by its pattern
	defer srv.Close()
	for _, id := range []string{"1", "2", "3"} {
		resp, err := http.Get(srv.URL + "/users/" + id)
		if err == nil {
			resp.Body.Close()
		}
	}
	p, _ := m.Collect().Lookup("vitals_http_responses_total", "GET /users/{id}", "2xx")
	fmt.Println(p.Value)
	// Output: 3
}
