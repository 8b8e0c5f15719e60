package local

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFind(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "fake-server")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if got, err := Find(bin, "x.binary", nil, ""); err != nil || got != bin {
		t.Fatalf("explicit: %q, %v", got, err)
	}
	if _, err := Find(filepath.Join(dir, "missing"), "x.binary", nil, ""); err == nil || !strings.Contains(err.Error(), "x.binary") {
		t.Fatalf("a missing explicit binary must name its key: %v", err)
	}
	t.Setenv("PATH", dir)
	if got, err := Find("", "", []string{"nope", "fake-server"}, ""); err != nil || got != bin {
		t.Fatalf("on PATH: %q, %v", got, err)
	}
	saved := Dirs
	Dirs = []string{dir}
	defer func() { Dirs = saved }()
	t.Setenv("PATH", "")
	if got, err := Find("", "", []string{"fake-server"}, ""); err != nil || got != bin {
		t.Fatalf("in Dirs: %q, %v", got, err)
	}
	if _, err := Find("", "", []string{"absent"}, "apt-get install absent"); err == nil || !strings.Contains(err.Error(), "apt-get install absent") {
		t.Fatalf("the error must carry the install hint: %v", err)
	}
}
