package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/chainwatch/chainwatch/kafka"
	"github.com/chainwatch/chainwatch/local/chserver"
)

// runBenchCollector is `chainwatch bench collector`: the peak RSS of a real
// `chainwatch collector` process while N senders each POST one large
// OTLP/HTTP protobuf body and the broker is frozen (it accepts connections
// and metadata requests but never answers a produce request). With
// admission (collector.max_inflight_bytes) the peak should stay flat in N;
// without it, it grows with N.
func runBenchCollector(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("bench collector", flag.ContinueOnError)
	bin := fs.String("bin", "", "the chainwatch binary to measure (default: this one)")
	sendersFlag := fs.String("senders", "16,48,96", "concurrent senders, one run each")
	bodyMiB := fs.Int("body-mib", 15, "body size of each request, MiB")
	chAddr := fs.String("clickhouse", "", "ClickHouse native address the collector checks at start (default: start a local clickhouse-server)")
	timeout := fs.Duration("timeout", 30*time.Second, "how long a sender waits for its answer (a collector without a produce deadline never answers while the broker is frozen)")
	extra := fs.String("config", "", "extra YAML appended to the collector's config (e.g. collector:\\n  max_inflight_bytes: ...)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *bin == "" {
		exe, err := os.Executable()
		if err != nil {
			return err
		}
		*bin = exe
	}
	var senders []int
	for _, s := range strings.Split(*sendersFlag, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n <= 0 {
			return fmt.Errorf("-senders: %q is not a positive number", s)
		}
		senders = append(senders, n)
	}

	// The frozen broker.
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.BrokerConfigs(map[string]string{"message.max.bytes": fmt.Sprint(kafka.DefaultMaxRecordBytes + 4096)}))
	if err != nil {
		return err
	}
	defer cluster.Close()
	thaw := make(chan struct{})
	defer close(thaw)
	cluster.ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
		cluster.KeepControl()
		cluster.SleepControl(func() { <-thaw })
		return nil, nil, false
	})
	if err := kafka.EnsureTopics(ctx, kafka.Config{Brokers: cluster.ListenAddrs()}); err != nil {
		return err
	}

	if *chAddr == "" {
		srv, err := chserver.Start(ctx, chserver.Config{TCPPort: freePort(), HTTPPort: freePort()})
		if err != nil {
			return fmt.Errorf("starting clickhouse (or pass -clickhouse): %w", err)
		}
		defer srv.Stop()
		*chAddr = srv.Addr()
	}

	body := benchBody(*bodyMiB << 20)
	fmt.Printf("collector peak RSS, broker frozen, each sender POSTs one %.1f MiB OTLP/HTTP protobuf body\nbinary %s, %s\n\n",
		float64(len(body))/(1<<20), *bin, time.Now().UTC().Format(time.RFC3339))
	fmt.Printf("%8s %14s %10s  %s\n", "senders", "peak RSS MiB", "seconds", "answers")
	for _, n := range senders {
		r, err := benchCollectorRun(ctx, *bin, cluster.ListenAddrs(), *chAddr, *extra, body, n, *timeout)
		if err != nil {
			return err
		}
		fmt.Printf("%8d %14.0f %10.1f  %s\n", n, float64(r.peakRSS)/(1<<20), r.took.Seconds(), r.answers)
	}
	return nil
}

type benchCollectorResult struct {
	peakRSS int64
	took    time.Duration
	answers string
}

func benchCollectorRun(ctx context.Context, bin string, brokers []string, chAddr, extra string, body []byte, n int, timeout time.Duration) (benchCollectorResult, error) {
	var res benchCollectorResult
	dir, err := os.MkdirTemp("", "chainwatch-bench-collector-")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(dir)
	addr := fmt.Sprintf("127.0.0.1:%d", freePort())
	cfg := fmt.Sprintf("log_level: error\nkafka:\n  brokers: [%s]\nclickhouse:\n  addr: [%s]\ncollector:\n  http_addr: %s\n  grpc_addr: \"off\"\n%s\n",
		strings.Join(brokers, ", "), chAddr, addr, extra)
	path := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		return res, err
	}
	cmd := exec.CommandContext(ctx, bin, "collector", "-config", path, "-metrics-addr", fmt.Sprintf("127.0.0.1:%d", freePort()))
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
	res.took = time.Since(start)
	res.peakRSS, err = peakRSS(cmd.Process.Pid)
	if err != nil {
		return res, err
	}
	var parts []string
	for c, k := range codes {
		parts = append(parts, fmt.Sprintf("%d×%s", k, c))
	}
	sort.Strings(parts)
	res.answers = strings.Join(parts, " ")
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

func freePort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
