// Package ingesttest builds OTLP requests for the collector and writer tests.
package ingesttest

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/chainwatch/chainwatch/schemas"
)

func StrAttr(k, v string) *commonpb.KeyValue {
	return &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: v}}}
}

func IntAttr(k string, v int64) *commonpb.KeyValue {
	return &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: v}}}
}

// Request builds nTraces traces of spansPerTrace spans each (a root and
// its children), in one resource, with unique ids drawn from seed.
func Request(seed uint64, nTraces, spansPerTrace int) *coltracepb.ExportTraceServiceRequest {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	ss := &tracepb.ScopeSpans{}
	now := time.Now()
	for t := 0; t < nTraces; t++ {
		tid := make([]byte, 16)
		binary.BigEndian.PutUint64(tid, rng.Uint64()|1)
		binary.BigEndian.PutUint64(tid[8:], rng.Uint64())
		var root []byte
		for s := 0; s < spansPerTrace; s++ {
			sid := make([]byte, 8)
			binary.BigEndian.PutUint64(sid, rng.Uint64()|1)
			start := now.Add(-time.Duration(rng.IntN(1000)) * time.Millisecond)
			sp := &tracepb.Span{
				TraceId: tid, SpanId: sid, ParentSpanId: root, Name: "chat",
				StartTimeUnixNano: uint64(start.UnixNano()), EndTimeUnixNano: uint64(start.Add(time.Duration(50+rng.IntN(500)) * time.Millisecond).UnixNano()),
				Attributes: []*commonpb.KeyValue{
					StrAttr("gen_ai.operation.name", "chat"),
					StrAttr("gen_ai.request.model", "gpt-test"),
					StrAttr("gen_ai.input.messages", fmt.Sprintf(`[{"role":"user","parts":[{"type":"text","content":"question %d.%d"}]}]`, t, s)),
					StrAttr("gen_ai.output.messages", fmt.Sprintf(`[{"role":"assistant","parts":[{"type":"text","content":"answer %d.%d"}]}]`, t, s)),
					IntAttr("gen_ai.usage.input_tokens", 12),
					IntAttr("gen_ai.usage.output_tokens", 30),
					StrAttr("chainwatch.chain.name", "qa"),
					StrAttr("chainwatch.chain.version", "v1"),
				},
			}
			if s == 0 {
				root = sid
			}
			ss.Spans = append(ss.Spans, sp)
		}
	}
	return &coltracepb.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{{
		Resource:   &resourcepb.Resource{Attributes: []*commonpb.KeyValue{StrAttr("service.name", "test-app"), StrAttr("deployment.environment.name", "test")}},
		ScopeSpans: []*tracepb.ScopeSpans{ss},
	}}}
}

// MemStore is a clickhouse.Store in memory: span ids seen, with how often.
type MemStore struct {
	mu    sync.Mutex
	spans map[string]int
}

func NewMemStore() *MemStore { return &MemStore{spans: map[string]int{}} }

func (s *MemStore) InsertSpans(_ context.Context, spans []schemas.Span) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, sp := range spans {
		s.spans[sp.TraceID+sp.SpanID]++
	}
	return nil
}

func (s *MemStore) InsertFeedback(context.Context, []schemas.Feedback) error { return nil }

func (s *MemStore) InsertScores(context.Context, []schemas.Score) error { return nil }

func (s *MemStore) InsertLogs(context.Context, []schemas.LogRecord) error { return nil }

func (s *MemStore) Distinct() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.spans)
}

func Eventually(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Has says whether the span (hex trace id + hex span id) was stored, and
// how often.
func (s *MemStore) Has(key string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.spans[key]
}
