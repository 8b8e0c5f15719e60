package serving

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// chunkTextReference is the stream chunk text as the gateway took it
// before the scanner: json.Unmarshal into streamChunk.
func chunkTextReference(data []byte) (string, bool) {
	var sc streamChunk
	if json.Unmarshal(data, &sc) != nil {
		return "", false
	}
	var out string
	for _, chc := range sc.Choices {
		out += chc.Delta.Content
	}
	return out, true
}

var chunkSeeds = []string{
	`{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":"hi"},"finish_reason":null}]}`,
	`{"id":"c","created":1,"model":"m","usage":null,"choices":[{"delta":{"content":"caf\u00e9 \ud83d\ude00 \n\t\"x\"\\ \/"}},{"delta":{"content":null}},null,{"delta":null}]}`,
	`{"choices":[{"delta":{"content":"a"}}],"choices":[{"delta":{"content":"b"}}]}`,
	`{"Choices":[{"delta":{"content":"a"}}]}`,
	`{"choices":[{"Delta":{"content":"a"}}]}`,
	`{"choices":[{"delta":{"CONTENT":"a"}}]}`,
	`{"choic\u0065s":[{"delta":{"content":"a"}}]}`,
	`{"created":1.5,"choices":[{"delta":{"content":"a"}}]}`,
	`{"created":99999999999999999999,"choices":[{"delta":{"content":"a"}}]}`,
	`{"created":-3,"choices":[{"delta":{"content":"a"}}]}`,
	`{"created":"1","choices":[{"delta":{"content":"a"}}]}`,
	`{"id":5,"choices":[{"delta":{"content":"a"}}]}`,
	`{"choices":[{"delta":{"content":5}}]}`,
	`{"choices":[{"finish_reason":1,"delta":{"content":"a"}}]}`,
	`{"choices":[{"delta":{"content":"a","content":"b"}}]}`,
	`{"choices":{"delta":{"content":"a"}}}`,
	`{"choices":[1]}`,
	`{"choices":[{"delta":{"content":"a"}}],"usage":{"prompt_tokens":1,"completion_tokens":2}}`,
	`{"choices":[{"delta":{"content":"a"}}],"usage":{"prompt_tokens":"x"}}`,
	`{"choices":[{"delta":{"content":"a","tool_calls":[{"function":{"arguments":"{\"a\":[1,2]}"}}]}}],"x":{"y":[{"}":"]"}]}}`,
	`{"choices":[{"delta":{"content":"\ud83d"}}]}`,
	`{"choices":[{"delta":{"content":"\ud83dx"}}]}`,
	`{"choices":[{"delta":{"content":"\udc00\ud83d"}}]}`,
	"{\"choices\":[{\"delta\":{\"content\":\"bad \xff utf8\"}}]}",
	"{\"choices\":[{\"delta\":{\"content\":\"surrogate \xed\xa0\x80\"}}]}",
	`{"ſhoices":[{"delta":{"content":"a"}}]}`,
	`{"choices":[{"delta":{"content":"a"}}]`,
	`{"choices":[{"delta":{"content":"a"}}]} x`,
	`{"id":"c","model":"m","created":5,"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":4,"total_tokens":7,"prompt_tokens_details":{"cached_tokens":0}}}`,
	`{"choices":[],"usage":{"prompt_tokens":3,"prompt_tokens":4}}`, `{"usage":{"Prompt_tokens":3}}`, `{"usage":[]}`, `{"usage":{"completion_tokens":1e2}}`,
	`{"id":"a\u00e9","model":"\ud83d\ude00","created":null}`, `{"ID":"x"}`, `{"id":"a","id":"b"}`, `{"created":1}{"created":2}`,
	`null`, ` null `, `[]`, `"s"`, `3`, ``, `  {  "choices" : [ { "delta" : { "content" : "sp" } } ] }  `,
}

