package serving

import (
	"context"
	"crypto/rand"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/chainwatch/chainwatch/kafka"
	"github.com/chainwatch/chainwatch/schemas"
)

// Attributes of the gateway's spans beyond schemas' names: GenAI
// semantic-convention names, and chainwatch.* lineage that no convention
// names.
const (
	attrRequestStream     = "gen_ai.request.stream"
	attrResponseID        = "gen_ai.response.id"
	attrTTFC              = "gen_ai.response.time_to_first_chunk"
	attrOutputTokens      = "gen_ai.usage.output_tokens"
	attrServerAddress     = "server.address"
	attrErrorType         = "error.type"
	attrChainLabel        = "chainwatch.chain.label"
	attrChainHash         = "chainwatch.chain.hash"
	attrChainCanary       = "chainwatch.chain.canary"
	attrRoute             = "chainwatch.route"
	attrReplica           = "chainwatch.replica"
	attrGPU               = "chainwatch.gpu"
	attrAttempt           = "chainwatch.attempt"
	attrFallback          = "chainwatch.fallback"
	attrUsageSource       = "chainwatch.usage.source" // "upstream" or "bpe"
	attrKey               = "chainwatch.key.name"
	attrGuardType         = "chainwatch.guard.type"
	attrGuardAction       = "chainwatch.guard.action"
	attrGuardResult       = "chainwatch.guard.result" // "pass", "blocked", "redacted", "flagged"
	attrRetrievalDocs     = "chainwatch.retrieval.documents"
	attrOverheadMs        = "chainwatch.gateway.overhead_ms"
	scopeName             = "chainwatch/serving"
	componentKindChain    = "chain"
	componentKindLLM      = "llm"
	componentKindRetrieve = "retriever"
	componentKindGuard    = "guardrail"
	componentKindTemplate = "template"
)

// span is a span under construction. Its protobuf span and status live
// in it (one allocation a span); its attributes come from the trace's
// slabs. A trace is built by one goroutine, the call's.
type span struct {
	pb      *tracepb.Span
	t       *trace
	attrCap int // capacity of the attribute slice taken on the first attribute
	spb     tracepb.Span
	status  tracepb.Status
}

// Attribute capacities: what a root and an upstream attempt span carry
// on a plain chat call (fewer is fine, more grows the slice as append
// does).
const (
	rootAttrs    = 16
	attemptAttrs = 20
	otherAttrs   = 8
)

// attrCell holds one attribute's protobuf messages — the key-value, the
// any-value and the one-of wrapper of each kind — in one allocation.
type attrCell struct {
	kv  commonpb.KeyValue
	av  commonpb.AnyValue
	str commonpb.AnyValue_StringValue
	i   commonpb.AnyValue_IntValue
	d   commonpb.AnyValue_DoubleValue
	b   commonpb.AnyValue_BoolValue
}

// trace collects one call's spans. Ids, attributes and attribute slices
// are cut from per-trace slabs: a plain call costs a handful of
// allocations for its spans rather than four per attribute.
type trace struct {
	id       []byte
	mu       sync.Mutex
	spans    []*tracepb.Span
	root     *span
	rootSpan span
	spanBuf  [4]*tracepb.Span
	// idBuf holds the trace id and the first spanIDs span ids, drawn in
	// one read; later span ids are drawn in batches into ids.
	idBuf [16 + 8*spanIDs]byte
	ids   []byte
	cells []attrCell
	kvs   []*commonpb.KeyValue
}

const spanIDs = 4

func newTrace(name string, start time.Time) *trace {
	t := &trace{}
	rand.Read(t.idBuf[:])
	t.id = t.idBuf[:16:16]
	t.ids = t.idBuf[16:]
	t.spans = t.spanBuf[:0]
	t.root = &t.rootSpan
	t.init(t.root, name, nil, start, rootAttrs)
	t.root.pb.Kind = tracepb.Span_SPAN_KIND_SERVER
	return t
}

