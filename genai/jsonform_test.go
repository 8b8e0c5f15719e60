// The chainwatch JSON form: round trips through ToOTLP and AppendSpans,
// normalization, errors, the OTLP shape.

package genai

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"

	"github.com/chainwatch/chainwatch/schemas"
)

func fullSpan(i int, app string) schemas.Span {
	start := time.Date(2025, 10, 9, 8, 53, 20, 123456789+i, time.UTC)
	return schemas.Span{
		TraceID:               "0af7651916cd43dd8448eb211c80319c",
		SpanID:                fmt.Sprintf("b7ad6b71692033%02x", i),
		ParentSpanID:          "00f067aa0ba902b7",
		Name:                  "chat gpt-4o",
		StartTime:             start,
		EndTime:               start.Add(1234567 * time.Microsecond),
		App:                   app,
		Environment:           "prod",
		ChainName:             "support",
		ChainVersion:          "v12",
		ComponentName:         "answerer",
		ComponentKind:         schemas.KindLLM,
		PromptTemplateID:      "support-answer",
		PromptTemplateVersion: "3",
		Operation:             "chat",
		Provider:              "openai",
		ModelRequested:        "gpt-4o",
		ModelReturned:         "gpt-4o-2024-08-06",
		InputText:             "Where is my \"order\"?\nIt's late — très late 😀\t\\ ",
		OutputText:            "Sorry!\n\nIt ships tomorrow.",
		InputTokens:           187,
		OutputTokens:          64,
		Status:                schemas.StatusError,
		ErrorMessage:          "content filter",
		SessionID:             "sess-1",
		UserID:                "u-9",
		Attributes: map[string]string{
			"customer.tier": "gold",
			"retries":       "2",
			"tags":          `["a","b"]`,
			"note":          "line1\nline2 \"quoted\"",
			"empty":         "",
		},
	}
}

func batchJSON(t *testing.T, spans ...schemas.Span) string {
	t.Helper()
	b, err := json.Marshal(JSONBatch{Spans: spans})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// bySpanID indexes spans; ToOTLP groups spans by resource, so a round trip
// keeps the spans but not necessarily their order.
func bySpanID(spans []schemas.Span) map[string]schemas.Span {
	m := make(map[string]schemas.Span, len(spans))
	for _, s := range spans {
		m[s.SpanID] = s
	}
	return m
}

func roundTrip(t *testing.T, b *JSONBatch) []schemas.Span {
	t.Helper()
	got, err := AppendSpans(nil, b.ToOTLP())
	if err != nil {
		t.Fatalf("AppendSpans(ToOTLP): %v", err)
	}
	return got
}

func diffSpans(t *testing.T, got, want []schemas.Span) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d spans, want %d", len(got), len(want))
	}
	g, w := bySpanID(got), bySpanID(want)
	for id, ws := range w {
		gs, ok := g[id]
		if !ok {
			t.Errorf("span %s missing", id)
			continue
		}
		if !reflect.DeepEqual(gs, ws) {
			gj, _ := json.MarshalIndent(gs, "", " ")
			wj, _ := json.MarshalIndent(ws, "", " ")
			t.Errorf("span %s differs\n got: %s\nwant: %s", id, gj, wj)
		}
	}
}

func TestJSONBatchRoundTrip(t *testing.T) {
	spans := []schemas.Span{fullSpan(1, "support-bot"), fullSpan(2, "other-app"), fullSpan(3, "support-bot")}
	spans[1].ParentSpanID = ""
	spans[1].Status, spans[1].ErrorMessage = schemas.StatusOK, ""
	spans[2].Attributes = nil
	spans[2].Environment = ""

	b, err := DecodeJSONBatch(strings.NewReader(batchJSON(t, spans...)))
	if err != nil {
		t.Fatal(err)
	}
	// These spans are already in stored form: decoding changes nothing.
	if !reflect.DeepEqual(b.Spans, spans) {
		diffSpans(t, b.Spans, spans)
	}

	req := b.ToOTLP()
	if n := len(req.ResourceSpans); n != 3 {
		t.Errorf("%d resource spans, want one per (app, environment): 3", n)
	}
	if got := anyString(pbVal(req.ResourceSpans[0].Resource.Attributes[0].Value)); got != "support-bot" {
		t.Errorf("first resource's service.name = %q", got)
	}
	if err := ValidateOTLP(req); err != nil {
		t.Fatal(err)
	}
	diffSpans(t, roundTrip(t, b), b.Spans)
}

