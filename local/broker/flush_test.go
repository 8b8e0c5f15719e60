package broker

import (
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
)

func TestFlusherWritesBackUntilStopped(t *testing.T) {
	dir := t.TempDir()
	var calls atomic.Int32
	f, err := startFlusher(dir, 5*time.Millisecond, func(d *os.File) error {
		if d.Name() != dir {
			t.Errorf("synced %s, want the data dir %s", d.Name(), dir)
		}
		calls.Add(1)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for calls.Load() < 3 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if calls.Load() < 3 {
		t.Fatalf("%d writebacks in 5 s at one every 5 ms", calls.Load())
	}
	f.Stop()
	n := calls.Load()
	time.Sleep(30 * time.Millisecond)
	if calls.Load() != n {
		t.Errorf("%d writebacks after Stop", calls.Load()-n)
	}
	if _, err := startFlusher(filepath.Join(dir, "missing"), time.Second, syncFS); err == nil {
		t.Error("a missing data dir was accepted")
	}
}

// The real writeback runs on a real directory (syncfs on Linux).
func TestSyncFS(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "segment"), make([]byte, 1<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	d, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := syncFS(d); err != nil {
		t.Fatal(err)
	}
}
