// Package servebench is `chainwatch bench serve`: the serving gateway's
// cost measured against the same upstream called directly, in one run.
// The upstream is a fake OpenAI-compatible server in this process that
// generates a fixed number of tokens at a fixed rate: streams send them as
// chunks, non-streamed calls get the whole answer after the same time. A
// second upstream answers non-streamed calls at once, for the saturation
// phase, where every process is CPU-bound. The gateway runs as a child
// process (the same binary, `bench serve -child`), so its RSS and CPU time
// are its own. Direct and gateway calls alternate in slices of each phase
// so that the machine's other load falls on both. Spans are built for every call and handed to a discarding
// exporter: the Kafka produce is not part of the measurement (it is
// asynchronous and bounded by design).
//
// (It carries its own small fake upstream because openaitest needs a
// testing.TB; what it serves follows openaitest's stream format.)
package servebench

import (
	"bufio"
	"bytes"
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
	Duration      time.Duration // per side and phase (default 10s)
	Slice         time.Duration // direct and gateway alternate in slices this long (default 2.5s)
	Warm          time.Duration // each side's warm-up per phase (default 2s)
	Chunks        int           // tokens (chunks) per answer (default 20)
	ChunkInterval time.Duration // between tokens (default 25ms: 40 tokens/s)
	Concurrency   []int         // concurrent streams (default 100, 1000)
	// UnaryConcurrency are the concurrent non-streamed callers against the
	// same fixed-rate upstream, which answers after generating Chunks
	// tokens at the same rate (default 100, 1000).
	UnaryConcurrency []int
	// SaturationWorkers call an upstream that answers at once, so that the
	// three processes saturate the cores (default 32; -1 skips the phase).
	SaturationWorkers int
	// Soak, when set, ends the run with SoakConcurrency streams through the
	// gateway for this long, its RSS sampled every SoakEvery.
	Soak            time.Duration
	SoakConcurrency int           // default 1000
	SoakEvery       time.Duration // default 10s
}

