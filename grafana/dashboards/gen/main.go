// Command gen writes chainwatch's dashboards (package dashboards) as JSON
// into a directory, by default grafana/provisioning/dashboards:
//
//	go run ./grafana/dashboards/gen [-out DIR]
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/chainwatch/chainwatch/grafana/dashboards"
)

func main() {
	out := flag.String("out", "grafana/provisioning/dashboards", "directory to write the dashboards into")
	flag.Parse()
	files, err := dashboards.Render()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(*out, name), b, 0o644); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Println(filepath.Join(*out, name))
	}
}