// TestJSONBatchRoundTripProperty checks, over random batches, that what
// DecodeJSONBatch returns is exactly what AppendSpans(ToOTLP(…)) stores,
// attributes included, also when attributes carry mapped keys.
func TestJSONBatchRoundTripProperty(t *testing.T) {
	mappedKeys := []string{
		"session.id", "user.id", "gen_ai.prompt.0.content", "gen_ai.prompt.0.role", "llm.model_name",
		"traceloop.span.kind", "traceloop.entity.version", "openinference.span.kind", "input.value",
		"gen_ai.input.messages", "gen_ai.output.messages", "gen_ai.usage.input_tokens", "service.name",
		schemas.AttrApp, schemas.AttrComponentKind, schemas.AttrChainName, schemas.AttrMappingWarning, "gen_ai.tool.name", "event.x",
		"gen_ai.operation.name", "llm.request.type", "error.type", "gen_ai.response.finish_reasons",
		"gen_ai.agent.name", "deployment.environment.name", "deployment.environment", "traceloop.workflow.name",
		"gen_ai.system", "gen_ai.usage.prompt_tokens", "llm.prompt_template.template", "llm.prompt_template.version",
		"traceloop.prompt.key", "gen_ai.conversation.id", "output.value", "gen_ai.completion.0.content",
		"llm.input_messages.0.message.content", "llm.input_messages.0.message.role", schemas.AttrEnvironment, schemas.AttrInputSystem,
		schemas.AttrInputParts, "otel.scope.name", "traceloop.entity.input", "gen_ai.prompt", "enduser.id",
	}
	values := []string{"", "x", "system", "workflow", "TOOL", "chat", "embedding", "7", "-3", "planner",
		`[{"role":"system","parts":[{"type":"text","content":"s"}]},{"role":"user","parts":[{"type":"text","content":"u"}]}]`,
		`[{"role":"user","content":"broken`, "line\nbreak \"q\" \\ é 😀 \x01"}
	n := uint64(1000)
	if s := os.Getenv("CHAINWATCH_PROPERTY_SEEDS"); s != "" {
		n, _ = strconv.ParseUint(s, 10, 64)
	}
	for seed := uint64(0); seed < n; seed++ {
		r := rand.New(rand.NewPCG(seed, 42))
		pick := func(vs []string) string { return vs[r.IntN(len(vs))] }
		text := func() string {
			if r.IntN(3) == 0 {
				return ""
			}
			return pick(values) + pick(values)
		}
		var spans []schemas.Span
		for i := 0; i < 1+r.IntN(4); i++ {
			start := time.Unix(1_700_000_000+int64(r.IntN(1e6)), int64(r.IntN(1e9))).In(time.FixedZone("x", 3600*r.IntN(3)))
			s := schemas.Span{
				TraceID:   fmt.Sprintf("%016x%016x", r.Uint64()|1, r.Uint64()),
				SpanID:    fmt.Sprintf("%016x", r.Uint64()|1),
				Name:      text(),
				StartTime: start, EndTime: start.Add(time.Duration(r.IntN(1e9))),
				App: pick([]string{"", "a", "b"}), Environment: pick([]string{"", "prod"}),
				ChainName: text(), ChainVersion: text(), ComponentName: text(),
				ComponentKind:    schemas.ComponentKind(pick([]string{"", "llm", "tool", "chain", "weird"})),
				PromptTemplateID: text(), PromptTemplateVersion: text(),
				Operation: pick([]string{"", "chat", "embeddings", "execute_tool", "other"}),
				Provider:  text(), ModelRequested: text(), ModelReturned: text(),
				InputText: text(), OutputText: text(),
				InputTokens: int64(r.IntN(3) * r.IntN(1000)), OutputTokens: int64(r.IntN(2) * r.IntN(1000)),
				Status: pick([]string{"", "unset", "OK", "error"}), ErrorMessage: text(),
				SessionID: text(), UserID: text(),
			}
			if r.IntN(2) == 0 {
				s.ParentSpanID = fmt.Sprintf("%016x", r.Uint64())
			}
			if k := r.IntN(6); k > 0 {
				s.Attributes = map[string]string{}
				for j := 0; j < k; j++ {
					key := pick(mappedKeys)
					if r.IntN(2) == 0 {
						key = fmt.Sprintf("custom.%d", r.IntN(5))
					}
					s.Attributes[key] = pick(values)
				}
			}
			spans = append(spans, s)
		}
		b, err := DecodeJSONBatch(strings.NewReader(batchJSON(t, spans...)))
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		diffSpans(t, roundTrip(t, b), b.Spans)
		if t.Failed() {
			t.Fatalf("seed %d: input %s", seed, batchJSON(t, spans...))
		}
	}
}