func (o Options) withDefaults() Options {
	if o.Duration <= 0 {
		o.Duration = 10 * time.Second
	}
	if o.Slice <= 0 {
		o.Slice = 2500 * time.Millisecond
	}
	if o.Slice > o.Duration {
		o.Slice = o.Duration
	}
	if o.Warm <= 0 {
		o.Warm = 2 * time.Second
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
	if len(o.UnaryConcurrency) == 0 {
		o.UnaryConcurrency = []int{100, 1000}
	}
	if o.SaturationWorkers == 0 {
		o.SaturationWorkers = 32
	}
	if o.SoakConcurrency <= 0 {
		o.SoakConcurrency = 1000
	}
	if o.SoakEvery <= 0 {
		o.SoakEvery = 10 * time.Second
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
	// system) during its slices over the streams it completed: its own
	// cost, which the machine's other load does not inflate.
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

// UnaryResult compares non-streamed calls at one concurrency.
type UnaryResult struct {
	Concurrency                  int
	DirectRPS, GatewayRPS, Ratio float64
	Direct, Gateway              Latency // Total* only
	AddedP50, AddedP99           time.Duration
	GatewayCPUPerCall            time.Duration
	Errors                       int
}

// SoakSample is the gateway's RSS at one moment of the soak.
type SoakSample struct {
	At       time.Duration
	RSSBytes int64
	Streams  int64 // completed through the gateway so far
}

// Result is a whole run.
type Result struct {
	GOMAXPROCS int
	Streams    []StreamResult
	Unary      []UnaryResult
	// Saturation is the non-streamed phase against an upstream that
	// answers at once: every process CPU-bound on the same cores.
	Saturation        *UnaryResult `json:",omitempty"`
	RSSStartBytes     int64        // gateway RSS before load
	RSSAfterLoadBytes int64        // after the comparison phases and Warm idle
	Soak              []SoakSample `json:",omitempty"`
	// SoakGrowthBytes is the median RSS of the soak's last fifth minus
	// that of its second fifth (the first is warm-up).
	SoakGrowthBytes int64
	SoakErrors      int
	Options         Options
}

// Run runs the benchmark; progress goes to log.
func Run(ctx context.Context, o Options, log io.Writer) (*Result, error) {
	o = o.withDefaults()
	up, err := startUpstream(o, false)
	if err != nil {
		return nil, err
	}
	defer up.Close()
	instant, err := startUpstream(o, true)
	if err != nil {
		return nil, err
	}
	defer instant.Close()
	child, addr, err := startChild(ctx, up.URL, instant.URL)
	if err != nil {
		return nil, err
	}
	defer func() {
		child.Process.Signal(os.Interrupt)
		child.Wait()
	}()
	pid := child.Process.Pid
	sides := [2]string{up.URL, "http://" + addr + "/v1"}
	res := &Result{GOMAXPROCS: runtime.GOMAXPROCS(0), Options: o}
	res.RSSStartBytes = rss(pid)
	tr := &http.Transport{MaxIdleConns: 16384, MaxIdleConnsPerHost: 8192, MaxConnsPerHost: 0, DisableCompression: true}
	hc := &http.Client{Transport: tr}
	for _, c := range o.Concurrency {
		fmt.Fprintf(log, "streams: %d concurrent, direct and through the gateway in alternating %v slices …\n", c, o.Slice)
		ph := phase(ctx, o, pid, c, sides, func(base string) (sample, error) { return oneStream(ctx, hc, base) })
		d, g := ph[0], ph[1]
		sr := StreamResult{Concurrency: c, Direct: d.latency(), Gateway: g.latency(), Errors: d.errs + g.errs}
		sr.GatewayRSSBytes = rss(pid)
		if n := len(g.total); n > 0 {
			sr.GatewayCPUPerStream = g.cpu / time.Duration(n)
		}
		sr.AddedTTFTP50 = sr.Gateway.TTFTP50 - sr.Direct.TTFTP50
		sr.AddedTTFTP99 = sr.Gateway.TTFTP99 - sr.Direct.TTFTP99
		sr.AddedTotalP50 = sr.Gateway.TotalP50 - sr.Direct.TotalP50
		sr.AddedTotalP99 = sr.Gateway.TotalP99 - sr.Direct.TotalP99
		res.Streams = append(res.Streams, sr)
	}
	for _, c := range o.UnaryConcurrency {
		fmt.Fprintf(log, "non-streamed: %d concurrent (the upstream generates %d tokens at %v each), alternating …\n", c, o.Chunks, o.ChunkInterval)
		res.Unary = append(res.Unary, unaryPhase(ctx, o, pid, hc, c, sides, "bench"))
	}
	if o.SaturationWorkers > 0 {
		fmt.Fprintf(log, "non-streamed, saturation: %d callers, an upstream that answers at once …\n", o.SaturationWorkers)
		u := unaryPhase(ctx, o, pid, hc, o.SaturationWorkers, [2]string{instant.URL, sides[1]}, "bench-instant")
		res.Saturation = &u
	}
	tr.CloseIdleConnections()
	time.Sleep(o.Warm)
	res.RSSAfterLoadBytes = rss(pid)
	if o.Soak > 0 {
		fmt.Fprintf(log, "soak: %d streams through the gateway for %v, RSS every %v …\n", o.SoakConcurrency, o.Soak, o.SoakEvery)
		res.Soak, res.SoakErrors = soak(ctx, o, pid, hc, sides[1], log)
		res.SoakGrowthBytes = soakGrowth(res.Soak)
	}
	return res, nil
}

// phase runs c workers that call both sides (0 direct, 1 the gateway).
// They start staggered over the first half of o.Warm and call both sides
// while warming (connections opened and kept alive: opening a thousand
// loopback connections at once stalls for seconds on a small VM, direct
// or not); then for 2 × o.Duration the side flips every o.Slice, each
// worker taking the side of the moment for its next call. Alternating
// spreads the machine's other load over both sides, where two consecutive
// phases would hand it to whichever ran when it came; workers switching
// at their own call boundaries keep their calls out of step (all of them
// starting at once would make every token a burst of c events). A call is
// the side's on which it started. The gateway's CPU time is taken over the
// measurement, when only the gateway's calls use it.
func phase(ctx context.Context, o Options, pid, c int, sides [2]string, call func(base string) (sample, error)) [2]*samples {
	out := [2]*samples{{}, {}}
	measure := time.Now().Add(o.Warm)
	end := measure.Add(2 * o.Duration)
	side := func(t time.Time) int { return int(t.Sub(measure)/o.Slice) % 2 }
	var cpu0 atomic.Int64 // the gateway's CPU time when the measurement starts
	cpuAt := time.AfterFunc(time.Until(measure), func() { cpu0.Store(int64(cpuTime(pid))) })
	defer cpuAt.Stop()
	var wg sync.WaitGroup
	for i := 0; i < c; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			time.Sleep(time.Duration(i) * o.Warm / time.Duration(2*c))
			for k := 0; ctx.Err() == nil; k++ {
				t := time.Now()
				if !t.Before(end) {
					return
				}
				if t.Before(measure) {
					call(sides[k%2])
					continue
				}
				sd := side(t)
				smp, err := call(sides[sd])
				out[sd].add(smp, err)
			}
		}()
	}
	wg.Wait()
	out[1].cpu = cpuTime(pid) - time.Duration(cpu0.Load())
	return out
}

func unaryPhase(ctx context.Context, o Options, pid int, hc *http.Client, c int, sides [2]string, model string) UnaryResult {
	ph := phase(ctx, o, pid, c, sides, func(base string) (sample, error) { return unaryCall(ctx, hc, base, model) })
	d, g := ph[0], ph[1]
	u := UnaryResult{Concurrency: c, Direct: d.latency(), Gateway: g.latency(), Errors: d.errs + g.errs}
	// each side had o.Duration of the phase's time
	u.DirectRPS = float64(len(d.total)) / o.Duration.Seconds()
	u.GatewayRPS = float64(len(g.total)) / o.Duration.Seconds()
	if u.DirectRPS > 0 {
		u.Ratio = u.GatewayRPS / u.DirectRPS
	}
	u.AddedP50 = u.Gateway.TotalP50 - u.Direct.TotalP50
	u.AddedP99 = u.Gateway.TotalP99 - u.Direct.TotalP99
	if n := len(g.total); n > 0 {
		u.GatewayCPUPerCall = g.cpu / time.Duration(n)
	}
	return u
}

// soak keeps c streams going through the gateway for o.Soak and samples
// its RSS.
func soak(ctx context.Context, o Options, pid int, hc *http.Client, gw string, log io.Writer) ([]SoakSample, int) {
	sctx, cancel := context.WithTimeout(ctx, o.Soak)
	defer cancel()
	var completed atomic.Int64
	var errs atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		var wg sync.WaitGroup
		for i := 0; i < o.SoakConcurrency; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				time.Sleep(time.Duration(i) * 2 * time.Second / time.Duration(o.SoakConcurrency))
				for sctx.Err() == nil {
					if _, err := oneStream(sctx, hc, gw); err != nil {
						if sctx.Err() == nil {
							errs.Add(1)
						}
						continue
					}
					completed.Add(1)
				}
			}()
		}
		wg.Wait()
	}()
	start := time.Now()
	var out []SoakSample
	t := time.NewTicker(o.SoakEvery)
	defer t.Stop()
	for {
		select {
		case <-done:
			return out, int(errs.Load())
		case <-t.C:
			s := SoakSample{At: time.Since(start).Round(time.Second), RSSBytes: rss(pid), Streams: completed.Load()}
			out = append(out, s)
			fmt.Fprintf(log, "  %8v  RSS %6.1f MiB  %d streams\n", s.At, float64(s.RSSBytes)/(1<<20), s.Streams)
		}
	}
}

