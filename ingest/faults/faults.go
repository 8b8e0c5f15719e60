// Package faults runs the spine as an operator does — a `chainwatch
// collector` process and several `chainwatch writer` processes against a
// broker and ClickHouse — and breaks it under load: writers are SIGKILLed
// and restarted while spans with checkable ids stream in. At the end it
// drains and checks the promise: every acknowledged span is stored, none is
// visible twice through FINAL. `chainwatch bench faults` runs the long
// variant (BENCHMARKS.md); cmd/chainwatch's tests run a short one.
package faults

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	chgo "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/chainwatch/chainwatch/ingest/collector"
	"github.com/chainwatch/chainwatch/ingest/writer"
	"github.com/chainwatch/chainwatch/kafka"
	"github.com/chainwatch/chainwatch/local/chserver"
)

// Options shape a run; zero values take the defaults in brackets.
type Options struct {
	Binary         string        // the chainwatch binary [os.Executable()]
	ClickHouseAddr string        // native host:port [a clickhouse-server child in a temp dir]
	Database       string        // [chainwatch_faults]
	Writers        int           // writer processes in the group [3]
	Spans          int           // spans sent, one per trace, ids checkable [200000]
	Rate           int           // spans per second offered [6000]
	SpansPerReq    int           // spans per OTLP request [100]
	Kills          int           // SIGKILLs of a random writer, spread over the load [20]
	Static         bool          // writers keep a fixed -metrics-addr, hence a static group identity
	DrainTimeout   time.Duration // [300s]
	Log            io.Writer     // progress and the children's output [io.Discard]
}

