//go:build linux

package chserver

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// deprioritizeMerges renices pid's merge threads to MergeNice now and
// every second until done is closed (ClickHouse may start pool threads as
// work comes).
func deprioritizeMerges(pid int, done <-chan struct{}) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		reniceMergeThreads(pid)
		select {
		case <-done:
			return
		case <-t.C:
		}
	}
}

// reniceMergeThreads sets MergeNice on each thread of pid named in
// mergeThreadNames and returns how many it set.
func reniceMergeThreads(pid int) int {
	dir := filepath.Join("/proc", strconv.Itoa(pid), "task")
	ents, err := os.ReadDir(dir)
	if err != nil {
		return 0
	}
	n := 0
	for _, e := range ents {
		tid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		comm, err := os.ReadFile(filepath.Join(dir, e.Name(), "comm"))
		if err != nil || !slices.Contains(mergeThreadNames, strings.TrimSpace(string(comm))) {
			continue
		}
		if unix.Setpriority(unix.PRIO_PROCESS, tid, MergeNice) == nil {
			n++
		}
	}
	return n
}
