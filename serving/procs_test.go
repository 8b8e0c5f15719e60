package serving

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/chainwatch/chainwatch/internal/supervise"
)

var (
	fakeModelOnce sync.Once
	fakeModelBin  string
	fakeModelErr  error
	fakeModelDir  string
)

// buildFakeModel compiles testdata/fakemodel once per test binary (the
// folder is removed by TestMain).
func buildFakeModel(t *testing.T) string {
	t.Helper()
	fakeModelOnce.Do(func() {
		fakeModelDir, fakeModelErr = os.MkdirTemp("", "fakemodel")
		if fakeModelErr != nil {
			return
		}
		fakeModelBin = filepath.Join(fakeModelDir, "fakemodel")
		out, err := exec.Command("go", "build", "-o", fakeModelBin, "./testdata/fakemodel").CombinedOutput()
		if err != nil {
			fakeModelErr = fmt.Errorf("building fakemodel: %v\n%s", err, out)
		}
	})
	if fakeModelErr != nil {
		t.Fatal(fakeModelErr)
	}
	return fakeModelBin
}

func chatContent(t *testing.T, url string) string {
	t.Helper()
	resp, body := rawPost(t, url+"/v1/chat/completions", "", `{"model":"local","messages":[{"role":"user","content":"hi"}]}`)
	if resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	var out struct {
		Choices []struct {
			Message struct{ Content string } `json:"message"`
		} `json:"choices"`
	}
	json.Unmarshal([]byte(body), &out)
	return out.Choices[0].Message.Content
}

// A supervised model server gets its port and GPUs (checked by the
// process itself), serves once ready, is restarted on the same port and
// GPUs when killed, and traffic resumes; the restart is counted.
func TestProcessSupervision(t *testing.T) {
	bin := buildFakeModel(t)
	m := NewMetrics(nil)
	procs := NewProcesses(nil, m, func() (int, error) { return 4, nil }) // GPUs faked: the process only checks its environment
	procs.Initial, procs.Max = 50*time.Millisecond, 200*time.Millisecond
	t.Cleanup(procs.Stop)
	cfg := Config{Routes: []RouteConfig{{Name: "local", Timeout: 2 * time.Second, Retries: 1, Replicas: []ReplicaConfig{
		{Process: &ProcessConfig{Command: []string{bin, "-port", "${PORT}", "-want-gpus", "1,2"}, GPUs: []int{1, 2}, ReadyTimeout: 20 * time.Second}},
		{Process: &ProcessConfig{Command: []string{bin, "-port", "${PORT}", "-want-gpus", "3"}, GPUs: []int{3}, ReadyTimeout: 20 * time.Second}},
	}}}}
	g := startGateway(t, cfg, Options{Processes: procs})
	seen := map[string]bool{}
	for i := 0; i < 40 && len(seen) < 2; i++ {
		c := chatContent(t, g.URL)
		seen[c[strings.Index(c, "gpus="):]] = true
	}
	if !seen["gpus=1,2"] || !seen["gpus=3"] {
		t.Fatalf("replicas answering: %v", seen)
	}
	// Kill replica 0's process; calls keep succeeding (on replica 1 while
	// it restarts), and replica 0 comes back with the same GPUs.
	var mp *managed
	for _, x := range procs.procs {
		if x.name == "local/0" {
			mp = x
		}
	}
	oldPID := mp.proc.Load().PID()
	syscall.Kill(oldPID, syscall.SIGKILL)
	deadline := time.Now().Add(20 * time.Second)
	for {
		c := chatContent(t, g.URL) // never fails: the other replica or a retry answers
		if strings.Contains(c, "gpus=1,2") && !strings.Contains(c, "pid="+itoa(oldPID)+" ") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("replica 0 did not come back")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if st := procs.Status()["local/0"]; st.State != supervise.Running || st.Restarts < 1 {
		t.Fatalf("status %+v", st)
	}
	if got := testutil.ToFloat64(m.procRestarts.WithLabelValues("local/0")); got < 1 {
		t.Fatalf("restarts counted %v", got)
	}
	// Drain and stop: the processes exit.
	pr := mp.proc.Load()
	procs.Stop()
	select {
	case <-pr.Done():
	case <-time.After(15 * time.Second):
		t.Fatal("process still running after Stop")
	}
}

// A process that does not get what it checks for exits before it is
// ready: the gateway refuses to start, saying why with the log tail.
func TestProcessFailsReadiness(t *testing.T) {
	bin := buildFakeModel(t)
	procs := NewProcesses(nil, nil, func() (int, error) { return 1, nil })
	cfg := Config{Routes: []RouteConfig{{Name: "local", Replicas: []ReplicaConfig{
		{Process: &ProcessConfig{Command: []string{bin, "-port", "${PORT}", "-want-gpus", "7"}, GPUs: []int{0}, ReadyTimeout: 10 * time.Second}},
	}}}}
	_, err := New(cfg, Options{Processes: procs})
	if err == nil || !strings.Contains(err.Error(), "exited before it was ready") || !strings.Contains(err.Error(), `want "7"`) {
		t.Fatalf("got %v", err)
	}
}

// Asking for a GPU on a machine without one is refused, naming the
// replica; asking for a GPU index the machine lacks too.
func TestGPURequestRefusedWithoutGPU(t *testing.T) {
	cfg := Config{Routes: []RouteConfig{{Name: "local", Replicas: []ReplicaConfig{
		{Process: &ProcessConfig{Command: []string{"true"}, GPUs: []int{0}}},
	}}}}
	_, err := New(cfg, Options{Processes: NewProcesses(nil, nil, func() (int, error) { return 0, nil })})
	if err == nil || !strings.Contains(err.Error(), "routes local replica 0 asks for GPU 0, but this machine has no NVIDIA GPU") {
		t.Fatalf("got %v", err)
	}
	cfg.Routes[0].Replicas[0].Process.GPUs = []int{2}
	_, err = New(cfg, Options{Processes: NewProcesses(nil, nil, func() (int, error) { return 2, nil })})
	if err == nil || !strings.Contains(err.Error(), "asks for GPU 2, but this machine has 2 (0 to 1)") {
		t.Fatalf("got %v", err)
	}
	// Two replicas on one GPU need shared_gpu.
	cfg.Routes[0].Replicas = append(cfg.Routes[0].Replicas, ReplicaConfig{Process: &ProcessConfig{Command: []string{"true"}, GPUs: []int{2}}})
	if err := cfg.WithDefaults().Validate(); err == nil || !strings.Contains(err.Error(), "GPU 2 is already given to routes[0].replicas[0]") {
		t.Fatalf("got %v", err)
	}
}

// On a machine with an NVIDIA GPU, a supervised process sees exactly the
// GPU it was given: it runs `nvidia-smi -L` under CUDA_VISIBLE_DEVICES=0.
// Skipped where nvidia-smi is absent (scripts/serving-gpu-check.sh runs
// it on a GPU machine).
func TestGPUProcessSeesItsGPU(t *testing.T) {
	if _, err := exec.LookPath("nvidia-smi"); err != nil {
		t.Skip("no nvidia-smi: not a GPU machine")
	}
	n, err := CountGPUs()
	if err != nil || n == 0 {
		t.Skipf("nvidia-smi lists no GPU (%v)", err)
	}
	bin := buildFakeModel(t)
	procs := NewProcesses(nil, nil, nil)
	t.Cleanup(procs.Stop)
	cfg := Config{Routes: []RouteConfig{{Name: "local", Replicas: []ReplicaConfig{
		{Process: &ProcessConfig{Command: []string{bin, "-port", "${PORT}", "-want-gpus", "0", "-nvidia-smi"}, GPUs: []int{0}, ReadyTimeout: time.Minute}},
	}}}}
	g := startGateway(t, cfg, Options{Processes: procs})
	if c := chatContent(t, g.URL); !strings.Contains(c, "gpus=0") {
		t.Fatalf("answer %q", c)
	}
	var rep *replica
	for _, r := range g.st.Load().routes["local"].replicas {
		rep = r
	}
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, rep.base+"/models", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		NvidiaSMI []string `json:"nvidia_smi"`
	}
	json.NewDecoder(resp.Body).Decode(&out)
	if len(out.NvidiaSMI) != 1 {
		t.Fatalf("the process saw %d GPUs through CUDA_VISIBLE_DEVICES=0: %v", len(out.NvidiaSMI), out.NvidiaSMI)
	}
	t.Logf("GPU visible to the supervised process: %s", out.NvidiaSMI[0])
}