// spanID is the next random span id.
func (t *trace) spanID() []byte {
	if len(t.ids) < 8 {
		t.ids = make([]byte, 8*spanIDs)
		rand.Read(t.ids)
	}
	id := t.ids[:8:8]
	t.ids = t.ids[8:]
	return id
}

func (t *trace) start(name string, parent *span, at time.Time) *span {
	return t.startCap(name, parent, at, otherAttrs)
}

// startCap starts a span expecting about attrs attributes.
func (t *trace) startCap(name string, parent *span, at time.Time, attrs int) *span {
	s := &span{}
	t.init(s, name, parent, at, attrs)
	return s
}

func (t *trace) init(s *span, name string, parent *span, at time.Time, attrs int) {
	s.t, s.attrCap, s.pb = t, attrs, &s.spb
	s.spb.TraceId, s.spb.SpanId, s.spb.Name = t.id, t.spanID(), name
	s.spb.Kind, s.spb.StartTimeUnixNano = tracepb.Span_SPAN_KIND_INTERNAL, uint64(at.UnixNano())
	if parent != nil {
		s.pb.ParentSpanId = parent.pb.SpanId
	}
	t.mu.Lock()
	t.spans = append(t.spans, s.pb)
	t.mu.Unlock()
}

// attr returns a fresh attribute k appended to the span, its value to be
// set by the caller.
func (s *span) attr(k string) *attrCell {
	t := s.t
	if len(t.cells) == 0 {
		t.cells = make([]attrCell, 32)
	}
	c := &t.cells[0]
	t.cells = t.cells[1:]
	c.kv.Key, c.kv.Value = k, &c.av
	if s.pb.Attributes == nil {
		if len(t.kvs) < s.attrCap {
			t.kvs = make([]*commonpb.KeyValue, max(64, s.attrCap))
		}
		s.pb.Attributes = t.kvs[:0:s.attrCap]
		t.kvs = t.kvs[s.attrCap:]
	}
	s.pb.Attributes = append(s.pb.Attributes, &c.kv)
	return c
}

func (s *span) str(k, v string) {
	if v == "" {
		return
	}
	c := s.attr(k)
	c.str.StringValue = v
	c.av.Value = &c.str
}

func (s *span) int(k string, v int64) {
	c := s.attr(k)
	c.i.IntValue = v
	c.av.Value = &c.i
}

func (s *span) float(k string, v float64) {
	c := s.attr(k)
	c.d.DoubleValue = v
	c.av.Value = &c.d
}

func (s *span) bool(k string, v bool) {
	c := s.attr(k)
	c.b.BoolValue = v
	c.av.Value = &c.b
}

// end closes the span, failed when errMsg is not empty.
func (s *span) end(at time.Time, errMsg string) {
	s.pb.EndTimeUnixNano = uint64(at.UnixNano())
	if s.pb.Status != nil {
		// ended twice: a new status, the first one untouched
		s.pb.Status = &tracepb.Status{}
	} else {
		s.pb.Status = &s.status
	}
	if errMsg != "" {
		s.pb.Status.Code, s.pb.Status.Message = tracepb.Status_STATUS_CODE_ERROR, errMsg
	} else {
		s.pb.Status.Code = tracepb.Status_STATUS_CODE_OK
	}
}

// Exporter takes a finished call's spans. Export must not block.
type Exporter interface {
	Export(spans []*tracepb.Span)
}

// ExporterFunc adapts a function.
type ExporterFunc func([]*tracepb.Span)

// Export calls f.
func (f ExporterFunc) Export(s []*tracepb.Span) { f(s) }