func (o Options) withDefaults() Options {
	if o.Database == "" {
		o.Database = "chainwatch_faults"
	}
	if o.Writers == 0 {
		o.Writers = 3
	}
	if o.Spans == 0 {
		o.Spans = 200_000
	}
	if o.Rate == 0 {
		o.Rate = 6000
	}
	if o.SpansPerReq == 0 {
		o.SpansPerReq = 100
	}
	if o.Kills == 0 {
		o.Kills = 20
	}
	if o.DrainTimeout == 0 {
		o.DrainTimeout = 300 * time.Second
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	return o
}

// Result is what a run saw.
type Result struct {
	Spans        int     `json:"spans"`
	Acked        int     `json:"acked"`          // spans in requests answered 2xx
	Refused      int     `json:"refused"`        // requests answered 503 (resent until accepted)
	Kills        int     `json:"kills"`          // writer processes SIGKILLed
	Stored       uint64  `json:"stored"`         // distinct acknowledged spans in ClickHouse
	Missing      int     `json:"missing"`        // acknowledged, not stored after the drain
	Duplicates   uint64  `json:"duplicates"`     // spans visible more than once through FINAL
	LoadSeconds  float64 `json:"load_seconds"`   // the load phase
	DrainSeconds float64 `json:"drain_seconds"`  // end of the load → every acknowledged span stored
	RowsInserted uint64  `json:"rows_inserted"`  // rows before deduplication (replays included)
	Static       bool    `json:"static_members"` // writers were static group members
}

// OK says whether the promise held.
func (r Result) OK() bool { return r.Missing == 0 && r.Duplicates == 0 && r.Acked == r.Spans }

// RunWriterKills starts a broker (in-process kfake), ClickHouse (unless
// given), one collector process and o.Writers writer processes; sends
// o.Spans spans at o.Rate while killing and restarting writers o.Kills
// times; then drains and checks.
func RunWriterKills(ctx context.Context, o Options) (Result, error) {
	o = o.withDefaults()
	res := Result{Spans: o.Spans, Static: o.Static}
	if o.Binary == "" {
		var err error
		if o.Binary, err = os.Executable(); err != nil {
			return res, err
		}
	}
	broker, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.DefaultNumPartitions(kafka.DefaultPartitions))
	if err != nil {
		return res, fmt.Errorf("starting kfake: %w", err)
	}
	defer broker.Close()
	brokers := broker.ListenAddrs()
	chAddr := o.ClickHouseAddr
	if chAddr == "" {
		fmt.Fprintln(o.Log, "starting clickhouse-server …")
		s, err := chserver.Start(ctx, chserver.Config{})
		if err != nil {
			return res, err
		}
		defer s.Stop()
		chAddr = s.Addr()
	}
	conn, err := chgo.Open(&chgo.Options{Addr: []string{chAddr}})
	if err != nil {
		return res, err
	}
	defer conn.Close()
	if err := conn.Exec(ctx, "CREATE DATABASE IF NOT EXISTS "+o.Database); err != nil {
		return res, fmt.Errorf("creating database %s: %w", o.Database, err)
	}
	kc := kafka.Config{Brokers: brokers}.WithDefaults()
	admCl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		return res, err
	}
	defer admCl.Close()
	adm := kadm.NewClient(admCl)
	if err := kafka.EnsureTopics(ctx, kc); err != nil {
		return res, err
	}
	httpAddr, err := freeAddr()
	if err != nil {
		return res, err
	}
	env := append(os.Environ(), "CHAINWATCH_KAFKA_BROKERS="+brokers[0], "CHAINWATCH_CLICKHOUSE_ADDR="+chAddr,
		"CHAINWATCH_CLICKHOUSE_DATABASE="+o.Database, "CHAINWATCH_LOG_LEVEL=warn",
		"CHAINWATCH_COLLECTOR_HTTP_ADDR="+httpAddr, "CHAINWATCH_COLLECTOR_GRPC_ADDR=off")
	var procs sync.WaitGroup
	start := func(name string, extraEnv []string, args ...string) (*exec.Cmd, error) {
		cmd := exec.Command(o.Binary, args...)
		cmd.Env = append(append([]string(nil), env...), extraEnv...)
		cmd.Stdout, cmd.Stderr = prefixed(o.Log, name), prefixed(o.Log, name)
		if err := cmd.Start(); err != nil {
			return nil, fmt.Errorf("starting %s: %w", name, err)
		}
		procs.Add(1)
		go func() { defer procs.Done(); cmd.Wait() }()
		return cmd, nil
	}
	stopAll := func(cmds ...*exec.Cmd) {
		for _, c := range cmds {
			if c != nil && c.Process != nil {
				c.Process.Signal(syscall.SIGTERM)
			}
		}
	}
	coll, err := start("collector", nil, "collector")
	if err != nil {
		return res, err
	}
	// Static: each writer keeps its -metrics-addr across restarts, so it
	// keeps the group identity `chainwatch writer` derives from it. Dynamic:
	// port 0, no identity.
	metricsAddrs := make([]string, o.Writers)
	for i := range metricsAddrs {
		metricsAddrs[i] = "127.0.0.1:0"
		if o.Static {
			if metricsAddrs[i], err = freeAddr(); err != nil {
				return res, err
			}
		}
	}
	writers := make([]*exec.Cmd, o.Writers)
	var wmu sync.Mutex
	startWriter := func(i int) error {
		c, err := start(fmt.Sprintf("writer-%d", i), nil, "writer", "-metrics-addr", metricsAddrs[i])
		if err != nil {
			return err
		}
		wmu.Lock()
		writers[i] = c
		wmu.Unlock()
		return nil
	}
	defer func() {
		wmu.Lock()
		stopAll(append(writers, coll)...)
		wmu.Unlock()
		done := make(chan struct{})
		go func() { procs.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			wmu.Lock()
			for _, c := range append(writers, coll) {
				if c != nil {
					c.Process.Kill()
				}
			}
			wmu.Unlock()
			<-done
		}
	}()
	for i := range writers {
		if err := startWriter(i); err != nil {
			return res, err
		}
	}
	if err := waitHTTP(ctx, "http://"+httpAddr+"/healthz", 60*time.Second); err != nil {
		return res, fmt.Errorf("collector not up: %w", err)
	}

	nonce := rand.Uint64() | 1
	service := fmt.Sprintf("faults-%x", nonce)
	acked := make([]atomic.Bool, o.Spans)
	var nAcked, nRefused atomic.Int64
	loadStart := time.Now()
	loadDur := time.Duration(float64(o.Spans) / float64(o.Rate) * float64(time.Second))
	fmt.Fprintf(o.Log, "load: %d spans at %d/s (%v), %d writers, %d kills, static membership %v\n", o.Spans, o.Rate, loadDur.Round(time.Second), o.Writers, o.Kills, o.Static)

	// The killer: o.Kills times, evenly over the load, SIGKILL a random
	// writer and start it again at once (a crash-looping pod).
	killDone := make(chan error, 1)
	killDone2 := make(chan struct{}) // closed when the load ends: stops the progress lines
	go func() {
		rng := rand.New(rand.NewPCG(nonce, 7))
		every := loadDur / time.Duration(o.Kills+1)
		for k := 0; k < o.Kills; k++ {
			select {
			case <-ctx.Done():
				killDone <- ctx.Err()
				return
			case <-time.After(every):
			}
			i := rng.IntN(o.Writers)
			wmu.Lock()
			w := writers[i]
			wmu.Unlock()
			w.Process.Signal(syscall.SIGKILL)
			res.Kills++
			if err := startWriter(i); err != nil {
				killDone <- err
				return
			}
		}
		killDone <- nil
	}()

	// The senders: requests of SpansPerReq one-span traces, paced to Rate;
	// a 503 is resent after its Retry-After, as OTLP exporters do.
	reqs := make(chan int)
	var senders sync.WaitGroup
	var sendErr atomic.Pointer[error]
	client := &http.Client{Timeout: 60 * time.Second}
	for s := 0; s < 8; s++ {
		senders.Add(1)
		go func() {
			defer senders.Done()
			for first := range reqs {
				n := min(o.SpansPerReq, o.Spans-first)
				body, _ := proto.Marshal(request(service, nonce, first, n))
				for {
					resp, err := client.Post("http://"+httpAddr+"/v1/traces", "application/x-protobuf", bytes.NewReader(body))
					if err == nil {
						io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
						if resp.StatusCode == http.StatusOK {
							for i := first; i < first+n; i++ {
								acked[i].Store(true)
							}
							nAcked.Add(int64(n))
							break
						}
						if resp.StatusCode != http.StatusServiceUnavailable {
							e := fmt.Errorf("collector answered %d", resp.StatusCode)
							sendErr.Store(&e)
							break
						}
						nRefused.Add(1)
					}
					if ctx.Err() != nil {
						return
					}
					time.Sleep(time.Duration(collector.DefaultRetryAfterSeconds) * time.Second)
				}
			}
		}()
	}
	go func() { // progress during the load
		for {
			select {
			case <-ctx.Done():
				return
			case <-killDone2:
				return
			case <-time.After(5 * time.Second):
			}
			var stored uint64
			conn.QueryRow(ctx, fmt.Sprintf("SELECT uniqExact(trace_id) FROM %s.spans WHERE app = ?", o.Database), service).Scan(&stored)
			fmt.Fprintf(o.Log, "  load %5.1fs: %d acknowledged, %d stored, %d kills; writer group %s\n", time.Since(loadStart).Seconds(), nAcked.Load(), stored, res.Kills, groupState(ctx, adm))
		}
	}()
	interval := time.Duration(float64(o.SpansPerReq) / float64(o.Rate) * float64(time.Second))
	next := time.Now()
	for first := 0; first < o.Spans; first += o.SpansPerReq {
		if d := time.Until(next); d > 0 {
			time.Sleep(d)
		}
		next = next.Add(interval)
		select {
		case reqs <- first:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
	}
	close(reqs)
	senders.Wait()
	close(killDone2)
	if err := <-killDone; err != nil {
		return res, err
	}
	res.LoadSeconds = time.Since(loadStart).Seconds()
	res.Acked, res.Refused = int(nAcked.Load()), int(nRefused.Load())
	if e := sendErr.Load(); e != nil {
		return res, *e
	}
	fmt.Fprintf(o.Log, "load done in %.1fs: %d acknowledged, %d requests refused (resent); %d kills. draining …\n", res.LoadSeconds, res.Acked, res.Refused, res.Kills)

	drainStart := time.Now()
	deadline := drainStart.Add(o.DrainTimeout)
	lastProgress := drainStart
	for {
		if err := conn.QueryRow(ctx, fmt.Sprintf("SELECT uniqExact(trace_id), count() FROM %s.spans WHERE app = ?", o.Database), service).Scan(&res.Stored, &res.RowsInserted); err != nil {
			return res, fmt.Errorf("counting stored spans: %w", err)
		}
		if int(res.Stored) >= res.Acked || time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
		if time.Since(lastProgress) >= 5*time.Second {
			lastProgress = time.Now()
			fmt.Fprintf(o.Log, "  drain %5.1fs: %d of %d stored; writer group %s\n", time.Since(drainStart).Seconds(), res.Stored, res.Acked, groupState(ctx, adm))
		}
		time.Sleep(250 * time.Millisecond)
	}
	res.DrainSeconds = time.Since(drainStart).Seconds()
	stored := make([]bool, o.Spans)
	rows, err := conn.Query(ctx, fmt.Sprintf("SELECT DISTINCT trace_id FROM %s.spans WHERE app = ?", o.Database), service)
	if err != nil {
		return res, err
	}
	for rows.Next() {
		var tid string
		if err := rows.Scan(&tid); err != nil {
			rows.Close()
			return res, err
		}
		if i, ok := traceIndex(tid, nonce); ok && i < o.Spans {
			stored[i] = true
		}
	}
	rows.Close()
	for i := range acked {
		if acked[i].Load() && !stored[i] {
			res.Missing++
		}
	}
	if err := conn.QueryRow(ctx, fmt.Sprintf("SELECT count() FROM (SELECT trace_id, span_id FROM %s.spans FINAL WHERE app = ? GROUP BY trace_id, span_id HAVING count() > 1)", o.Database), service).Scan(&res.Duplicates); err != nil {
		return res, fmt.Errorf("counting duplicates: %w", err)
	}
	fmt.Fprintf(o.Log, "drained in %.1fs: %d stored (%d rows before deduplication), %d missing, %d visible twice through FINAL\n",
		res.DrainSeconds, res.Stored, res.RowsInserted, res.Missing, res.Duplicates)
	return res, nil
}