// The scanner gives exactly what json.Unmarshal into streamChunk gives.
func FuzzChunkText(f *testing.F) {
	for _, s := range chunkSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		want, _ := chunkTextReference(data)
		if got := string(appendChunkText([]byte("pre:"), data)); got != "pre:"+want {
			t.Fatalf("%q: got %q, want %q", data, got, "pre:"+want)
		}
		var sc streamChunk
		err := json.Unmarshal(data, &sc)
		wantInfo := fmt.Sprint(err == nil, len(sc.Choices), sc.Usage != nil)
		if sc.Usage != nil {
			wantInfo += fmt.Sprint(*sc.Usage)
		}
		if err != nil {
			wantInfo = "false 0 false"
		}
		for _, text := range []bool{false, true} {
			_, info := decodeChunk(nil, data, text)
			gotInfo := fmt.Sprint(info.decoded, info.choices, info.usage != nil)
			if info.usage != nil {
				gotInfo += fmt.Sprint(*info.usage)
			}
			if gotInfo != wantInfo {
				t.Fatalf("%q (text %v): decoded, choices, usage %s, want %s", data, text, gotInfo, wantInfo)
			}
		}
		var head chunkHead
		herr := json.Unmarshal(data, &head)
		if gotHead, ok := decodeHead(data); ok != (herr == nil) || (ok && gotHead != head) {
			t.Fatalf("%q: head %+v %v, want %+v %v", data, gotHead, ok, head, herr)
		}
		if got, ok := fastChunkText([]byte("pre:"), data); ok && string(got) != "pre:"+want {
			t.Fatalf("%q: scanner got %q, want %q", data, got, "pre:"+want)
		} else if !ok && string(got) != "pre:" {
			t.Fatalf("%q: scanner gave up but left %q", data, got)
		}
	})
}

// The common chunks take the scanner's path.
func TestChunkTextFastPath(t *testing.T) {
	for _, s := range chunkSeeds[:2] {
		if _, ok := fastChunkText(nil, []byte(s)); !ok {
			t.Errorf("%s: left to encoding/json", s)
		}
	}
}

// parseChat's scan reads a request as decoding it into a map does
// (parseChatMap, the gateway's way before the scan).
func FuzzParseChat(f *testing.F) {
	for _, s := range []string{
		`{"model":"m","messages":[{"role":"user","content":"hi"}]}`,
		`{"model":"m","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"system","content":"a\nb"},{"role":"user","content":[{"type":"text","text":"x"},{"type":"text","text":"y"}]}],"max_tokens":5,"max_completion_tokens":7}`,
		`{"model":"a","model":"b","mod\u0065l":"c","stream":false,"stream_options":null}`,
		`{"Model":"m"}`, `{"model":""}`, `{"model":5}`, `{"model":"caf\u00e9"}`, "{\"model\":\"bad \xff\"}",
		`{"model":"m","stream":"yes"}`, `{"model":"m","stream":null}`, `{"model":"m","stream_options":[]}`,
		`{"model":"m","stream_options":{"Include_Usage":true}}`, `{"model":"m","stream_options":{"include_usage":1}}`,
		`{"model":"m","stream_options":{"include_usage":true,"include_usage":false}}`,
		`{"model":"m","messages":[{"content":"x"}]}`, `{"model":"m","messages":{}}`, `{"model":"m","messages":[{"ROLE":"user","Content":"x"}]}`,
		`{"model":"m","variables":{"a":"b"}}`, `{"model":"m","variables":{"a":1}}`, `{"model":"m","variables":null}`,
		`{"model":"m","messages":[]}`, `{"model":"m","messages":null}`, `{"model":"m","max_tokens":1.5}`, `{"model":"m","max_tokens":"5"}`,
		`null`, `[]`, `"x"`, `{`, `{"model":"m"} x`, ` { "model" : "m" , "x" : { "y" : [ 1 , "}" ] } } `,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		got, gerr := parseChat(raw)
		want, werr := parseChatMap(raw)
		if (gerr == nil) != (werr == nil) || (gerr != nil && *gerr != *werr) {
			t.Fatalf("%q: error %v, want %v", raw, gerr, werr)
		}
		if gerr != nil {
			return
		}
		if got.model != want.model || got.stream != want.stream || got.includeUsage != want.includeUsage ||
			got.maxTokens != want.maxTokens || got.hasVariables != want.hasVariables ||
			!reflect.DeepEqual(got.messages, want.messages) || !reflect.DeepEqual(got.variables, want.variables) ||
			!reflect.DeepEqual(got.fields(), want.body) {
			t.Fatalf("%q:\n got  %+v\n want %+v", raw, got, want)
		}
	})
}