// KafkaExporter produces traces to the spans topic as OTLP, one record per
// trace keyed by trace id (kafka.SplitByTrace), asynchronously: Export
// puts the trace on a bounded queue and returns; when the queue is full the
// trace is dropped (drop-newest), counted and logged, never waited for.
// The producer's own buffer is bounded too (TryProduce): a slow or absent
// Kafka costs the caller nothing, and each trace it cannot take is counted
// (chainwatch_serving_spans_dropped_total{reason}) and logged.
type KafkaExporter struct {
	cl       *kgo.Client
	topic    string
	resource *resourcepb.Resource
	queue    chan []*tracepb.Span
	log      *slog.Logger
	dropped  func(reason string, spans int)
	done     chan struct{}
	closed   atomic.Bool
	wg       sync.WaitGroup
	lastLog  atomic.Int64
}

// NewKafkaExporter starts the exporter's goroutine; Close stops it.
func NewKafkaExporter(cl *kgo.Client, topic string, buffer int, app, env string, log *slog.Logger, dropped func(reason string, spans int)) *KafkaExporter {
	if log == nil {
		log = slog.Default()
	}
	if dropped == nil {
		dropped = func(string, int) {}
	}
	res := &resourcepb.Resource{Attributes: []*commonpb.KeyValue{
		{Key: "service.name", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: app}}},
	}}
	if env != "" {
		res.Attributes = append(res.Attributes, &commonpb.KeyValue{Key: "deployment.environment.name", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: env}}})
	}
	e := &KafkaExporter{cl: cl, topic: topic, resource: res, queue: make(chan []*tracepb.Span, buffer),
		log: log, dropped: dropped, done: make(chan struct{})}
	e.wg.Add(1)
	go e.run()
	return e
}

// Export queues spans; it never blocks.
func (e *KafkaExporter) Export(spans []*tracepb.Span) {
	if e.closed.Load() {
		e.drop("closed", len(spans), nil)
		return
	}
	select {
	case e.queue <- spans:
	default:
		e.drop("queue_full", len(spans), nil)
	}
}

// drop counts and logs (at most once a second, with the reason) spans
// that will not be sent.
func (e *KafkaExporter) drop(reason string, n int, err error) {
	e.dropped(reason, n)
	now := time.Now().UnixNano()
	if last := e.lastLog.Load(); now-last > int64(time.Second) && e.lastLog.CompareAndSwap(last, now) {
		e.log.Warn("dropping gateway spans: they cannot be sent to Kafka (counted in chainwatch_serving_spans_dropped_total)", "reason", reason, "spans", n, "err", err)
	}
}

func (e *KafkaExporter) run() {
	defer e.wg.Done()
	for {
		select {
		case spans := <-e.queue:
			e.send(spans)
		case <-e.done:
			for {
				select {
				case spans := <-e.queue:
					e.send(spans)
				default:
					return
				}
			}
		}
	}
}

func (e *KafkaExporter) send(spans []*tracepb.Span) {
	req := &coltracepb.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{{
		Resource:   e.resource,
		ScopeSpans: []*tracepb.ScopeSpans{{Scope: &commonpb.InstrumentationScope{Name: scopeName}, Spans: spans}},
	}}}
	recs, n, err := kafka.SplitByTrace(req, e.topic)
	if err != nil {
		e.drop("encode", len(spans), err)
		return
	}
	for _, r := range recs {
		e.cl.TryProduce(context.Background(), r, func(r *kgo.Record, err error) {
			if err != nil {
				e.drop("produce", n, err)
			}
		})
	}
}

// Close sends what is queued, waits up to ctx for the producer to flush
// and stops.
func (e *KafkaExporter) Close(ctx context.Context) error {
	if e.closed.Swap(true) {
		return nil
	}
	close(e.done)
	e.wg.Wait()
	return e.cl.Flush(ctx)
}

var _ Exporter = (*KafkaExporter)(nil)

// genAI sets the GenAI attributes of a model-call span; provider is the
// route's (gen_ai.provider.name), empty on a root span.
func genAI(s *span, op, reqModel, provider string) {
	s.str(schemas.AttrGenAIOperationName, op)
	s.str(schemas.AttrGenAIProviderName, provider)
	s.str(schemas.AttrGenAIRequestModel, reqModel)
}