func TestDecodeJSONBatchNormalizes(t *testing.T) {
	in := `{"spans":[{
		"trace_id":"0AF7651916CD43DD8448EB211C80319C","span_id":"B7AD6B7169203331",
		"parent_span_id":"0000000000000000",
		"name":"embed docs","start_time":"2025-10-09T10:53:20.5+02:00","end_time":"2025-10-09T10:53:21+02:00",
		"operation":"embeddings","status":"OK","input_tokens":12,
		"attributes":{"n":3,"f":1.5,"b":true,"nil":null,"obj":{"k": [1, "two"]},"session.id":"s-7"}}], "also_unknown": 1}`
	b, err := DecodeJSONBatch(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	s := b.Spans[0]
	want := schemas.Span{
		TraceID: "0af7651916cd43dd8448eb211c80319c", SpanID: "b7ad6b7169203331", Name: "embed docs",
		StartTime: time.Date(2025, 10, 9, 8, 53, 20, 5e8, time.UTC), EndTime: time.Date(2025, 10, 9, 8, 53, 21, 0, time.UTC),
		ComponentName: "embed docs", ComponentKind: schemas.KindEmbedding, Operation: "embeddings", Status: schemas.StatusOK,
		InputTokens: 12, SessionID: "s-7",
		Attributes: map[string]string{"n": "3", "f": "1.5", "b": "true", "nil": "", "obj": `{"k":[1,"two"]}`},
	}
	if !reflect.DeepEqual(s, want) {
		diffSpans(t, []schemas.Span{s}, []schemas.Span{want})
	}
}

func TestDecodeJSONBatchErrors(t *testing.T) {
	good := func(mod string) string {
		base := `"trace_id":"0af7651916cd43dd8448eb211c80319c","span_id":"b7ad6b7169203331",` +
			`"start_time":"2025-10-09T08:53:20Z","end_time":"2025-10-09T08:53:21Z"`
		if mod != "" {
			base += "," + mod
		}
		return "{" + base + "}"
	}
	batch := func(spans ...string) string { return `{"spans":[` + strings.Join(spans, ",") + `]}` }
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"not JSON", `{"spans":[`, "decoding chainwatch JSON batch: unexpected EOF"},
		{"not an object", `[1]`, "decoding chainwatch JSON batch: json: cannot unmarshal array into Go value of type struct { Spans []json.RawMessage \"json:\\\"spans\\\"\" }"},
		{"trailing data", batch(good("")) + `{}`, "decoding chainwatch JSON batch: unexpected data after the batch object"},
		{"no spans key", `{"span":[]}`, "spans: must hold at least one span"},
		{"empty spans", `{"spans":[]}`, "spans: must hold at least one span"},
		{"span not an object", batch(good(""), `7`), "spans[1]: must be a JSON object, got number 7"},
		{"short trace id", batch(good(""), good(""), good(""), `{"trace_id":"0af7","span_id":"b7ad6b7169203331","start_time":"2025-10-09T08:53:20Z","end_time":"2025-10-09T08:53:21Z"}`),
			"spans[3].trace_id: must be 32 hex digits, got 4 characters"},
		{"missing trace id", batch(`{"span_id":"b7ad6b7169203331","start_time":"2025-10-09T08:53:20Z","end_time":"2025-10-09T08:53:21Z"}`),
			"spans[0].trace_id: missing"},
		{"non-hex trace id", batch(`{"trace_id":"0af7651916cd43dd8448eb211c80319g","span_id":"b7ad6b7169203331","start_time":"2025-10-09T08:53:20Z","end_time":"2025-10-09T08:53:21Z"}`),
			`spans[0].trace_id: must be 32 hex digits, got "0af7651916cd43dd8448eb211c80319g"`},
		{"zero trace id", batch(`{"trace_id":"00000000000000000000000000000000","span_id":"b7ad6b7169203331","start_time":"2025-10-09T08:53:20Z","end_time":"2025-10-09T08:53:21Z"}`),
			"spans[0].trace_id: must not be all zero"},
		{"bad span id", batch(`{"trace_id":"0af7651916cd43dd8448eb211c80319c","span_id":"b7ad6b716920333","start_time":"2025-10-09T08:53:20Z","end_time":"2025-10-09T08:53:21Z"}`),
			"spans[0].span_id: must be 16 hex digits, got 15 characters"},
		{"bad parent", batch(good(`"parent_span_id":"xyz"`)), "spans[0].parent_span_id: must be 16 hex digits, got 3 characters (or empty for a root span)"},
		{"missing start", batch(`{"trace_id":"0af7651916cd43dd8448eb211c80319c","span_id":"b7ad6b7169203331","end_time":"2025-10-09T08:53:21Z"}`),
			"spans[0].start_time: missing"},
		{"start not RFC 3339", batch(`{"trace_id":"0af7651916cd43dd8448eb211c80319c","span_id":"b7ad6b7169203331","start_time":"yesterday","end_time":"2025-10-09T08:53:21Z"}`),
			`spans[0].start_time: must be an RFC 3339 time, got "yesterday"`},
		{"start a number", batch(`{"trace_id":"0af7651916cd43dd8448eb211c80319c","span_id":"b7ad6b7169203331","start_time":1760000000,"end_time":"2025-10-09T08:53:21Z"}`),
			`spans[0].start_time: must be an RFC 3339 time string, got 1760000000`},
		{"end before start", batch(`{"trace_id":"0af7651916cd43dd8448eb211c80319c","span_id":"b7ad6b7169203331","start_time":"2025-10-09T08:53:20Z","end_time":"2025-10-09T08:53:19Z"}`),
			"spans[0].end_time: must not be before start_time"},
		{"before 1970", batch(`{"trace_id":"0af7651916cd43dd8448eb211c80319c","span_id":"b7ad6b7169203331","start_time":"1969-10-09T08:53:20Z","end_time":"2025-10-09T08:53:19Z"}`),
			"spans[0].start_time: 1969-10-09T08:53:20Z is outside the storable range 1970-01-01T00:00:00Z..2106-02-07T06:28:15Z"},
		{"start in 2200", batch(good(""), good(`"start_time":"2200-01-01T00:00:00Z","end_time":"2200-01-01T00:00:01Z"`)),
			"spans[1].start_time: 2200-01-01T00:00:00Z is outside the storable range 1970-01-01T00:00:00Z..2106-02-07T06:28:15Z"},
		{"end in 2200", batch(good(`"end_time":"2200-01-01T00:00:00Z"`)),
			"spans[0].end_time: 2200-01-01T00:00:00Z is outside the storable range 1970-01-01T00:00:00Z..2106-02-07T06:28:15Z"},
		{"end 1ns after the range", batch(good(`"start_time":"2106-02-07T06:28:15Z","end_time":"2106-02-07T06:28:15.000000001Z"`)),
			"spans[0].end_time: 2106-02-07T06:28:15.000000001Z is outside the storable range 1970-01-01T00:00:00Z..2106-02-07T06:28:15Z"},
		{"start in 1969, as an offset time", batch(good(`"start_time":"1970-01-01T00:59:59+01:00"`)),
			"spans[0].start_time: 1969-12-31T23:59:59Z is outside the storable range 1970-01-01T00:00:00Z..2106-02-07T06:28:15Z"},
		{"start at the epoch", batch(good(`"start_time":"1970-01-01T00:00:00Z"`)),
			"spans[0].start_time: must be after 1970-01-01T00:00:00Z (zero is OTLP's unset time)"},
		{"bad status", batch(good(`"status":"failed"`)), `spans[0].status: must be "unset", "ok" or "error", got "failed"`},
		{"negative tokens", batch(good(`"output_tokens":-1`)), "spans[0].output_tokens: must not be negative"},
		{"tokens as a string", batch(good(`"input_tokens":"12"`)), `spans[0].input_tokens: must be a JSON integer, got string "12"`},
		{"tokens as a string, third span", batch(good(""), good(""), good(`"output_tokens":"5"`)), `spans[2].output_tokens: must be a JSON integer, got string "5"`},
		{"name as a number", batch(good(`"name":5`)), "spans[0].name: must be a JSON string, got number 5"},
		{"attributes as an array", batch(good(`"attributes":[1]`)), "spans[0].attributes: must be a JSON object, got an array"},
		{"several spans at fault", batch(good(`"status":"x"`), good(""), good(`"input_tokens":-2`)),
			"spans[0].status: must be \"unset\", \"ok\" or \"error\", got \"x\"\nspans[2].input_tokens: must not be negative"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := DecodeJSONBatch(strings.NewReader(tc.in))
			if err == nil {
				t.Fatalf("no error; batch %+v", b)
			}
			if err.Error() != tc.want {
				t.Errorf("error\n %q, want\n %q", err.Error(), tc.want)
			}
			if strings.HasPrefix(tc.want, "spans[") {
				var be *BatchError
				if !errors.As(err, &be) {
					t.Errorf("%T is not a *BatchError", err)
				}
			}
		})
	}
}