// decodeAnswer gives what json.Unmarshal into answer gives.
func FuzzAnswer(f *testing.F) {
	for _, s := range []string{
		`{"id":"x","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"hello \u00e9\n"},"finish_reason":"stop"}],"usage":{"prompt_tokens":9,"completion_tokens":2,"total_tokens":11,"prompt_tokens_details":{"cached_tokens":0}}}`,
		`{"choices":[{"message":{"content":null}},null,{"message":null},{"message":{"content":"b","tool_calls":[{"x":"]"}]}}],"usage":null}`,
		`{"choices":[],"usage":{}}`, `{"usage":{"prompt_tokens":1.5,"completion_tokens":2}}`, `{"usage":{"prompt_tokens":"1"}}`,
		`{"usage":{"Prompt_Tokens":3}}`, `{"ID":"x","Model":"y"}`, `{"id":"a","id":"b"}`, `{"id":5,"model":"m"}`,
		`{"choices":[{"message":{"content":5}}],"model":"m"}`, `{"choices":[{"message":{"content":"a","content":"b"}}]}`,
		`{"object":"list","data":[{"embedding":[0.1]}],"model":"e","usage":{"prompt_tokens":3,"total_tokens":3}}`,
		`null`, `[]`, `{`, `{"id":"x"} y`, "{\"model\":\"bad \xff\"}", `{"choices":{"message":{}}}`, `{"choices":[1]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var want answer
		json.Unmarshal(body, &want)
		got := decodeAnswer(body)
		if fmt.Sprint(answerText(got)) != fmt.Sprint(answerText(&want)) {
			t.Fatalf("%q:\n got  %v\n want %v", body, answerText(got), answerText(&want))
		}
	})
}

func answerText(a *answer) []any {
	out := []any{a.ID, a.Model, len(a.Choices), a.Usage == nil}
	for _, c := range a.Choices {
		if c.Message.Content == nil {
			out = append(out, "nil")
		} else {
			out = append(out, strconv.Quote(*c.Message.Content))
		}
	}
	if a.Usage != nil {
		out = append(out, *a.Usage)
	}
	return out
}

// upstreamBodyMarshal is upstreamBody as it was: the members copied into
// a new map and encoded by json.Marshal.
func upstreamBodyMarshal(body map[string]json.RawMessage, model string, stream bool) []byte {
	out := make(map[string]json.RawMessage, len(body)+1)
	for k, v := range body {
		out[k] = v
	}
	out["model"], _ = json.Marshal(model)
	if stream {
		var so map[string]json.RawMessage
		if raw, ok := body["stream_options"]; ok {
			json.Unmarshal(raw, &so)
		}
		if so == nil {
			so = map[string]json.RawMessage{}
		}
		so["include_usage"] = json.RawMessage("true")
		out["stream_options"], _ = json.Marshal(so)
	}
	b, _ := json.Marshal(out)
	return b
}

// upstreamBody writes the bytes json.Marshal wrote.
func FuzzAppendObject(f *testing.F) {
	for _, s := range []string{
		`{"model":"m","stream":true,"messages":[{"role":"user","content":"a <b> & c \u2028 ` + "\u2028\u2029" + ` \" \\ "}],"temperature":0.2}`,
		`{"model":"m","stream_options":{"include_usage":false,"x":[1, 2]},"z":null,"a":{ "b" : [ ] }}`,
		`{"stream_options":null}`, `{}`, `{"é":1,"<":2,"Z":3,"a":4}`, `{"model":"m","stream_options":{"continuous_usage_stats":true}}`,
	} {
		f.Add([]byte(s), "route-model", true)
	}
	f.Fuzz(func(t *testing.T, raw []byte, model string, stream bool) {
		var body map[string]json.RawMessage
		if json.Unmarshal(raw, &body) != nil {
			return
		}
		if so, ok := body["stream_options"]; ok && stream {
			var m map[string]json.RawMessage
			if json.Unmarshal(so, &m) != nil {
				return // parseChat refuses such a request
			}
		}
		want := upstreamBodyMarshal(body, model, stream)
		if got := upstreamBody(body, model, stream); string(got) != string(want) {
			t.Fatalf("%q %q %v:\n got  %s\n want %s", raw, model, stream, got, want)
		}
	})
}

// validJSON agrees with json.Valid.
func FuzzValidJSON(f *testing.F) {
	for _, s := range append(chunkSeeds,
		``, ` `, `0`, `-0`, `01`, `-`, `1.`, `1.5e`, `1e+5`, `1E-05`, `.5`, `+1`, `tru`, `true `, `nul`, `nullx`, `[1,]`, `[,1]`, `{"a"}`, `{"a":}`,
		`{"a":1,}`, `{,}`, `{"a" : [ 1 , 2 ] , "b" : { } }`, `"\u00e9\/\b"`, `"\x"`, `"\u12"`, `"\u12g4"`, "\"tab\there\"", "\"\x7f\xff\"",
		`[[[[[]]]]]`, strings.Repeat("[", 10000)+strings.Repeat("]", 10000), strings.Repeat("[", 10001)+strings.Repeat("]", 10001),
		strings.Repeat(`{"a":`, 10000)+"1"+strings.Repeat("}", 10000), strings.Repeat(`{"a":`, 10001)+"1"+strings.Repeat("}", 10001)) {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if got, want := validJSON(b), json.Valid(b); got != want {
			t.Fatalf("%q: validJSON %v, json.Valid %v", b, got, want)
		}
	})
}
