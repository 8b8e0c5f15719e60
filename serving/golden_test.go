package serving

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
)

var updateGolden = flag.Bool("update", false, "rewrite testdata/golden-calls.txt from this code")

// goldenUpstream answers by the model name the gateway sends it, with
// fixed bytes: non-streamed answers with and without usage, an error,
// embeddings, and streams with usage (when asked), without usage, and
// with odd chunks (escapes, null content, two choices, a chunk whose
// "created" is not an integer, a chunk with a capitalised key, usage:
// null on every chunk). It records each request body it got.
func goldenUpstream(t *testing.T) (*httptest.Server, func() []string) {
	var mu sync.Mutex
	var got []string
	const head = `{"id":"chatcmpl-g","object":"chat.completion.chunk","created":7,"model":"MODEL","choices":[{"index":0,"delta":`
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, r.URL.Path+" "+string(body))
		mu.Unlock()
		var model string
		if i := bytes.Index(body, []byte(`"model":"`)); i >= 0 {
			rest := body[i+len(`"model":"`):]
			model = string(rest[:bytes.IndexByte(rest, '"')])
		}
		askUsage := bytes.Contains(body, []byte(`"include_usage":true`))
		sse := func(evs ...string) {
			w.Header().Set("Content-Type", "text/event-stream")
			for _, e := range evs {
				io.WriteString(w, e)
				w.(http.Flusher).Flush()
			}
		}
		ch := func(delta string) string {
			return "data: " + strings.Replace(head, "MODEL", model, 1) + delta + `,"finish_reason":null}]}` + "\n\n"
		}
		switch model {
		case "u-usage":
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"id":"chatcmpl-u","object":"chat.completion","created":1,"model":"u-usage-2024","choices":[{"index":0,"message":{"role":"assistant","content":"Hello <b>there</b> \u00e9 \"q\""},"finish_reason":"stop"}],"usage":{"prompt_tokens":9,"completion_tokens":4,"total_tokens":13}}`)
		case "u-nousage":
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			io.WriteString(w, `{"id":"chatcmpl-n","model":"u-nousage","choices":[{"message":{"content":"Write to jane.doe@example.com for refunds."}},{"message":{"content":null}}]}`)
		case "u-one-pii":
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"id":"chatcmpl-p","model":"u-one-pii","choices":[{"index":0,"message":{"role":"assistant","content":"Write to jane.doe@example.com for refunds."}}],"usage":{"prompt_tokens":30,"completion_tokens":9}}`)
		case "u-400":
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(400)
			io.WriteString(w, `{"error":{"message":"bad temperature","type":"invalid_request_error"}}`)
		case "e":
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.1,0.2]}],"model":"e","usage":{"prompt_tokens":3,"total_tokens":3}}`)
		case "s-usage":
			evs := []string{ch(`{"role":"assistant","content":""}`)}
			for i := range 5 {
				evs = append(evs, ch(fmt.Sprintf(`{"content":"tok%d "}`, i)))
			}
			evs = append(evs, "data: "+strings.Replace(head, "MODEL", model, 1)+`{},"finish_reason":"stop"}]}`+"\n\n")
			if askUsage {
				evs = append(evs, `data: {"id":"chatcmpl-g","object":"chat.completion.chunk","created":7,"model":"s-usage","choices":[],"usage":{"prompt_tokens":11,"completion_tokens":5,"total_tokens":16}}`+"\n\n")
			}
			sse(append(evs, "data: [DONE]\n\n")...)
		case "s-nousage":
			sse(ch(`{"role":"assistant","content":"Mail jane.doe@example.com"}`), ch(`{"content":" now"}`), "data: [DONE]\n\n")
		case "s-odd":
			sse(": keep-alive\n\n",
				`data: {"id":"chatcmpl-o","object":"chat.completion.chunk","created":9,"model":"s-odd","usage":null,"choices":[{"index":0,"delta":{"role":"assistant","content":"caf\u00e9\n\"x\" "}}]}`+"\n\n",
				`data: {"id":"chatcmpl-o","created":9,"usage":null,"choices":[{"delta":{"content":null}},{"index":1,"delta":{"content":"second "},"finish_reason":null}]}`+"\n\n",
				`data: {"id":"chatcmpl-o","created":9.5,"choices":[{"delta":{"content":"float-created "}}]}`+"\n\n",
				`data: {"id":"chatcmpl-o","Choices":[{"Delta":{"Content":"capitalised "}}]}`+"\n\n",
				"data: {\"id\":\"chatcmpl-o\",\r\ndata: \"choices\":[{\"delta\":{\"content\":\"two-lines \",\"tool_calls\":[{\"x\":[1,{\"y\":\"}\"}]}]}}]}\r\n\r\n",
				`data: {"choices":[{"delta":{"content":"dup1 "}}],"choices":[{"delta":{"content":"dup2 "}}]}`+"\n\n",
				`data: {"choices":[{"delta":{"content":"with-usage "}}],"usage":{"prompt_tokens":3,"completion_tokens":8}}`+"\n\n",
				`data: not json`+"\n\n",
				"data: [DONE]\n\n")
		default:
			w.WriteHeader(500)
		}
	}))
	t.Cleanup(hs.Close)
	return hs, func() []string { mu.Lock(); defer mu.Unlock(); return slices.Clone(got) }
}

// The gateway's observable behaviour for a fixed set of calls — what the
// client gets (status, headers, body), what the upstream gets, and every
// span with its attributes — matches testdata/golden-calls.txt, which was
// written by the gateway before its hot paths were reworked for speed
// (commit 0fd8c78). Timing values, ids and ports are masked.
func TestGoldenCalls(t *testing.T) {
	up, upGot := goldenUpstream(t)
	ret := retrievalServer(t)
	dir := t.TempDir()
	writeChain(t, dir, "support", strings.Replace(supportChain, "RETRIEVAL", ret.URL, 1))
	writeChain(t, dir, "streamer", strings.Replace(strings.Replace(strings.Replace(supportChain, "RETRIEVAL", ret.URL, 1),
		"support-bot", "streamer", 1), "model: small", "model: sn", 1))
	src, err := NewDirSource(dir)
	if err != nil {
		t.Fatal(err)
	}
	rt := func(name, model string) RouteConfig {
		return RouteConfig{Name: name, Model: model, Replicas: []ReplicaConfig{{URL: up.URL}}}
	}
	routes := []RouteConfig{rt("small", "u-one-pii"), rt("uu", "u-usage"), rt("un", "u-nousage"), rt("u400", "u-400"),
		rt("e", "e"), rt("su", "s-usage"), rt("sn", "s-nousage"), rt("so", "s-odd"), rt("s-usage", "")}
	var out strings.Builder
	for gi, cfg := range []Config{{Routes: routes}, {Routes: routes, MaxContentBytes: 25}} {
		g := startGateway(t, cfg, Options{Chains: src})
		calls := []struct{ path, body string }{
			{"/v1/chat/completions", `{"model":"uu","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hi <there> & \"you\" \u2028 ok"}],"temperature":0.2}`},
			{"/v1/chat/completions", `{"model":"un","messages":[{"role":"user","content":[{"type":"text","text":"part one "},{"type":"image_url","image_url":{"url":"x"}},{"type":"text","text":"part two"}]}],"max_tokens":5}`},
			{"/v1/chat/completions", `{"model":"s-usage","variables":{"a":"b"},"messages":[{"role":"user","content":"keep me"}]}`},
			{"/v1/chat/completions", `{"model":"u400","messages":[{"role":"user","content":"x"}]}`},
			{"/v1/chat/completions", `{"Model":"uu","messages":[{"role":"user","content":"x"}]}`},
			{"/v1/chat/completions", `{"model":"uu","model":"un","messages":[{"Role":"user","CONTENT":"dup keys"}]}`},
			{"/v1/chat/completions", `{"model":"nope","messages":[]}`},
			{"/v1/chat/completions", `[1,2]`},
			{"/v1/chat/completions", `{"model":"uu","stream":"yes"}`},
			{"/v1/chat/completions", `{"model":"uu","stream_options":[]}`},
			{"/v1/chat/completions", `{"model":"uu","messages":[{"content":"no role"}]}`},
			{"/v1/chat/completions", `{"model":"uu",  "messages" : [ {"role":"user" , "content":"spaced\u00e9"} ] , "x":{"y":[1,2,{"z":null}]} }`},
			{"/v1/chat/completions", `{"model":"su","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"stream please"}]}`},
			{"/v1/chat/completions", `{"model":"su","stream":true,"messages":[{"role":"user","content":"stream please"}]}`},
			{"/v1/chat/completions", `{"model":"s-usage","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"raw pass"}]}`},
			{"/v1/chat/completions", `{"model":"sn","stream":true,"stream_options":{"include_usage":true,"other":1},"messages":[{"role":"user","content":"count me"}]}`},
			{"/v1/chat/completions", `{"model":"sn","stream":true,"messages":[{"role":"user","content":"count me"}]}`},
			{"/v1/chat/completions", `{"model":"so","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"odd"}]}`},
			{"/v1/chat/completions", `{"model":"so","stream":true,"messages":[{"role":"user","content":"odd"}]}`},
			{"/v1/chat/completions", `{"model":"chain:support-bot","variables":{"company":"ACME"},"messages":[{"role":"user","content":"Where is my refund?"}]}`},
			{"/v1/chat/completions", `{"model":"chain:streamer","stream":true,"variables":{"company":"ACME"},"messages":[{"role":"assistant","content":"earlier"},{"role":"user","content":"Stream it"}]}`},
			{"/v1/chat/completions", `{"model":"chain:support-bot","messages":[{"role":"user","content":"x"}]}`},
			{"/v1/embeddings", `{"model":"e","input":["one two","three"]}`},
			{"/v1/embeddings", `{"model":"e","input":"just one"}`},
		}
		for ci, call := range calls {
			before := len(g.traces())
			resp, body := rawPost(t, g.URL+call.path, "", call.body)
			fmt.Fprintf(&out, "=== gateway %d call %d: %s %s\n--- response %d\n", gi, ci, call.path, call.body, resp.StatusCode)
			var hk []string
			for k := range resp.Header {
				hk = append(hk, k)
			}
			slices.Sort(hk)
			for _, k := range hk {
				v := strings.Join(resp.Header[k], ",")
				switch k {
				case "Date":
					continue
				case HeaderOverhead, HeaderTraceID:
					v = "*"
				}
				fmt.Fprintf(&out, "%s: %s\n", k, v)
			}
			fmt.Fprintf(&out, "%q\n", body)
			tr := waitTrace(t, g, before+1)[before]
			ids := map[string]int{}
			for i, s := range tr {
				ids[string(s.SpanId)] = i
				if !bytes.Equal(s.TraceId, tr[0].TraceId) || len(s.TraceId) != 16 || len(s.SpanId) != 8 {
					t.Fatalf("call %d span %d: trace id %x span id %x", ci, i, s.TraceId, s.SpanId)
				}
			}
			if got, want := fmt.Sprintf("%x", tr[0].TraceId), resp.Header.Get(HeaderTraceID); got != want {
				t.Fatalf("call %d: trace id %s, header %s", ci, got, want)
			}
			for i, s := range tr {
				parent := -1
				if len(s.ParentSpanId) > 0 {
					p, ok := ids[string(s.ParentSpanId)]
					if !ok {
						t.Fatalf("call %d span %d: parent not in the trace", ci, i)
					}
					parent = p
				}
				if s.StartTimeUnixNano == 0 || s.EndTimeUnixNano < s.StartTimeUnixNano {
					t.Fatalf("call %d span %d: times %d %d", ci, i, s.StartTimeUnixNano, s.EndTimeUnixNano)
				}
				fmt.Fprintf(&out, "--- span %d parent %d %q kind %v status %v %q\n", i, parent, s.Name, s.Kind, s.Status.GetCode(), s.Status.GetMessage())
				for _, kv := range s.Attributes {
					v := goldenValue(kv.Value)
					switch kv.Key {
					case attrOverheadMs, attrTTFC:
						v = "*"
					case attrServerAddress:
						v = strings.Replace(v, up.URL, "UPSTREAM", 1)
					}
					fmt.Fprintf(&out, "%s = %s\n", kv.Key, v)
				}
			}
		}
	}
	out.WriteString("=== upstream requests\n")
	for _, r := range upGot() {
		fmt.Fprintf(&out, "%q\n", r)
	}
	got := strings.ReplaceAll(out.String(), ret.URL, "RETRIEVAL")
	for _, name := range []string{"support-bot", "streamer"} {
		// a chain's hash covers its retrieval URL, whose port varies
		ch, _, _, err := src.Resolve(context.Background(), name, "")
		if err != nil {
			t.Fatal(err)
		}
		got = strings.ReplaceAll(got, ch.Hash(), "HASH-"+name)
	}
	path := filepath.Join("testdata", "golden-calls.txt")
	if *updateGolden {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		gl, wl := strings.Split(got, "\n"), strings.Split(string(want), "\n")
		for i := range min(len(gl), len(wl)) {
			if gl[i] != wl[i] {
				t.Fatalf("differs from %s at line %d:\n got  %s\n want %s", path, i+1, gl[i], wl[i])
			}
		}
		t.Fatalf("differs from %s in length: %d lines, want %d", path, len(gl), len(wl))
	}
}

func goldenValue(v *commonpb.AnyValue) string {
	switch x := v.Value.(type) {
	case *commonpb.AnyValue_StringValue:
		return fmt.Sprintf("%q", x.StringValue)
	case *commonpb.AnyValue_IntValue:
		return fmt.Sprintf("int %d", x.IntValue)
	case *commonpb.AnyValue_BoolValue:
		return fmt.Sprintf("bool %v", x.BoolValue)
	case *commonpb.AnyValue_DoubleValue:
		return fmt.Sprintf("double %v", x.DoubleValue)
	}
	return fmt.Sprintf("?%T", v.Value)
}
