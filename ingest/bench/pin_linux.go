package bench

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"

	"golang.org/x/sys/unix"
)

// splitCores gives the ClickHouse child (pid) the upper half of the CPUs
// this process may run on and this process (the collector, the broker, the
// writer and the load generator) the lower half, and sets GOMAXPROCS to
// the lower half's size. It returns the two sets.
//
// Affinity is per thread: it is set on every thread each process has now,
// twice over to catch threads started meanwhile; a thread started later
// inherits its creator's, so both processes stay in their halves.
func splitCores(pid int) (self, ch []int, err error) {
	var all unix.CPUSet
	if err := unix.SchedGetaffinity(0, &all); err != nil {
		return nil, nil, fmt.Errorf("reading this process's CPUs: %w", err)
	}
	cpus := cpuList(&all)
	if len(cpus) < 2 {
		return nil, nil, fmt.Errorf("-split-cores needs two CPUs or more; this process may run on %d", len(cpus))
	}
	self, ch = cpus[:len(cpus)/2], cpus[len(cpus)/2:]
	if err := pinAll(pid, ch); err != nil {
		return nil, nil, fmt.Errorf("pinning clickhouse-server (pid %d): %w", pid, err)
	}
	if err := pinAll(os.Getpid(), self); err != nil {
		return nil, nil, fmt.Errorf("pinning this process: %w", err)
	}
	runtime.GOMAXPROCS(len(self))
	return self, ch, nil
}

// cpuList is the CPUs in set, in order.
func cpuList(set *unix.CPUSet) []int {
	var cpus []int
	for i := 0; i < 1024; i++ { // what a CPUSet can hold
		if set.IsSet(i) {
			cpus = append(cpus, i)
		}
	}
	return cpus
}

// pinAll sets the affinity of every thread of pid to cpus.
func pinAll(pid int, cpus []int) error {
	var set unix.CPUSet
	for _, c := range cpus {
		set.Set(c)
	}
	for range 2 {
		tasks, err := os.ReadDir(filepath.Join("/proc", strconv.Itoa(pid), "task"))
		if err != nil {
			return err
		}
		for _, t := range tasks {
			tid, err := strconv.Atoi(t.Name())
			if err != nil {
				continue
			}
			// A thread that has exited since the listing is not an error.
			if err := unix.SchedSetaffinity(tid, &set); err != nil && err != unix.ESRCH {
				return fmt.Errorf("thread %d: %w", tid, err)
			}
		}
	}
	return nil
}