func TestToOTLPShape(t *testing.T) {
	s := fullSpan(1, "app")
	s.Attributes = map[string]string{
		schemas.AttrChainName: "loses to the column", "service.name": "loses to App", "z": "last", "a": "first",
	}
	req := (&JSONBatch{Spans: []schemas.Span{s}}).ToOTLP()
	sp := req.ResourceSpans[0].ScopeSpans[0].Spans[0]
	seen := map[string]string{}
	var order []string
	for _, kv := range sp.Attributes {
		if _, dup := seen[kv.Key]; dup {
			t.Errorf("duplicate key %q", kv.Key)
		}
		seen[kv.Key] = anyString(pbVal(kv.Value))
		order = append(order, kv.Key)
	}
	if seen[schemas.AttrChainName] != "support" || seen["service.name"] != "loses to App" {
		t.Errorf("a column must win over an attribute of the same key: %v", seen)
	}
	if got := roundTrip(t, &JSONBatch{Spans: []schemas.Span{s}})[0]; got.App != "app" || got.ChainName != "support" || got.Attributes["service.name"] != "loses to App" {
		t.Errorf("after the round trip: app %q chain %q attributes %v", got.App, got.ChainName, got.Attributes)
	}
	if strings.Join(order[len(order)-3:], " ") != "a service.name z" {
		t.Errorf("attributes should follow the columns in key order: %v", order)
	}
	if seen[schemas.AttrGenAIInputMessages] != `[{"role":"user","parts":[{"type":"text","content":"Where is my \"order\"?\nIt's late — très late 😀\t\\ "}]}]` {
		t.Errorf("input messages = %s", seen[schemas.AttrGenAIInputMessages])
	}
	if seen[schemas.AttrGenAIUsageInputTokens] != "187" || sp.Status.GetMessage() != "content filter" {
		t.Errorf("usage %q status %v", seen[schemas.AttrGenAIUsageInputTokens], sp.Status)
	}
	var empty coltracepb.ExportTraceServiceRequest
	if got := (&JSONBatch{}).ToOTLP(); len(got.ResourceSpans) != len(empty.ResourceSpans) {
		t.Errorf("empty batch: %v", got)
	}
}

// A span field the form does not have is refused by name (it would be
// lost); a field outside the spans is ignored.
func TestDecodeJSONBatchRefusesUnknownSpanFields(t *testing.T) {
	_, err := DecodeJSONBatch(strings.NewReader(`{"spans":[{"trace_id":"0af7651916cd43dd8448eb211c80319c","span_id":"b7ad6b7169203331",
		"start_time":"2025-10-09T10:53:20Z","end_time":"2025-10-09T10:53:21Z"},{"trace_id":"0af7651916cd43dd8448eb211c80319c","span_id":"b7ad6b7169203332",
		"start_time":"2025-10-09T10:53:20Z","end_time":"2025-10-09T10:53:21Z","inptu_text":"typo"}]}`))
	if err == nil || err.Error() != "spans[1].inptu_text: unknown field (the fields are those of schemas.Span; anything else goes in attributes)" {
		t.Fatalf("err = %v", err)
	}
}