// request builds n one-span traces with ids nonce:first … nonce:first+n-1.
func request(service string, nonce uint64, first, n int) *coltracepb.ExportTraceServiceRequest {
	sv := func(k, v string) *commonpb.KeyValue {
		return &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: v}}}
	}
	ss := &tracepb.ScopeSpans{}
	now := time.Now()
	for i := first; i < first+n; i++ {
		tid, sid := make([]byte, 16), make([]byte, 8)
		binary.BigEndian.PutUint64(tid, nonce)
		binary.BigEndian.PutUint64(tid[8:], uint64(i))
		binary.BigEndian.PutUint64(sid, uint64(i)+1)
		ss.Spans = append(ss.Spans, &tracepb.Span{TraceId: tid, SpanId: sid, Name: "chat",
			StartTimeUnixNano: uint64(now.UnixNano()), EndTimeUnixNano: uint64(now.Add(time.Second).UnixNano()),
			Attributes: []*commonpb.KeyValue{sv("gen_ai.operation.name", "chat"), sv("gen_ai.request.model", "fault-model"),
				sv("gen_ai.prompt.0.content", fmt.Sprintf("question %d", i)), sv("gen_ai.completion.0.content", fmt.Sprintf("answer %d", i))}})
	}
	return &coltracepb.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{{
		Resource:   &resourcepb.Resource{Attributes: []*commonpb.KeyValue{sv("service.name", service)}},
		ScopeSpans: []*tracepb.ScopeSpans{ss},
	}}}
}

