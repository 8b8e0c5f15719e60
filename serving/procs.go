package serving

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/chainwatch/chainwatch/internal/supervise"
)

// Processes supervises the local model-server processes behind routes
// (llama-swap's job, inside the gateway): each process replica gets a free
// port (${PORT} in its command), its GPUs (CUDA_VISIBLE_DEVICES), is
// waited on until its ready path answers 2xx, and is restarted with
// backoff (internal/supervise) when it dies — on the same port and GPUs.
// Its replica takes traffic only while it is ready. Stopping drains: the
// replica takes no new attempts, those in flight get up to drain_timeout,
// then SIGTERM, then SIGKILL after 10 s.
type Processes struct {
	log  *slog.Logger
	m    *Metrics
	gpus func() (int, error)
	// Backoff of restarts (supervise's defaults when zero).
	Initial, Max time.Duration

	mu    sync.Mutex
	procs map[string]*managed // by replica key: route/index#spec hash
}

// managed is one supervised process replica.
type managed struct {
	key  string
	name string // route/index
	cfg  ProcessConfig
	port int
	gpus string
	rep  atomic.Pointer[replica]
	sup  *supervise.Supervisor
	proc atomic.Pointer[process]
	log  *slog.Logger
}

// NewProcesses returns an empty set; gpuCount says how many NVIDIA GPUs
// the machine has (nil: CountGPUs).
func NewProcesses(log *slog.Logger, m *Metrics, gpuCount func() (int, error)) *Processes {
	if log == nil {
		log = slog.Default()
	}
	if m == nil {
		m = NewMetrics(nil)
	}
	if gpuCount == nil {
		gpuCount = CountGPUs
	}
	return &Processes{log: log, m: m, gpus: gpuCount, procs: map[string]*managed{}}
}

// CountGPUs counts the NVIDIA GPUs `nvidia-smi -L` lists; 0 with no error
// when nvidia-smi is not installed.
func CountGPUs() (int, error) {
	path, err := exec.LookPath("nvidia-smi")
	if err != nil {
		return 0, nil
	}
	out, err := exec.Command(path, "-L").Output()
	if err != nil {
		return 0, fmt.Errorf("running nvidia-smi -L: %w", err)
	}
	n := 0
	for _, l := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(l, "GPU ") {
			n++
		}
	}
	return n, nil
}

func specKey(route string, index int, pc ProcessConfig) string {
	b, _ := json.Marshal(pc)
	h := sha256.Sum256(b)
	return route + "/" + strconv.Itoa(index) + "#" + hex.EncodeToString(h[:6])
}

