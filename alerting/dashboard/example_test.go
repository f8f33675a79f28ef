package dashboard_test

import (
	"encoding/json"
	"fmt"

	"github.com/bizra/vitals/alerting/dashboard"
)

// Build the dashboard for one deployment and write it where Grafana's
// provisioning (or its import page) reads it.
func ExampleJSON() {
	b, err := dashboard.JSON(&dashboard.Params{Job: "shop", UID: "shop-vitals", Title: "Shop"})
	if err != nil {
		fmt.Println(err)
		return
	}
	var d struct {
		UID        string `json:"uid"`
		Title      string `json:"title"`
		Templating struct {
			List []struct{ Name string } `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(d.UID, d.Title)
	for _, v := range d.Templating.List {
		fmt.Println("variable", v.Name)
	}
	// Output:
	// shop-vitals Shop
	// variable datasource
	// variable job
	// variable instance
}

// Queries lists every PromQL query of a dashboard; Substitute fills the
// variables as Grafana would, for running them against Prometheus or the
// service's /promql endpoint.
func ExampleQueries() {
	b, err := dashboard.JSON(nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	qs, err := dashboard.Queries(b)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, q := range qs {
		if q.Panel == "Throughput per operation" {
			fmt.Println(q.Expr)
			fmt.Println(dashboard.Substitute(q.Expr, "1m"))
		}
	}
	// Output:
	// sum by (operation) (rate(vitals_operations_started_total{job=~"$job",instance=~"$instance"}[$__rate_interval]))
	// sum by (operation) (rate(vitals_operations_started_total{job=~".*",instance=~".*"}[1m]))
}
