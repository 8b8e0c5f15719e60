// Package servebench is `chainwatch bench serve`: the serving gateway's
// cost measured against the same upstream called directly, in one run.
// The upstream is a fake OpenAI-compatible server in this process that
// streams a fixed number of chunks at a fixed interval (a fixed token
// rate) and answers non-streamed requests at once; the gateway runs as a
// child process (the same binary, `bench serve -child`), so its RSS is its
// own. Spans are built for every call and handed to a discarding
// exporter: the Kafka produce is not part of the measurement (it is
// asynchronous and bounded by design).
//
// (It carries its own small fake upstream because openaitest needs a
// testing.TB; what it serves follows openaitest's stream format.)
package servebench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/chainwatch/chainwatch/serving"
)

// Options shape a run; zero values take the defaults.
type Options struct {
	Duration      time.Duration // per phase (default 5s)
	Chunks        int           // chunks per streamed answer (default 20)
	ChunkInterval time.Duration // between chunks (default 25ms: 40 tokens/s)
	Concurrency   []int         // concurrent streams (default 100, 1000)
	UnaryWorkers  int           // concurrent non-streamed callers (default 32)
}

func (o Options) withDefaults() Options {
	if o.Duration <= 0 {
		o.Duration = 5 * time.Second
	}
	if o.Chunks <= 0 {
		o.Chunks = 20
	}
	if o.ChunkInterval <= 0 {
		o.ChunkInterval = 25 * time.Millisecond
	}
	if len(o.Concurrency) == 0 {
		o.Concurrency = []int{100, 1000}
	}
	if o.UnaryWorkers <= 0 {
		o.UnaryWorkers = 32
	}
	return o
}

// StreamResult compares streams at one concurrency.
type StreamResult struct {
	Concurrency int
	Direct      Latency
	Gateway     Latency
	// AddedP50 and AddedP99 are the gateway's minus direct, for the time
	// to the first chunk and for the whole stream.
	AddedTTFTP50, AddedTTFTP99   time.Duration
	AddedTotalP50, AddedTotalP99 time.Duration
	GatewayRSSBytes              int64 // the gateway process's RSS at the end of the phase
	// GatewayCPUPerStream is the gateway process's CPU time (user +
	// system) during the measured phase over the streams it completed: its
	// own cost, which the machine's other load does not inflate.
	GatewayCPUPerStream time.Duration
	Errors              int
}

// Latency is one side's percentiles.
type Latency struct {
	Streams                  int
	TTFTP50, TTFTP99         time.Duration
	TotalP50, TotalP99       time.Duration
	OverheadHeaderP50, P99ms float64 // the gateway's own X-Chainwatch-Overhead-Ms (gateway side only)
}

// Result is a whole run.
type Result struct {
	GOMAXPROCS      int
	Streams         []StreamResult
	UnaryDirectRPS  float64
	UnaryGatewayRPS float64
	UnaryRatio      float64
	// GatewayCPUPerUnary is the gateway's CPU time per non-streamed call.
	GatewayCPUPerUnary time.Duration
	RSSStartBytes      int64 // gateway RSS before load
	RSSAfterLoadBytes  int64 // after every phase and 2 s idle
	Options            Options
}

