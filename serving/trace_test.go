package serving

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/chainwatch/chainwatch/clickhouse/chtest"
	"github.com/chainwatch/chainwatch/ingest/writer"
	"github.com/chainwatch/chainwatch/kafka"
	"github.com/chainwatch/chainwatch/kafka/kafkatest"
	"github.com/chainwatch/chainwatch/openai/openaitest"
)

// The trace of every call lands in ClickHouse through the spans topic and
// the real writer, with the right tree and lineage: a chain call (root,
// retrieval, render, guard, attempt), a streamed route call with a failed
// attempt and a fallback, and a refused call.
func TestTracesLandInClickHouse(t *testing.T) {
	ins := chtest.Inserter(t)
	_, brokers := kafkatest.NewCluster(t)
	kc := kafka.Config{Brokers: brokers, Partitions: 2}.WithDefaults()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := kafka.EnsureTopics(ctx, kc); err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(kafka.ConsumerOpts(kc, "w", kc.Topics.Spans, kc.Topics.Feedback)...)
	if err != nil {
		t.Fatal(err)
	}
	w := writer.New(writer.Config{Batch: writer.BatchConfig{MaxWait: 100 * time.Millisecond}}, kc.Topics, cl, ins, writer.NewMetrics(nil), nil)
	if err := w.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer w.Shutdown(context.Background())

	prod, err := kafka.NewClient(kc, kafka.ProducerOpts(kc)...)
	if err != nil {
		t.Fatal(err)
	}
	m := NewMetrics(nil)
	exp := NewKafkaExporter(prod, kc.Topics.Spans, 100, "support-app", "test", nil, m.SpansDropped)
	defer exp.Close(context.Background())

	up := openaitest.NewServer(t)
	bad := openaitest.NewServer(t)
	bad.Chat.Enqueue(openaitest.ServerError(500))
	ret := retrievalServer(t)
	dir := t.TempDir()
	writeChain(t, dir, "support", strings.Replace(supportChain, "RETRIEVAL", ret.URL, 1))
	src, _ := NewDirSource(dir)
	g := startGateway(t, Config{Routes: []RouteConfig{
		routeTo("small", up.URL),
		{Name: "flaky", Model: "flaky-model", Fallbacks: []string{"small"}, Replicas: []ReplicaConfig{{URL: bad.URL}}},
	}}, Options{Chains: src, Exporter: exp, Metrics: m})

	resp, body := rawPost(t, g.URL+"/v1/chat/completions", "", `{"model":"chain:support-bot","variables":{"company":"ACME"},"messages":[{"role":"user","content":"Where is my refund?"}]}`)
	if resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	chainTrace := resp.Header.Get(HeaderTraceID)
	resp, body = rawPost(t, g.URL+"/v1/chat/completions", "", `{"model":"flaky","stream":true,"messages":[{"role":"user","content":"hi"}]}`)
	if resp.StatusCode != 200 || !strings.HasSuffix(body, "[DONE]\n\n") {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	streamTrace := resp.Header.Get(HeaderTraceID)
	resp, _ = rawPost(t, g.URL+"/v1/chat/completions", "", `{"model":"chain:support-bot","messages":[{"role":"user","content":"x"}]}`)
	if resp.StatusCode != 400 {
		t.Fatalf("missing variable answered %d", resp.StatusCode)
	}
	refusedTrace := resp.Header.Get(HeaderTraceID)

	type row struct {
		name, parent, chain, version, kind, tmpl, reqModel, respModel, status string
		in, out                                                               uint32
		inText, outText                                                       string
	}
	read := func(trace string, want int) map[string]row {
		deadline := time.Now().Add(30 * time.Second)
		for {
			rows, err := ins.Conn().Query(ctx, `SELECT name, parent_span_id, span_id, chain_name, chain_version, component_kind, prompt_template_id,
				model_requested, model_returned, status, input_tokens, output_tokens, input_text, output_text FROM spans FINAL WHERE trace_id = ?`, trace)
			if err != nil {
				t.Fatal(err)
			}
			out := map[string]row{}
			ids := map[string]string{}
			var raw []row
			var spanIDs []string
			for rows.Next() {
				var r row
				var id string
				if err := rows.Scan(&r.name, &r.parent, &id, &r.chain, &r.version, &r.kind, &r.tmpl, &r.reqModel, &r.respModel, &r.status, &r.in, &r.out, &r.inText, &r.outText); err != nil {
					t.Fatal(err)
				}
				ids[id] = r.name
				raw = append(raw, r)
				spanIDs = append(spanIDs, id)
			}
			rows.Close()
			if len(raw) >= want || time.Now().After(deadline) {
				for i, r := range raw {
					r.parent = ids[r.parent] // parent by name
					key := r.name
					if _, dup := out[key]; dup {
						key = fmt.Sprintf("%s#%s", r.name, spanIDs[i][:4])
					}
					out[key] = r
				}
				if len(raw) != want {
					t.Fatalf("trace %s: %d spans in clickhouse, want %d: %+v", trace, len(raw), want, out)
				}
				return out
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	spans := read(chainTrace, 6)
	root := spans["chain support-bot"]
	if root.parent != "" || root.chain != "support-bot" || root.version != "v1" || root.kind != "chain" || root.tmpl != "support-answer" || root.in == 0 || root.out == 0 {
		t.Fatalf("chain root %+v", root)
	}
	for _, n := range []string{"retrieval", "render support-answer", "guard injection", "chat small", "guard pii"} {
		s, ok := spans[n]
		if !ok || s.parent != "chain support-bot" {
			t.Fatalf("span %q: %+v (all %v)", n, s, spans)
		}
	}
	if a := spans["chat small"]; a.kind != "llm" || a.reqModel != "small" || a.respModel != "small" ||
		a.inText != "Where is my refund?" || a.outText != openaitest.DefaultContent {
		t.Fatalf("attempt span %+v", a)
	}
	if root.inText != "Where is my refund?" || root.outText != openaitest.DefaultContent {
		t.Fatalf("root content %q → %q", root.inText, root.outText)
	}
	spans = read(streamTrace, 3)
	var failed, okCount int
	for name, s := range spans {
		if s.parent == "" {
			continue
		}
		if !strings.HasPrefix(name, "chat ") {
			t.Fatalf("unexpected child %q", name)
		}
		if s.status == "error" {
			failed++
		} else {
			okCount++
		}
	}
	if failed != 1 || okCount != 1 {
		t.Fatalf("stream trace: %d failed and %d ok attempts: %+v", failed, okCount, spans)
	}
	spans = read(refusedTrace, 3) // retrieval ran, render failed
	if spans["chain support-bot"].status != "error" || spans["render support-answer"].status != "error" {
		t.Fatalf("refused call %+v", spans)
	}
	if got := testutil.ToFloat64(m.spansDropped.WithLabelValues("queue_full")); got != 0 {
		t.Fatalf("dropped %v", got)
	}
}

// An absent Kafka never fails or holds a call: calls succeed, and the
// spans that cannot be sent are counted with their reason.
func TestAbsentKafkaDropsCountedNotFelt(t *testing.T) {
	kc := kafka.Config{Brokers: []string{"127.0.0.1:1"}, ProduceTimeout: time.Second}.WithDefaults()
	prod, err := kafka.NewClient(kc, kafka.ProducerOpts(kc)...)
	if err != nil {
		t.Fatal(err)
	}
	m := NewMetrics(nil)
	exp := NewKafkaExporter(prod, kc.Topics.Spans, 2, "a", "", nil, m.SpansDropped)
	up := openaitest.NewServer(t)
	g := startGateway(t, Config{Routes: []RouteConfig{routeTo("small", up.URL)}}, Options{Exporter: exp, Metrics: m})
	var wg sync.WaitGroup
	errs := make(chan error, 50)
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, body := rawPost(t, g.URL+"/v1/chat/completions", "", `{"model":"small","messages":[{"role":"user","content":"hi"}]}`)
			if resp.StatusCode != 200 {
				errs <- fmt.Errorf("%d %s", resp.StatusCode, body)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	exp.Close(ctx)
	dropped := testutil.ToFloat64(m.spansDropped.WithLabelValues("queue_full")) + testutil.ToFloat64(m.spansDropped.WithLabelValues("produce"))
	if dropped < 50 { // every call's root + attempt span: 100 spans, none can be sent
		t.Fatalf("%v spans counted as dropped", dropped)
	}
}

// Content goes on the spans unless omit_content is set, cut at
// max_content_bytes.
func TestSpanContent(t *testing.T) {
	up := openaitest.NewServer(t)
	up.SetResponder(func(openaitest.ChatRequest) openaitest.Reply { return openaitest.Answer(strings.Repeat("é", 40)) })
	for _, omit := range []bool{false, true} {
		g := startGateway(t, Config{Routes: []RouteConfig{routeTo("small", up.URL)}, OmitContent: omit, MaxContentBytes: 21}, Options{})
		rawPost(t, g.URL+"/v1/chat/completions", "", `{"model":"small","messages":[{"role":"user","content":"hello"}]}`)
		a := attrs(waitTrace(t, g, 1)[0][1:])
		in, out := a["gen_ai.input.messages"], a["gen_ai.output.messages"]
		if omit {
			if in != "" || out != "" {
				t.Fatalf("omit_content: %q %q", in, out)
			}
			continue
		}
		if in != `[{"role":"user","content":"hello"}]` || out != `[{"role":"assistant","content":"`+strings.Repeat("é", 10)+`"}]` || a["chainwatch.content.truncated"] != "true" {
			t.Fatalf("content %q %q %v", in, out, a)
		}
	}
}
