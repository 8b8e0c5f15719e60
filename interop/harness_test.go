// Package interop holds chainwatch's interop tests: real senders that
// nobody here wrote — the OpenTelemetry Go SDK, a real OpenTelemetry
// Collector built from the Collector's own Go modules (interop/otelcol, its
// own Go module), and real Node.js GenAI instrumentations from npm
// (interop/node) — into the whole pipeline (collector, kfake, writer,
// ClickHouse 18.16), asserting what lands in the spans table.
//
// The tests build the Collector (a few minutes the first time, then Go's
// build cache) and install the Node project (npm ci) themselves. Set
// CHAINWATCH_SKIP_INTEROP=1 to skip them for local speed; under CI (CI set)
// that variable fails the run instead, so CI never skips them.
package interop

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/chainwatch/chainwatch/clickhouse/chtest"
	"github.com/chainwatch/chainwatch/ingest/pipeline"
	"github.com/chainwatch/chainwatch/query"
)

// EnvSkip skips the interop tests outside CI.
const EnvSkip = "CHAINWATCH_SKIP_INTEROP"

func TestMain(m *testing.M) {
	code := chtest.Main(m)
	if otelcolBin != "" {
		os.RemoveAll(filepath.Dir(otelcolBin))
	}
	os.Exit(code)
}

// needInterop skips the test when EnvSkip is set, except under CI, where
// it fails: the interop tests are never skipped there.
func needInterop(t *testing.T) {
	t.Helper()
	if os.Getenv(EnvSkip) == "" {
		return
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s is set under CI: the interop tests are never skipped in CI", EnvSkip)
	}
	t.Skipf("%s is set", EnvSkip)
}

// startPipeline runs chainwatch's pipeline: kfake, a fresh database on the
// test ClickHouse, writer, collector with OTLP/HTTP and OTLP/gRPC on
// loopback. edit adjusts the options (the partitioner).
func startPipeline(t *testing.T, edit func(*pipeline.Options)) *pipeline.Pipeline {
	t.Helper()
	var o pipeline.Options
	addr, db := chtest.Database(t)
	o.ClickHouse.Addr, o.ClickHouse.Database = []string{addr}, db
	o.Collector.HTTPAddr, o.Collector.GRPCAddr = "127.0.0.1:0", "127.0.0.1:0"
	o.Writer.Batch.MaxWait = 200 * time.Millisecond
	o.Writer.Retry.Initial, o.Writer.Retry.Max = 50*time.Millisecond, 500*time.Millisecond
	o.Kafka.Partitions = 6
	if edit != nil {
		edit(&o)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	p, err := pipeline.Start(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		p.Shutdown(sctx)
	})
	return p
}