// Run runs the benchmark; progress goes to log.
func Run(ctx context.Context, o Options, log io.Writer) (*Result, error) {
	o = o.withDefaults()
	up, err := startUpstream(o)
	if err != nil {
		return nil, err
	}
	defer up.Close()
	child, addr, err := startChild(ctx, up.URL)
	if err != nil {
		return nil, err
	}
	defer func() {
		child.Process.Signal(os.Interrupt)
		child.Wait()
	}()
	gw := "http://" + addr + "/v1"
	direct := up.URL
	res := &Result{GOMAXPROCS: runtime.GOMAXPROCS(0), Options: o}
	res.RSSStartBytes = rss(child.Process.Pid)
	tr := &http.Transport{MaxIdleConns: 8192, MaxIdleConnsPerHost: 4096, MaxConnsPerHost: 0, DisableCompression: true}
	hc := &http.Client{Transport: tr}
	for _, c := range o.Concurrency {
		// Each side is warmed at the phase's concurrency first (its
		// connections opened and kept alive), so the measurement is the
		// steady state: opening a thousand loopback connections at once
		// stalls for seconds on this VM, direct or not.
		fmt.Fprintf(log, "streams: %d concurrent, direct…\n", c)
		streams(ctx, hc, direct, c, 2*time.Second)
		d, derr := streams(ctx, hc, direct, c, o.Duration)
		fmt.Fprintf(log, "streams: %d concurrent, through the gateway…\n", c)
		streams(ctx, hc, gw, c, 2*time.Second)
		cpu0 := cpuTime(child.Process.Pid)
		g, gerr := streams(ctx, hc, gw, c, o.Duration)
		cpu := cpuTime(child.Process.Pid) - cpu0
		sr := StreamResult{Concurrency: c, Direct: d.latency(), Gateway: g.latency(), Errors: derr + gerr}
		sr.GatewayRSSBytes = rss(child.Process.Pid)
		if n := len(g.total); n > 0 {
			sr.GatewayCPUPerStream = cpu / time.Duration(n)
		}
		sr.AddedTTFTP50 = sr.Gateway.TTFTP50 - sr.Direct.TTFTP50
		sr.AddedTTFTP99 = sr.Gateway.TTFTP99 - sr.Direct.TTFTP99
		sr.AddedTotalP50 = sr.Gateway.TotalP50 - sr.Direct.TotalP50
		sr.AddedTotalP99 = sr.Gateway.TotalP99 - sr.Direct.TotalP99
		res.Streams = append(res.Streams, sr)
	}
	fmt.Fprintf(log, "non-streamed: %d workers, direct…\n", o.UnaryWorkers)
	res.UnaryDirectRPS = unary(ctx, hc, direct, o.UnaryWorkers, o.Duration)
	fmt.Fprintf(log, "non-streamed: %d workers, through the gateway…\n", o.UnaryWorkers)
	cpu0 := cpuTime(child.Process.Pid)
	res.UnaryGatewayRPS = unary(ctx, hc, gw, o.UnaryWorkers, o.Duration)
	if calls := res.UnaryGatewayRPS * o.Duration.Seconds(); calls > 0 {
		res.GatewayCPUPerUnary = time.Duration(float64(cpuTime(child.Process.Pid)-cpu0) / calls)
	}
	if res.UnaryDirectRPS > 0 {
		res.UnaryRatio = res.UnaryGatewayRPS / res.UnaryDirectRPS
	}
	tr.CloseIdleConnections()
	time.Sleep(2 * time.Second)
	res.RSSAfterLoadBytes = rss(child.Process.Pid)
	return res, nil
}

// cpuTime is a process's user + system CPU time from /proc (clock ticks
// of 10 ms; 0 when unreadable).
func cpuTime(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond
}

// rss is a process's resident set size from /proc (0 when unreadable).
func rss(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(f), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

type samples struct {
	mu       sync.Mutex
	ttft     []time.Duration
	total    []time.Duration
	overhead []float64
}

func pct(xs []time.Duration, p float64) time.Duration {
	if len(xs) == 0 {
		return 0
	}
	slices.Sort(xs)
	return xs[min(len(xs)-1, int(p*float64(len(xs))))]
}

func (s *samples) latency() Latency {
	l := Latency{Streams: len(s.total), TTFTP50: pct(s.ttft, .5), TTFTP99: pct(s.ttft, .99), TotalP50: pct(s.total, .5), TotalP99: pct(s.total, .99)}
	if len(s.overhead) > 0 {
		slices.Sort(s.overhead)
		l.OverheadHeaderP50 = s.overhead[len(s.overhead)/2]
		l.P99ms = s.overhead[min(len(s.overhead)-1, int(.99*float64(len(s.overhead))))]
	}
	return l
}

const streamBody = `{"model":"bench","stream":true,"messages":[{"role":"user","content":"Say something long."}]}`

// streams keeps c streams open for d and records each one's latencies.
func streams(ctx context.Context, hc *http.Client, base string, c int, d time.Duration) (*samples, int) {
	s := &samples{}
	var errs atomic.Int64
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	for i := 0; i < c; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			time.Sleep(time.Duration(i) * d / time.Duration(4*c)) // ramp up over the first quarter
			for time.Now().Before(deadline) && ctx.Err() == nil {
				ttft, total, over, err := oneStream(ctx, hc, base)
				if err != nil {
					errs.Add(1)
					continue
				}
				s.mu.Lock()
				s.ttft = append(s.ttft, ttft)
				s.total = append(s.total, total)
				if over >= 0 {
					s.overhead = append(s.overhead, over)
				}
				s.mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return s, int(errs.Load())
}

func oneStream(ctx context.Context, hc *http.Client, base string) (ttft, total time.Duration, overhead float64, err error) {
	start := time.Now()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/chat/completions", strings.NewReader(streamBody))
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return 0, 0, 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		io.Copy(io.Discard, resp.Body)
		return 0, 0, 0, fmt.Errorf("status %d", resp.StatusCode)
	}
	overhead = -1
	if h := resp.Header.Get(serving.HeaderOverhead); h != "" {
		overhead, _ = strconv.ParseFloat(h, 64)
	}
	br := bufio.NewReader(resp.Body)
	first := true
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return 0, 0, 0, fmt.Errorf("stream ended without [DONE]: %w", err)
		}
		if !strings.HasPrefix(string(line), "data: ") {
			continue
		}
		if first && strings.Contains(string(line), `"content":"w`) {
			ttft, first = time.Since(start), false
		}
		if strings.HasPrefix(string(line), "data: [DONE]") {
			return ttft, time.Since(start), overhead, nil
		}
	}
}