func traceIndex(tid string, nonce uint64) (int, bool) {
	b, err := hex.DecodeString(tid)
	if err != nil || len(b) != 16 || binary.BigEndian.Uint64(b) != nonce {
		return 0, false
	}
	return int(binary.BigEndian.Uint64(b[8:])), true
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("finding a free loopback port: %w", err)
	}
	defer l.Close()
	return l.Addr().String(), nil
}

func waitHTTP(ctx context.Context, url string, d time.Duration) error {
	deadline := time.Now().Add(d)
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			if err == nil {
				err = errors.New("not 200")
			}
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// prefixed writes each line of a child's output to w behind its name.
func prefixed(w io.Writer, name string) io.Writer {
	if w == io.Discard {
		return io.Discard
	}
	pr, pw := io.Pipe()
	go func() {
		buf := make([]byte, 0, 4096)
		tmp := make([]byte, 4096)
		for {
			n, err := pr.Read(tmp)
			buf = append(buf, tmp[:n]...)
			for {
				i := bytes.IndexByte(buf, '\n')
				if i < 0 {
					break
				}
				fmt.Fprintf(w, "[%s] %s\n", name, buf[:i])
				buf = buf[i+1:]
			}
			if err != nil {
				return
			}
		}
	}()
	return pw
}

// groupState describes the writer group: its state and members with
// partitions, for the progress lines.
func groupState(ctx context.Context, adm *kadm.Client) string {
	cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	gs, err := adm.DescribeGroups(cctx, writer.DefaultGroup)
	if err != nil {
		return "unknown (" + err.Error() + ")"
	}
	g := gs[writer.DefaultGroup]
	assigned := 0
	for _, m := range g.Members {
		if a, ok := m.Assigned.AsConsumer(); ok && len(a.Topics) > 0 {
			assigned++
		}
	}
	return fmt.Sprintf("%s, %d members, %d with partitions", g.State, len(g.Members), assigned)
}
