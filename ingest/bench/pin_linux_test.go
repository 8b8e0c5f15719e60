package bench

import (
	"context"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// splittable returns the CPUs this process may run on, skipping t with
// fewer than two, and puts them and GOMAXPROCS back, on every thread, when
// t ends: the tests after it expect them.
func splittable(t *testing.T) *unix.CPUSet {
	t.Helper()
	var all unix.CPUSet
	if err := unix.SchedGetaffinity(0, &all); err != nil {
		t.Fatal(err)
	}
	if all.Count() < 2 {
		t.Skip("needs two CPUs")
	}
	procs := runtime.GOMAXPROCS(0)
	t.Cleanup(func() {
		if err := pinAll(os.Getpid(), cpuList(&all)); err != nil {
			t.Error(err)
		}
		runtime.GOMAXPROCS(procs)
	})
	return &all
}

// TestSplitCores pins a child (standing in for clickhouse-server) and this
// process to the two halves of the CPUs, and checks every thread of both —
// a thread this process starts afterwards included.
func TestSplitCores(t *testing.T) {
	all := splittable(t)
	child := exec.Command("sleep", "30")
	if err := child.Start(); err != nil {
		t.Skip(err)
	}
	defer child.Wait()
	defer child.Process.Kill()

	self, ch, err := splitCores(child.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	if len(self)+len(ch) != all.Count() || len(self) != all.Count()/2 || self[len(self)-1] >= ch[0] {
		t.Fatalf("split %v / %v of %d CPUs", self, ch, all.Count())
	}
	if got := runtime.GOMAXPROCS(0); got != len(self) {
		t.Errorf("GOMAXPROCS %d, want %d", got, len(self))
	}
	check := func(who string, tid int, want []int) {
		t.Helper()
		var set unix.CPUSet
		if err := unix.SchedGetaffinity(tid, &set); err == unix.ESRCH && who == "this process's" {
			return // a thread that ended since the listing
		} else if err != nil {
			t.Fatalf("%s thread %d: %v", who, tid, err)
		}
		if set.Count() != len(want) {
			t.Errorf("%s thread %d may run on %d CPUs, want %v", who, tid, set.Count(), want)
		}
		for _, c := range want {
			if !set.IsSet(c) {
				t.Errorf("%s thread %d may not run on CPU %d, want %v", who, tid, c, want)
			}
		}
	}
	check("child", child.Process.Pid, ch)
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range tasks {
		tid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		check("this process's", tid, self)
	}
	// A goroutine that locks itself to a thread now, on a thread the
	// runtime may have started after the split, runs in the lower half.
	tid, checked := make(chan int), make(chan struct{})
	go func() {
		runtime.LockOSThread()
		tid <- unix.Gettid()
		<-checked // the thread ends with its locked goroutine
	}()
	check("a new", <-tid, self)
	close(checked)
}

// TestRunIngestSplitCores: a short paced run with -split-cores records the
// split it ran under; with an external ClickHouse it is refused.
func TestRunIngestSplitCores(t *testing.T) {
	if testing.Short() {
		t.Skip("starts clickhouse-server")
	}
	all := splittable(t)
	if _, err := RunIngest(context.Background(), Options{ClickHouseAddr: "127.0.0.1:1", SplitCores: true}, io.Discard); err == nil || !strings.Contains(err.Error(), "split-cores") {
		t.Fatalf("with an external ClickHouse: %v, want the split refused", err)
	}
	res, err := RunIngest(context.Background(), Options{Duration: time.Second, Senders: 2, TracesPerReq: 5,
		BaselineRows: 2000, BaselineBatchRows: 1000, BatchMaxRows: 2000, Rate: 2000, SplitCores: true}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	cpus := cpuList(all)
	if s := res.SplitCores; s == nil || len(s.Chainwatch) != len(cpus)/2 || len(s.Chainwatch)+len(s.ClickHouse) != len(cpus) || res.GOMAXPROCS != len(s.Chainwatch) {
		t.Fatalf("split %+v, GOMAXPROCS %d, of CPUs %v", res.SplitCores, res.GOMAXPROCS, cpus)
	}
	if res.PipelineSpans == 0 || res.Ratio <= 0 {
		t.Fatalf("nothing measured: %+v", res)
	}
}