// waitSpans polls until the spans table holds want rows of app (through
// FINAL) or fails after d.
func waitSpans(t *testing.T, conn driver.Conn, app string, want uint64, d time.Duration, onFail func()) {
	t.Helper()
	deadline := time.Now().Add(d)
	var got uint64
	for {
		if err := conn.QueryRow(context.Background(), "SELECT count() FROM spans FINAL WHERE app = ?", app).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got == want {
			return
		}
		if got > want || time.Now().After(deadline) {
			if onFail != nil {
				onFail()
			}
			t.Fatalf("spans of app %q: %d stored, want %d (after %s)", app, got, want, d)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// waitLogs polls until the logs table holds want records of app (through
// FINAL) or fails after d.
func waitLogs(t *testing.T, conn driver.Conn, app string, want uint64, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	var got uint64
	for {
		if err := conn.QueryRow(context.Background(), "SELECT count() FROM logs FINAL WHERE app = ?", app).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got == want {
			return
		}
		if got > want || time.Now().After(deadline) {
			t.Fatalf("log records of app %q: %d stored, want %d (after %s)", app, got, want, d)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// row is what the tests read back of one stored span.
type row struct {
	TraceID, SpanID, Name, Operation, Provider string
	ComponentKind                              string
	ModelRequested, ModelReturned              string
	InputText, OutputText                      string // the span's own columns
	MergedInput, MergedOutput                  string // as every reader sees them: own, else its GenAI log events' (query.LogTexts)
	SystemInstructions, ToolDefinitions        string
	InputTokens, OutputTokens                  int64
	Stream                                     bool
	Attrs                                      map[string]string
}

func (r row) String() string {
	return fmt.Sprintf("span %s %q kind=%q op=%q provider=%q model=%q→%q tokens=%d/%d stream=%v\n  input:  %q (merged %q)\n  output: %q (merged %q)\n  system: %q\n  tools:  %q\n  attrs:  %v",
		r.SpanID, r.Name, r.ComponentKind, r.Operation, r.Provider, r.ModelRequested, r.ModelReturned, r.InputTokens, r.OutputTokens, r.Stream,
		r.InputText, r.MergedInput, r.OutputText, r.MergedOutput, r.SystemInstructions, r.ToolDefinitions, r.Attrs)
}

// spans reads every stored span of app through FINAL, with its texts as
// every reader sees them (the span's own, else what its GenAI events sent
// as OTLP log records add: query.LogTexts, the merged view's rule).
func spans(t *testing.T, conn driver.Conn, app string) []row {
	t.Helper()
	rows, err := conn.Query(context.Background(), `SELECT trace_id, span_id, name, operation, provider, component_kind, model_requested, model_returned,
		input_text, output_text, system_instructions, tool_definitions, toInt64(input_tokens), toInt64(output_tokens), stream, attr_keys, attr_values
		FROM spans FINAL WHERE app = ? ORDER BY start_time, span_id`, app)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []row
	for rows.Next() {
		var r row
		var keys, vals []string
		var stream uint8
		if err := rows.Scan(&r.TraceID, &r.SpanID, &r.Name, &r.Operation, &r.Provider, &r.ComponentKind, &r.ModelRequested, &r.ModelReturned,
			&r.InputText, &r.OutputText, &r.SystemInstructions, &r.ToolDefinitions, &r.InputTokens, &r.OutputTokens, &stream, &keys, &vals); err != nil {
			t.Fatal(err)
		}
		r.Stream = stream != 0
		r.Attrs = make(map[string]string, len(keys))
		for i, k := range keys {
			r.Attrs[k] = vals[i]
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	traceIDs, spanIDs := make([]string, len(out)), make([]string, len(out))
	for i, r := range out {
		traceIDs[i], spanIDs[i] = r.TraceID, r.SpanID
	}
	in, o, err := query.NewReader(conn).LogTexts(context.Background(), traceIDs, spanIDs)
	if err != nil {
		t.Fatal(err)
	}
	for i := range out {
		out[i].MergedInput, out[i].MergedOutput = out[i].InputText, out[i].OutputText
		if out[i].MergedInput == "" {
			out[i].MergedInput = in[i]
		}
		if out[i].MergedOutput == "" {
			out[i].MergedOutput = o[i]
		}
	}
	return out
}

// request is one request a recorder passed on.
type request struct {
	Path, ContentType, ContentEncoding string
	Status                             int
	Body                               []byte // as sent (still compressed); only where the recorder keeps bodies
}

// recorder is a reverse proxy in front of chainwatch's OTLP/HTTP endpoint
// that remembers each request's path, headers, answer status and (when
// keepBodies) body.
type recorder struct {
	URL        string
	keepBodies bool
	mu         sync.Mutex
	reqs       []request
}

func newRecorder(t *testing.T, target string, keepBodies bool) *recorder {
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{keepBodies: keepBodies}
	proxy := httputil.NewSingleHostReverseProxy(u)
	proxy.ModifyResponse = func(resp *http.Response) error {
		r := resp.Request
		q := request{Path: r.URL.Path, ContentType: r.Header.Get("Content-Type"), ContentEncoding: r.Header.Get("Content-Encoding"), Status: resp.StatusCode}
		if b, ok := r.Context().Value(bodyKey{}).([]byte); ok {
			q.Body = b
		}
		rec.mu.Lock()
		rec.reqs = append(rec.reqs, q)
		rec.mu.Unlock()
		return nil
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rec.keepBodies {
			b, err := io.ReadAll(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(b))
			r = r.WithContext(context.WithValue(r.Context(), bodyKey{}, b))
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	rec.URL = srv.URL
	return rec
}

type bodyKey struct{}

func (r *recorder) requests() []request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]request(nil), r.reqs...)
}

// freeAddr is a loopback address with a port that was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// waitListening waits until something accepts TCP connections on addr,
// giving up early when p exits.
func waitListening(p *process, addr string, d time.Duration) error {
	deadline := time.Now().Add(d)
	for {
		select {
		case <-p.done:
			return fmt.Errorf("it exited: %v", p.cmd.ProcessState)
		default:
		}
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("nothing listens on %s after %s: %w", addr, d, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// process is a child process whose output is kept for the test log.
type process struct {
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan struct{} // closed when it has exited
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// start runs name with args, stopped (SIGTERM, then killed after 10 s) in
// t.Cleanup.
func start(t *testing.T, name string, args ...string) *process {
	t.Helper()
	p := &process{cmd: exec.Command(name, args...), out: &syncBuffer{}, done: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	done := p.done
	go func() { p.cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			p.cmd.Process.Kill()
			<-done
		}
	})
	return p
}

// repoDir is the interop directory (the package's, where go test runs).
func repoDir(t *testing.T, rel string) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(wd, rel)
}

// tail is the last n bytes of s, for logs.
func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

// httpPost posts body and returns the answer's status.
func httpPost(url, contentType string, body []byte) (int, error) {
	resp, err := http.Post(url, contentType, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

func indent(s string) string { return "\t" + strings.ReplaceAll(s, "\n", "\n\t") }