// A reload that replaces a process replica drains the old one: a call in
// flight on it completes, then it is stopped; new calls go to the new one.
func TestReloadDrainsReplacedProcess(t *testing.T) {
	bin := buildFakeModel(t)
	procs := NewProcesses(nil, nil, func() (int, error) { return 0, nil })
	t.Cleanup(procs.Stop)
	mk := func(tag string) Config {
		return Config{Routes: []RouteConfig{{Name: "local", Timeout: 10 * time.Second, Replicas: []ReplicaConfig{
			{Process: &ProcessConfig{Command: []string{bin, "-port", "${PORT}", "-delay", "600ms"}, Env: map[string]string{"TAG": tag}, ReadyTimeout: 20 * time.Second, DrainTimeout: 10 * time.Second}},
		}}}}
	}
	g := startGateway(t, mk("a"), Options{Processes: procs})
	var old *managed
	for _, mp := range procs.procs {
		old = mp
	}
	oldPR := old.proc.Load()
	done := make(chan string, 1)
	go func() {
		resp, body := rawPost(t, g.URL+"/v1/chat/completions", "", `{"model":"local","messages":[{"role":"user","content":"hi"}]}`)
		done <- fmt.Sprint(resp.StatusCode, " ", body)
	}()
	time.Sleep(200 * time.Millisecond) // the call is in flight on the old process
	if err := g.Reload(mk("b")); err != nil {
		t.Fatal(err)
	}
	if got := <-done; !strings.HasPrefix(got, "200 ") || !strings.Contains(got, fmt.Sprintf("pid=%d ", oldPR.PID())) {
		t.Fatalf("the call in flight during the reload: %s", got)
	}
	select {
	case <-oldPR.Done():
	case <-time.After(15 * time.Second):
		t.Fatal("the replaced process was not stopped")
	}
	if c := chatContent(t, g.URL); strings.Contains(c, fmt.Sprintf("pid=%d ", oldPR.PID())) {
		t.Fatalf("a new call went to the old process: %s", c)
	}
}