// Reconcile makes the running processes match cfg: it checks the GPU
// requests first (refusing the whole config with a message naming the
// replica when the machine lacks them), starts the new processes and waits
// for them to be ready, keeps the unchanged ones, and drains and stops
// those no longer configured. On error nothing is stopped.
func (p *Processes) Reconcile(cfg Config) error {
	cfg = cfg.WithDefaults()
	type want struct {
		key, name string
		pc        ProcessConfig
	}
	var wants []want
	needGPU := -1
	var needBy string
	for _, r := range cfg.Routes {
		for i, rep := range r.Replicas {
			if rep.Process == nil {
				continue
			}
			w := want{key: specKey(r.Name, i, *rep.Process), name: r.Name + "/" + strconv.Itoa(i), pc: *rep.Process}
			wants = append(wants, w)
			for _, g := range rep.Process.GPUs {
				if g > needGPU {
					needGPU, needBy = g, fmt.Sprintf("routes %s replica %d", r.Name, i)
				}
			}
		}
	}
	if needGPU >= 0 {
		n, err := p.gpus()
		if err != nil {
			return fmt.Errorf("checking GPUs: %w", err)
		}
		if n == 0 {
			return fmt.Errorf("%s asks for GPU %d, but this machine has no NVIDIA GPU (nvidia-smi lists none); remove its gpus: list to run it on the CPU", needBy, needGPU)
		}
		if needGPU >= n {
			return fmt.Errorf("%s asks for GPU %d, but this machine has %d (0 to %d)", needBy, needGPU, n, n-1)
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	keep := map[string]bool{}
	var started []*managed
	for _, w := range wants {
		keep[w.key] = true
		if _, ok := p.procs[w.key]; ok {
			continue
		}
		mp, err := p.start(w.key, w.name, w.pc)
		if err != nil {
			for _, s := range started {
				s.stop()
				delete(p.procs, s.key)
			}
			return err
		}
		p.procs[w.key] = mp
		started = append(started, mp)
	}
	for k, mp := range p.procs {
		if !keep[k] {
			go mp.drainAndStop()
			delete(p.procs, k)
		}
	}
	return nil
}

// attach points a route's process replicas at their processes.
func (p *Processes) attach(rt *route) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, rc := range rt.cfg.Replicas {
		if rc.Process == nil {
			continue
		}
		mp := p.procs[specKey(rt.cfg.Name, i, *rc.Process)]
		rep := rt.replicas[i]
		if mp == nil {
			rep.base = "" // never started (Reconcile failed): no traffic
			continue
		}
		rep.base = fmt.Sprintf("http://127.0.0.1:%d/v1", mp.port)
		rep.gpus = mp.gpus
		rep.healthy.Store(mp.ready())
		mp.rep.Store(rep)
	}
}

// Stop drains and stops every process.
func (p *Processes) Stop() {
	p.mu.Lock()
	all := p.procs
	p.procs = map[string]*managed{}
	p.mu.Unlock()
	var wg sync.WaitGroup
	for _, mp := range all {
		wg.Add(1)
		go func() { defer wg.Done(); mp.drainAndStop() }()
	}
	wg.Wait()
}

// Status reports each process replica's supervision state.
func (p *Processes) Status() map[string]supervise.Status {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := map[string]supervise.Status{}
	for _, mp := range p.procs {
		out[mp.name] = mp.sup.Status()
	}
	return out
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func (p *Processes) start(key, name string, pc ProcessConfig) (*managed, error) {
	port, err := freePort()
	if err != nil {
		return nil, fmt.Errorf("picking a port for %s: %w", name, err)
	}
	mp := &managed{key: key, name: name, cfg: pc, port: port, log: p.log}
	if len(pc.GPUs) > 0 {
		ids := make([]string, len(pc.GPUs))
		for i, g := range pc.GPUs {
			ids[i] = strconv.Itoa(g)
		}
		mp.gpus = strings.Join(ids, ",")
	}
	ctx, cancel := context.WithTimeout(context.Background(), pc.ReadyTimeout)
	defer cancel()
	first, err := mp.launch(ctx)
	if err != nil {
		return nil, err
	}
	p.setState(mp, supervise.Running)
	mp.sup = supervise.New(first, func(ctx context.Context) (supervise.Process, error) {
		ctx, cancel := context.WithTimeout(ctx, pc.ReadyTimeout)
		defer cancel()
		pr, err := mp.launch(ctx)
		if err != nil {
			p.setState(mp, supervise.Failed)
			return nil, err
		}
		p.setState(mp, supervise.Running)
		return pr, nil
	}, supervise.Options{Name: name, Initial: p.Initial, Max: p.Max, Log: p.log,
		Restarts: p.m.procRestarts.WithLabelValues(name)})
	return mp, nil
}

func (p *Processes) setState(mp *managed, st supervise.State) {
	for _, s := range []supervise.State{supervise.Running, supervise.Restarting, supervise.Failed, supervise.Stopped} {
		p.m.procState.WithLabelValues(mp.name, string(s)).Set(b2f(s == st))
	}
}

func (mp *managed) ready() bool {
	pr := mp.proc.Load()
	if pr == nil {
		return false
	}
	select {
	case <-pr.done:
		return false
	default:
		return true
	}
}

// launch starts the command and waits for readiness; on failure nothing
// is left running.
func (mp *managed) launch(ctx context.Context) (*process, error) {
	args := make([]string, len(mp.cfg.Command))
	for i, a := range mp.cfg.Command {
		args[i] = strings.ReplaceAll(a, "${PORT}", strconv.Itoa(mp.port))
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = append(os.Environ(), "PORT="+strconv.Itoa(mp.port))
	if mp.gpus != "" {
		cmd.Env = append(cmd.Env, "CUDA_VISIBLE_DEVICES="+mp.gpus)
	}
	for k, v := range mp.cfg.Env {
		cmd.Env = append(cmd.Env, k+"="+strings.ReplaceAll(v, "${PORT}", strconv.Itoa(mp.port)))
	}
	pr := &process{cmd: cmd, done: make(chan struct{}), tail: &tailBuffer{max: 4096}}
	cmd.Stdout, cmd.Stderr = pr.tail, pr.tail
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s (%s): %w", mp.name, args[0], err)
	}
	go func() {
		err := cmd.Wait()
		pr.mu.Lock()
		if err != nil {
			pr.reason = err.Error()
		} else {
			pr.reason = "exited with status 0"
		}
		pr.mu.Unlock()
		if rep := mp.rep.Load(); rep != nil {
			rep.healthy.Store(false)
		}
		close(pr.done)
	}()
	url := fmt.Sprintf("http://127.0.0.1:%d%s", mp.port, mp.cfg.ReadyPath)
	hc := &http.Client{Timeout: 2 * time.Second}
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if resp, err := hc.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode >= 200 && resp.StatusCode < 300 {
				break
			}
		}
		select {
		case <-pr.done:
			r, tail := pr.Exited()
			return nil, fmt.Errorf("%s exited before it was ready (%s); log tail: %s", mp.name, r, tail)
		case <-ctx.Done():
			pr.Stop()
			return nil, fmt.Errorf("%s was not ready at %s within ready_timeout: %w", mp.name, url, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
	mp.proc.Store(pr)
	if rep := mp.rep.Load(); rep != nil {
		rep.healthy.Store(true)
	}
	mp.log.Info("model server ready", "replica", mp.name, "port", mp.port, "gpus", mp.gpus, "pid", cmd.Process.Pid)
	return pr, nil
}

// drainAndStop takes the replica out of rotation, waits for its attempts
// in flight (up to drain_timeout) and stops the process.
func (mp *managed) drainAndStop() {
	if rep := mp.rep.Load(); rep != nil {
		rep.draining.Store(true)
		deadline := time.Now().Add(mp.cfg.DrainTimeout)
		for rep.inFlight.Load() > 0 && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
	}
	mp.stop()
}

func (mp *managed) stop() {
	if mp.sup != nil {
		mp.sup.Stop()
	} else if pr := mp.proc.Load(); pr != nil {
		pr.Stop()
	}
}

// process is one run of a model server.
type process struct {
	cmd    *exec.Cmd
	done   chan struct{}
	tail   *tailBuffer
	mu     sync.Mutex
	reason string
}

var _ supervise.Process = (*process)(nil)

func (p *process) Done() <-chan struct{} { return p.done }

func (p *process) Exited() (string, string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.reason, p.tail.String()
}

// PID is the process id.
func (p *process) PID() int { return p.cmd.Process.Pid }

// Stop sends SIGTERM to the process group, then SIGKILL after 10 s.
func (p *process) Stop() {
	pid := p.cmd.Process.Pid
	syscall.Kill(-pid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		syscall.Kill(-pid, syscall.SIGKILL)
		<-p.done
	}
}

// tailBuffer keeps the last max bytes written.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = t.b[len(t.b)-t.max:]
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}
