package main

import (
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBenchDetectorsSVG: a tiny sweep writes a well-formed SVG with a line
// per detector and panel, and bad sizes are refused by name.
func TestBenchDetectorsSVG(t *testing.T) {
	path := filepath.Join(t.TempDir(), "scaling.svg")
	old := os.Stdout
	os.Stdout, _ = os.Open(os.DevNull)
	err := runBenchDetectors(t.Context(), []string{"--reps", "1", "--n", "40,60", "--d", "8,16",
		"--context-n", "30,40", "--context-permutations", "10", "--svg", path})
	os.Stdout = old
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Polylines []struct {
			Points string `xml:"points,attr"`
		} `xml:"polyline"`
	}
	if err := xml.Unmarshal(b, &doc); err != nil {
		t.Fatalf("not XML: %v", err)
	}
	// n panel: mmd, lsdd, context_mmd; d panel: mmd, lsdd.
	if len(doc.Polylines) != 5 {
		t.Fatalf("%d lines, want 5", len(doc.Polylines))
	}
	for _, p := range doc.Polylines {
		if len(strings.Fields(p.Points)) != 2 {
			t.Errorf("line with points %q, want 2 points", p.Points)
		}
	}
	if err := runBenchDetectors(t.Context(), []string{"--n", "5"}); err == nil || !strings.Contains(err.Error(), "--n") {
		t.Errorf("--n 5 accepted: %v", err)
	}
}
