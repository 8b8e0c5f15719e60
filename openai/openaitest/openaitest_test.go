package openaitest

import (
	"bytes"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"strings"
	"testing"
)

func TestVector(t *testing.T) {
	a, b, c := Vector("hello", 32), Vector("hello", 32), Vector("hello!", 32)
	var norm float64
	same, differ := true, false
	for i := range a {
		norm += float64(a[i]) * float64(a[i])
		same = same && math.Float32bits(a[i]) == math.Float32bits(b[i])
		differ = differ || a[i] != c[i]
	}
	if !same || !differ {
		t.Fatalf("equal texts must give equal vectors (%v), different texts different ones (%v)", same, differ)
	}
	if math.Abs(norm-1) > 1e-5 {
		t.Fatalf("|v|² = %v", norm)
	}
	if len(Vector("x", 5)) != 5 {
		t.Fatal("dimension")
	}
}

func post(t *testing.T, url string, body string) (*http.Response, map[string]any) {
	t.Helper()
	resp, err := http.Post(url, "application/json", bytes.NewBufferString(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	json.NewDecoder(resp.Body).Decode(&m)
	return resp, m
}

func TestServerAnswersLikeTheAPI(t *testing.T) {
	s := NewServer(t)
	chat := s.URL + "/chat/completions"
	s.Chat.Enqueue(Verdict(4, "ok"), RateLimited("7"))
	resp, m := post(t, chat, `{"model": "x", "messages": [{"role": "user", "content": "hi"}]}`)
	if resp.StatusCode != 200 || m["object"] != "chat.completion" || m["model"] != "x" {
		t.Fatalf("%d %v", resp.StatusCode, m)
	}
	msg := m["choices"].([]any)[0].(map[string]any)["message"].(map[string]any)
	if msg["content"] != `{"reasoning":"ok","score":4}` {
		t.Errorf("content %v", msg["content"])
	}
	if u := m["usage"].(map[string]any); u["total_tokens"].(float64) != u["prompt_tokens"].(float64)+u["completion_tokens"].(float64) {
		t.Errorf("usage %v", u)
	}
	resp, m = post(t, chat, `{"model": "x", "messages": [{"role": "user", "content": "hi"}]}`)
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "7" || m["error"] == nil {
		t.Errorf("429: %d %v %v", resp.StatusCode, resp.Header, m)
	}
	resp, m = post(t, chat, `{"model": "x", "messages": []}`)
	if resp.StatusCode != 400 || m["error"] == nil {
		t.Errorf("empty messages: %d %v", resp.StatusCode, m)
	}
	resp, _ = post(t, chat, `not json`)
	if resp.StatusCode != 400 {
		t.Errorf("bad body: %d", resp.StatusCode)
	}
	if s.Chat.Count() != 3 { // the unparsable body is not a recorded request
		t.Errorf("count %d, want 3", s.Chat.Count())
	}
	// The default reply is a valid verdict.
	_, m = post(t, chat, `{"model": "x", "messages": [{"role": "user", "content": "hi"}]}`)
	if c := m["choices"].([]any)[0].(map[string]any)["message"].(map[string]any)["content"]; c != DefaultContent {
		t.Errorf("default %v", c)
	}
}

func TestEmbeddingsAnswerLikeTheAPI(t *testing.T) {
	s := NewServer(t, WithDim(3))
	emb := s.URL + "/embeddings"
	resp, m := post(t, emb, `{"model": "e", "input": "one text"}`)
	if resp.StatusCode != 200 || m["object"] != "list" || m["model"] != "e" {
		t.Fatalf("%d %v", resp.StatusCode, m)
	}
	d := m["data"].([]any)[0].(map[string]any)
	if d["index"].(float64) != 0 || len(d["embedding"].([]any)) != 3 || d["object"] != "embedding" {
		t.Errorf("data %v", d)
	}
	s.Embeddings.Enqueue(MissingIndex(1), RateLimited("2"))
	_, m = post(t, emb, `{"model": "e", "input": ["a", "b", "c"], "dimensions": 5}`)
	if data := m["data"].([]any); len(data) != 2 || len(data[0].(map[string]any)["embedding"].([]any)) != 5 {
		t.Errorf("missing index 1, dimensions 5: %v", data)
	}
	resp, _ = post(t, emb, `{"model": "e", "input": ["a"]}`)
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "2" {
		t.Errorf("429: %d %v", resp.StatusCode, resp.Header)
	}
	resp, _ = post(t, emb, `{"input": ["a"]}`)
	if resp.StatusCode != 400 {
		t.Errorf("no model: %d", resp.StatusCode)
	}
	resp, _ = post(t, s.Root+"/v2/embeddings", `{}`)
	if resp.StatusCode != 404 {
		t.Errorf("unknown path: %d", resp.StatusCode)
	}
	if s.Embeddings.Count() != 4 || s.Texts() != 6 || s.Chat.Count() != 0 || len(s.Inputs()) != 4 {
		t.Errorf("counts: %d requests, %d texts, %d chat", s.Embeddings.Count(), s.Texts(), s.Chat.Count())
	}
	s.Reset()
	if s.Embeddings.Count() != 0 || s.Texts() != 0 || s.Embeddings.Pending() != 0 {
		t.Error("Reset")
	}
}

// Streams: a role chunk, one chunk per piece, a finish chunk, the usage
// chunk when asked (not with NoUsage), [DONE]; FailAfter breaks the
// connection after that many pieces; Streams records what was written.
func TestStream(t *testing.T) {
	s := NewServer(t)
	s.Chat.Enqueue(Reply{Content: "one two three"}, Reply{Content: "x", NoUsage: true}, Reply{Chunks: []string{"a", "b", "c"}, FailAfter: 2})
	stream := func(includeUsage bool) (string, error) {
		body := `{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]`
		if includeUsage {
			body += `,"stream_options":{"include_usage":true}`
		}
		resp, err := http.Post(s.URL+"/chat/completions", "application/json", bytes.NewBufferString(body+"}"))
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return string(b), err
	}
	got, err := stream(true)
	if err != nil {
		t.Fatal(err)
	}
	events := strings.Split(strings.TrimSuffix(got, "\n\n"), "\n\n")
	if len(events) != 7 || !strings.Contains(events[0], `"role":"assistant"`) || !strings.Contains(events[1], `"content":"one "`) ||
		!strings.Contains(events[4], `"finish_reason":"stop"`) || !strings.Contains(events[5], `"usage":{"prompt_tokens"`) || events[6] != "data: [DONE]" {
		t.Fatalf("events %q", events)
	}
	if !s.ChatRequests()[0].Stream || !s.ChatRequests()[0].IncludeUsage {
		t.Fatal("stream fields not recorded")
	}
	if got, _ := stream(true); strings.Contains(got, `"usage"`) || !strings.HasSuffix(got, "data: [DONE]\n\n") {
		t.Fatalf("NoUsage: %q", got)
	}
	got, err = stream(false)
	if err == nil || strings.Contains(got, "[DONE]") || !strings.Contains(got, `"content":"b"`) || strings.Contains(got, `"content":"c"`) {
		t.Fatalf("FailAfter: err %v, body %q", err, got)
	}
	if st := s.Streams(); len(st) != 3 || st[0] != strings.Join(events, "\n\n")+"\n\n" {
		t.Fatalf("recorded streams %q", st)
	}
	if w := SplitWords("a b  c"); strings.Join(w, "|") != "a |b | |c" {
		t.Fatalf("%q", w)
	}
}
