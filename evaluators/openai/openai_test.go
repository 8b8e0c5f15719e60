package openai

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chainwatch/chainwatch/evaluators"
	"github.com/chainwatch/chainwatch/openai/openaitest"
)

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		cfg  Config
		want string
	}{
		{Config{BaseURL: "http://localhost:8000/v1"}, ""},
		{Config{}, "judge.base_url"},
		{Config{BaseURL: "ftp://x"}, "judge.base_url"},
		{Config{BaseURL: "http://x", MaxRetries: -1}, "judge.max_retries"},
		{Config{BaseURL: "http://x", Concurrency: -1}, "judge.concurrency"},
		{Config{BaseURL: "http://x", Timeout: -time.Second}, "judge.timeout"},
	}
	for _, tt := range tests {
		err := tt.cfg.Validate()
		if (tt.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("Validate(%+v) = %v, want an error naming %q", tt.cfg, err, tt.want)
		}
	}
}

func TestConfigFromJudge(t *testing.T) {
	t.Setenv("TEST_JUDGE_KEY", "secret")
	jc := evaluators.DefaultJudgeConfig()
	jc.BaseURL, jc.APIKeyEnv = "http://h/v1", "TEST_JUDGE_KEY"
	c := ConfigFromJudge(jc)
	if c.APIKey != "secret" || c.BaseURL != "http://h/v1" || c.Timeout != jc.Timeout || c.MaxRetries != jc.MaxRetries || c.Concurrency != jc.Concurrency {
		t.Errorf("%+v", c)
	}
}

func TestChatWire(t *testing.T) {
	srv := openaitest.NewServer(t, openaitest.WithAPIKey("k1"))
	srv.Chat.Enqueue(openaitest.Reply{Content: "hello", PromptTokens: 12, CompletionTokens: 3, Model: "served-model"})
	c, err := New(Config{BaseURL: srv.URL + "/", APIKey: "k1"})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Chat(context.Background(), evaluators.ChatRequest{Model: "m", MaxTokens: 7, JSONMode: true,
		Messages: []evaluators.Message{{Role: "system", Content: "s"}, {Role: "user", Content: "u"}}})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Content != "hello" || resp.Model != "served-model" || resp.Usage != (evaluators.Usage{PromptTokens: 12, CompletionTokens: 3}) {
		t.Errorf("response %+v", resp)
	}
	req := srv.ChatRequests()[0]
	if req.Model != "m" || req.MaxTokens != 7 || len(req.Messages) != 2 || (req.ResponseFormat == nil || req.ResponseFormat.Type != "json_object") {
		t.Errorf("request %+v", req)
	}
	// A wrong key is a permanent error: one attempt.
	bad, _ := New(Config{BaseURL: srv.URL, APIKey: "wrong", MaxRetries: 3})
	_, err = bad.Chat(context.Background(), evaluators.ChatRequest{Model: "m", Messages: []evaluators.Message{{Role: "user", Content: "u"}}})
	if evaluators.ReasonOf(err) != evaluators.ReasonJudgeRejected || srv.Chat.Count() != 2 {
		t.Errorf("401: %v (%s), %d requests", err, evaluators.ReasonOf(err), srv.Chat.Count())
	}
}

func TestTransportErrorsRetried(t *testing.T) {
	c, _ := New(Config{BaseURL: "http://127.0.0.1:1/v1", MaxRetries: 2, BackoffBase: time.Millisecond, BackoffMax: 2 * time.Millisecond})
	_, err := c.Chat(context.Background(), evaluators.ChatRequest{Model: "m", Messages: []evaluators.Message{{Role: "user", Content: "u"}}})
	if evaluators.ReasonOf(err) != evaluators.ReasonJudgeUnavailable || !strings.Contains(err.Error(), "3 attempt") {
		t.Errorf("got %v (%s)", err, evaluators.ReasonOf(err))
	}
}