// soakGrowth is the median RSS of the last fifth of the samples minus the
// median of the second fifth (the first fifth is the warm-up); 0 with
// fewer than 5 samples.
func soakGrowth(ss []SoakSample) int64 {
	n := len(ss)
	if n < 5 {
		return 0
	}
	med := func(part []SoakSample) int64 {
		v := make([]int64, len(part))
		for i, s := range part {
			v[i] = s.RSSBytes
		}
		slices.Sort(v)
		return v[len(v)/2]
	}
	return med(ss[n-n/5:]) - med(ss[n/5:2*n/5])
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
	errs     int
	cpu      time.Duration // the gateway's, over its slices
}

// sample is one call: time to the first token (streams), in all, and the
// gateway's overhead header (-1 when absent).
type sample struct {
	ttft, total time.Duration
	overhead    float64
}

func (s *samples) add(x sample, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.errs++
		return
	}
	if x.ttft > 0 {
		s.ttft = append(s.ttft, x.ttft)
	}
	s.total = append(s.total, x.total)
	if x.overhead >= 0 {
		s.overhead = append(s.overhead, x.overhead)
	}
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

func oneStream(ctx context.Context, hc *http.Client, base string) (sample, error) {
	start := time.Now()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/chat/completions", strings.NewReader(streamBody))
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return sample{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		io.Copy(io.Discard, resp.Body)
		return sample{}, fmt.Errorf("status %d", resp.StatusCode)
	}
	x := sample{overhead: -1}
	if h := resp.Header.Get(serving.HeaderOverhead); h != "" {
		x.overhead, _ = strconv.ParseFloat(h, 64)
	}
	br := bufio.NewReader(resp.Body)
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return sample{}, fmt.Errorf("stream ended without [DONE]: %w", err)
		}
		if !bytes.HasPrefix(line, []byte("data: ")) {
			continue
		}
		if x.ttft == 0 && bytes.Contains(line, []byte(`"content":"w`)) {
			x.ttft = time.Since(start)
		}
		if bytes.HasPrefix(line, []byte("data: [DONE]")) {
			x.total = time.Since(start)
			return x, nil
		}
	}
}