const unaryBody = `{"model":"bench","messages":[{"role":"user","content":"hi"}]}`

// unary runs workers sending non-streamed calls for d; requests/s.
func unary(ctx context.Context, hc *http.Client, base string, workers int, d time.Duration) float64 {
	var n atomic.Int64
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	for i := 0; i < workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) && ctx.Err() == nil {
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/chat/completions", strings.NewReader(unaryBody))
				req.Header.Set("Content-Type", "application/json")
				resp, err := hc.Do(req)
				if err != nil {
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == 200 {
					n.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	return float64(n.Load()) / d.Seconds()
}

// upstream is the fake OpenAI-compatible server.
type upstream struct {
	URL string
	srv *http.Server
}

func (u *upstream) Close() { u.srv.Close() }

func startUpstream(o Options) (*upstream, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/models", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"object":"list","data":[{"id":"bench","object":"model"}]}`)
	})
	mux.HandleFunc("POST /v1/chat/completions", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Stream        bool `json:"stream"`
			StreamOptions *struct {
				IncludeUsage bool `json:"include_usage"`
			} `json:"stream_options"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		created := time.Now().Unix()
		if !req.Stream {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"id":"chatcmpl-bench","object":"chat.completion","created":%d,"model":"bench","choices":[{"index":0,"message":{"role":"assistant","content":"hello there"},"finish_reason":"stop"}],"usage":{"prompt_tokens":9,"completion_tokens":2,"total_tokens":11}}`+"\n", created)
			return
		}
		fl := w.(http.Flusher)
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(200)
		chunk := func(content string) {
			fmt.Fprintf(w, `data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":%d,"model":"bench","choices":[{"index":0,"delta":{"content":%q},"finish_reason":null}]}`+"\n\n", created, content)
			fl.Flush()
		}
		chunk("")
		t := time.NewTicker(o.ChunkInterval)
		defer t.Stop()
		for i := 0; i < o.Chunks; i++ {
			select {
			case <-t.C:
			case <-r.Context().Done():
				return
			}
			chunk("word" + strconv.Itoa(i) + " ")
		}
		fmt.Fprintf(w, `data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":%d,"model":"bench","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}`+"\n\n", created)
		if req.StreamOptions != nil && req.StreamOptions.IncludeUsage {
			fmt.Fprintf(w, `data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":%d,"model":"bench","choices":[],"usage":{"prompt_tokens":9,"completion_tokens":%d,"total_tokens":%d}}`+"\n\n", created, o.Chunks, 9+o.Chunks)
		}
		io.WriteString(w, "data: [DONE]\n\n")
		fl.Flush()
	})
	srv := &http.Server{Handler: mux}
	go srv.Serve(ln)
	return &upstream{URL: "http://" + ln.Addr().String() + "/v1", srv: srv}, nil
}

// startChild starts the gateway child (this binary with "bench serve
// -child UPSTREAM") and reads its address.
func startChild(ctx context.Context, upstreamURL string) (*exec.Cmd, string, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, "", err
	}
	cmd := exec.CommandContext(ctx, exe, "bench", "serve", "-child", upstreamURL)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, "", err
	}
	if err := cmd.Start(); err != nil {
		return nil, "", fmt.Errorf("starting the gateway child: %w", err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		cmd.Process.Kill()
		return nil, "", fmt.Errorf("reading the gateway child's address: %w", err)
	}
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), "LISTEN ")
	if !ok {
		cmd.Process.Kill()
		return nil, "", fmt.Errorf("gateway child said %q", line)
	}
	return cmd, addr, nil
}

// Child runs the gateway for the benchmark: one route "bench" to
// upstreamURL, spans built and discarded; it prints "LISTEN addr" and
// serves until ctx ends.
func Child(ctx context.Context, upstreamURL string) error {
	if path := os.Getenv("CHAINWATCH_BENCH_CPUPROFILE"); path != "" {
		f, err := os.Create(path)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	var spans atomic.Int64
	g, err := serving.New(serving.Config{Routes: []serving.RouteConfig{{Name: "bench", Timeout: time.Minute, Replicas: []serving.ReplicaConfig{{URL: upstreamURL}}}}},
		serving.Options{Exporter: serving.ExporterFunc(func(s []*tracepb.Span) { spans.Add(int64(len(s))) })})
	if err != nil {
		return err
	}
	defer g.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	fmt.Printf("LISTEN %s\n", ln.Addr())
	srv := &http.Server{Handler: g}
	go func() { <-ctx.Done(); srv.Close() }()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
