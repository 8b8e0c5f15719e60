package evaltest

import (
	"bytes"
	"encoding/json"
	"net/http"
	"testing"
)

func post(t *testing.T, url string, body string) (*http.Response, map[string]any) {
	t.Helper()
	resp, err := http.Post(url+"/chat/completions", "application/json", bytes.NewBufferString(body))
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
	s.Enqueue(Verdict(4, "ok"), RateLimited("7"))
	resp, m := post(t, s.URL, `{"model": "x", "messages": [{"role": "user", "content": "hi"}]}`)
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
	resp, m = post(t, s.URL, `{"model": "x", "messages": [{"role": "user", "content": "hi"}]}`)
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "7" || m["error"] == nil {
		t.Errorf("429: %d %v %v", resp.StatusCode, resp.Header, m)
	}
	resp, m = post(t, s.URL, `{"model": "x", "messages": []}`)
	if resp.StatusCode != 400 || m["error"] == nil {
		t.Errorf("empty messages: %d %v", resp.StatusCode, m)
	}
	resp, _ = post(t, s.URL, `not json`)
	if resp.StatusCode != 400 {
		t.Errorf("bad body: %d", resp.StatusCode)
	}
	if s.Count() != 3 { // the unparsable body is not a recorded request
		t.Errorf("count %d, want 3", s.Count())
	}
	// The default reply is a valid verdict.
	_, m = post(t, s.URL, `{"model": "x", "messages": [{"role": "user", "content": "hi"}]}`)
	if c := m["choices"].([]any)[0].(map[string]any)["message"].(map[string]any)["content"]; c != DefaultContent {
		t.Errorf("default %v", c)
	}
}
