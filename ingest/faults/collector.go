package faults

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/chainwatch/chainwatch/kafka"
	"github.com/chainwatch/chainwatch/local/broker"
	"github.com/chainwatch/chainwatch/local/chserver"
)

// MemoryOptions shape a collector-memory run; zero values take the
// defaults in brackets.
type MemoryOptions struct {
	Binary         string        // the chainwatch binary to measure [os.Executable()]
	Senders        []int         // concurrent senders, one run each [16, 48, 96]
	BodyBytes      int           // body size of each request [15 MiB]
	ClickHouseAddr string        // native address the collector checks at start [a clickhouse-server child]
	Timeout        time.Duration // how long a sender waits for its answer [30 s]
	ExtraConfig    string        // YAML appended to the collector's config
}

// MemoryRun is one run's result.
type MemoryRun struct {
	Senders      int           `json:"senders"`
	PeakRSSBytes int64         `json:"peak_rss_bytes"`
	Took         time.Duration `json:"took"`
	Answers      string        `json:"answers"` // e.g. "96×503"
}

// RunCollectorMemory measures the peak RSS of a real `chainwatch collector`
// process while N senders each POST one large OTLP/HTTP protobuf body and
// the broker is frozen (it accepts connections and metadata requests but
// never answers a produce request). With admission
// (collector.max_inflight_bytes) the peak stays flat in N; without it, it
// grows with N. report is called after each run.
func RunCollectorMemory(ctx context.Context, o MemoryOptions, report func(MemoryRun)) (bodyBytes int, err error) {
	if o.Binary == "" {
		if o.Binary, err = os.Executable(); err != nil {
			return 0, err
		}
	}
	if len(o.Senders) == 0 {
		o.Senders = []int{16, 48, 96}
	}
	if o.BodyBytes == 0 {
		o.BodyBytes = 15 << 20
	}
	if o.Timeout == 0 {
		o.Timeout = 30 * time.Second
	}
	b, kc, err := broker.Start(kafka.Config{}, 0, "")
	if err != nil {
		return 0, err
	}
	defer b.Stop()
	cluster := b.Cluster()
	thaw := make(chan struct{})
	defer close(thaw)
	cluster.ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
		cluster.KeepControl()
		cluster.SleepControl(func() { <-thaw })
		return nil, nil, false
	})
	if err := kafka.EnsureTopics(ctx, kc); err != nil {
		return 0, err
	}
	if o.ClickHouseAddr == "" {
		srv, err := chserver.Start(ctx, chserver.Config{}) // free ports of its own
		if err != nil {
			return 0, fmt.Errorf("starting clickhouse (or pass its address): %w", err)
		}
		defer srv.Stop()
		o.ClickHouseAddr = srv.Addr()
	}
	body := benchBody(o.BodyBytes)
	for _, n := range o.Senders {
		r, err := collectorMemoryRun(ctx, o, kc.Brokers, body, n)
		if err != nil {
			return len(body), err
		}
		report(r)
	}
	return len(body), nil
}

func collectorMemoryRun(ctx context.Context, o MemoryOptions, brokers []string, body []byte, n int) (MemoryRun, error) {
	res := MemoryRun{Senders: n}
	bin, chAddr, extra, timeout := o.Binary, o.ClickHouseAddr, o.ExtraConfig, o.Timeout
	dir, err := os.MkdirTemp("", "chainwatch-bench-collector-")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(dir)
	addr, err := freeAddr()
	if err != nil {
		return res, err
	}
	metricsAddr, err := freeAddr()
	if err != nil {
		return res, err
	}
	cfg := fmt.Sprintf("log_level: error\nkafka:\n  brokers: [%s]\nclickhouse:\n  addr: [%s]\ncollector:\n  http_addr: %s\n  grpc_addr: \"off\"\n%s\n",
		strings.Join(brokers, ", "), chAddr, addr, extra)
	path := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		return res, err
	}
	cmd := exec.CommandContext(ctx, bin, "collector", "-config", path, "-metrics-addr", metricsAddr)
	cmd.Stdout, cmd.Stderr = io.Discard, os.Stderr
	if err := cmd.Start(); err != nil {
		return res, err
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	for start := time.Now(); ; time.Sleep(100 * time.Millisecond) {
		if resp, err := http.Get("http://" + addr + "/healthz"); err == nil {
			resp.Body.Close()
			break
		}
		if time.Since(start) > 60*time.Second {
			return res, errors.New("the collector did not come up within 60 s")
		}
	}

	var (
		mu    sync.Mutex
		codes = map[string]int{}
		wg    sync.WaitGroup
	)
	client := &http.Client{Timeout: timeout}
	start := time.Now()
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			code := "error"
			if resp, err := client.Post("http://"+addr+"/v1/traces", "application/x-protobuf", bytes.NewReader(body)); err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				code = strconv.Itoa(resp.StatusCode)
			}
			mu.Lock()
			codes[code]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	res.Took = time.Since(start)
	res.PeakRSSBytes, err = peakRSS(cmd.Process.Pid)
	if err != nil {
		return res, err
	}
	var parts []string
	for c, k := range codes {
		parts = append(parts, fmt.Sprintf("%d×%s", k, c))
	}
	sort.Strings(parts)
	res.Answers = strings.Join(parts, " ")
	return res, nil
}

// peakRSS is the process's high-water resident set (VmHWM), in bytes.
func peakRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("reading peak RSS: %w", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10, err
		}
	}
	return 0, errors.New("no VmHWM in /proc status")
}

// benchBody is an OTLP request of about size bytes: 64 traces of 8 spans,
// each span carrying a share of the size as its input text.
func benchBody(size int) []byte {
	const traces, spansPer = 64, 8
	pad := strings.Repeat("x", size/(traces*spansPer)-300)
	ss := &tracepb.ScopeSpans{}
	now := uint64(time.Now().UnixNano())
	for t := 0; t < traces; t++ {
		tid := make([]byte, 16)
		binary.BigEndian.PutUint64(tid, uint64(t+1))
		binary.BigEndian.PutUint64(tid[8:], now)
		for s := 0; s < spansPer; s++ {
			sid := make([]byte, 8)
			binary.BigEndian.PutUint64(sid, uint64(t*spansPer+s+1))
			ss.Spans = append(ss.Spans, &tracepb.Span{TraceId: tid, SpanId: sid, Name: "chat",
				StartTimeUnixNano: now, EndTimeUnixNano: now + 1e6,
				Attributes: []*commonpb.KeyValue{{Key: "gen_ai.input.messages", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: pad}}}}})
		}
	}
	b, _ := proto.Marshal(&coltracepb.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{{ScopeSpans: []*tracepb.ScopeSpans{ss}}}})
	return b
}