// unaryCall is one non-streamed call.
func unaryCall(ctx context.Context, hc *http.Client, base, model string) (sample, error) {
	start := time.Now()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/chat/completions",
		strings.NewReader(`{"model":"`+model+`","messages":[{"role":"user","content":"hi"}]}`))
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return sample{}, err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil {
		return sample{}, err
	}
	if resp.StatusCode != 200 {
		return sample{}, fmt.Errorf("status %d", resp.StatusCode)
	}
	return sample{total: time.Since(start), overhead: -1}, nil
}

// upstream is the fake OpenAI-compatible server.
type upstream struct {
	URL string
	srv *http.Server
}

func (u *upstream) Close() { u.srv.Close() }

// startUpstream starts the fake upstream: streams send o.Chunks tokens
// o.ChunkInterval apart, and non-streamed answers come after the same
// generation time (a model that generates at a fixed token rate) unless
// instant, when they come at once.
func startUpstream(o Options, instant bool) (*upstream, error) {
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
			tokens, content := 2, "hello there"
			if !instant {
				select {
				case <-time.After(time.Duration(o.Chunks) * o.ChunkInterval):
				case <-r.Context().Done():
					return
				}
				var b strings.Builder
				for i := 0; i < o.Chunks; i++ {
					b.WriteString("word" + strconv.Itoa(i) + " ")
				}
				tokens, content = o.Chunks, b.String()
			}
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"id":"chatcmpl-bench","object":"chat.completion","created":%d,"model":"bench","choices":[{"index":0,"message":{"role":"assistant","content":%q},"finish_reason":"stop"}],"usage":{"prompt_tokens":9,"completion_tokens":%d,"total_tokens":%d}}`+"\n", created, content, tokens, 9+tokens)
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
// -child UPSTREAM,INSTANT") and reads its address.
func startChild(ctx context.Context, upstreamURL, instantURL string) (*exec.Cmd, string, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, "", err
	}
	cmd := exec.CommandContext(ctx, exe, "bench", "serve", "-child", upstreamURL+","+instantURL)
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

// Child runs the gateway for the benchmark: route "bench" to the fixed-rate
// upstream and "bench-instant" to the one that answers at once (upstreams
// is "URL,URL"), spans built and discarded; it prints "LISTEN addr" and
// serves until ctx ends.
func Child(ctx context.Context, upstreams string) error {
	upstreamURL, instantURL, ok := strings.Cut(upstreams, ",")
	if !ok {
		return fmt.Errorf("-child: want UPSTREAM,INSTANT, got %q", upstreams)
	}
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
	g, err := serving.New(serving.Config{Routes: []serving.RouteConfig{
		{Name: "bench", Timeout: time.Minute, Replicas: []serving.ReplicaConfig{{URL: upstreamURL}}},
		{Name: "bench-instant", Timeout: time.Minute, Replicas: []serving.ReplicaConfig{{URL: instantURL}}},
	}},
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
