package main

import (
	"crypto/tls"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/chainwatch/chainwatch/internal/tlsfiles/tlsfilestest"
	"github.com/chainwatch/chainwatch/kafka"
	"github.com/chainwatch/chainwatch/kafka/kafkatest"
	"github.com/chainwatch/chainwatch/openai/openaitest"
)

// The gateway over TLS (serving config tls: cert_file, key_file): the
// official OpenAI client calls it over HTTPS trusting the certificate.
func TestServeTLS(t *testing.T) {
	up := openaitest.NewServer(t)
	_, brokers := kafkatest.NewCluster(t)
	kc := kafka.Config{Brokers: brokers}.WithDefaults()
	if err := kafka.EnsureTopics(t.Context(), kc); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	pool := tlsfilestest.Write(t, dir, 7)
	os.MkdirAll(filepath.Join(dir, "chains"), 0o755)
	path := filepath.Join(dir, "serving.yaml")
	os.WriteFile(path, []byte("listen: 127.0.0.1:0\ntls: {cert_file: "+filepath.Join(dir, "cert.pem")+", key_file: "+filepath.Join(dir, "key.pem")+"}\nroutes:\n  - name: small\n    replicas: [{url: "+up.URL+"}]\nchains: {source: dir, dir: "+filepath.Join(dir, "chains")+"}\n"), 0o644)
	stop, addr, err := startServing(t.Context(), Config{}, kc, Config{}.ClickHouse, path, "", prometheus.NewRegistry(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer stop(t.Context())
	client := openai.NewClient(option.WithBaseURL("https://"+addr+"/v1"), option.WithAPIKey("unused"),
		option.WithHTTPClient(&http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}))
	resp, err := client.Chat.Completions.New(t.Context(), openai.ChatCompletionNewParams{
		Model: "small", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hello over TLS")}})
	if err != nil {
		t.Fatalf("chat over TLS: %v", err)
	}
	if len(resp.Choices) != 1 || resp.Choices[0].Message.Content == "" {
		t.Fatalf("answer %+v", resp)
	}
	if _, err := http.Get("http://" + addr + "/healthz"); err == nil {
		// a plain HTTP request to a TLS listener gets no HTTP answer
		t.Log("plain HTTP got an answer from the TLS listener")
	}
}
