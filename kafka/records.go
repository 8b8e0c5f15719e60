package kafka

import (
	"context"
	"encoding/hex"
	"fmt"
	"hash/fnv"

	"github.com/twmb/franz-go/pkg/kgo"
	collogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

// SplitByTrace turns a request into one Kafka record per trace (key = trace
// id, value = an ExportTraceServiceRequest with only that trace's spans and
// their resource and scope), so a trace stays in order on one partition. It
// returns the number of spans.
func SplitByTrace(req *coltracepb.ExportTraceServiceRequest, topic string) ([]*kgo.Record, int, error) {
	return splitByTrace(otlpShape[*coltracepb.ExportTraceServiceRequest, *tracepb.ResourceSpans, *tracepb.ScopeSpans, *tracepb.Span]{
		what:      "trace",
		resources: func(r *coltracepb.ExportTraceServiceRequest) []*tracepb.ResourceSpans { return r.ResourceSpans },
		scopes:    func(r *tracepb.ResourceSpans) []*tracepb.ScopeSpans { return r.ScopeSpans },
		leaves:    func(s *tracepb.ScopeSpans) []*tracepb.Span { return s.Spans },
		traceID:   func(l *tracepb.Span) []byte { return l.TraceId },
		newReq:    func() *coltracepb.ExportTraceServiceRequest { return &coltracepb.ExportTraceServiceRequest{} },
		addResource: func(q *coltracepb.ExportTraceServiceRequest, r *tracepb.ResourceSpans) *tracepb.ResourceSpans {
			c := &tracepb.ResourceSpans{Resource: r.Resource, SchemaUrl: r.SchemaUrl}
			q.ResourceSpans = append(q.ResourceSpans, c)
			return c
		},
		addScope: func(r *tracepb.ResourceSpans, s *tracepb.ScopeSpans) *tracepb.ScopeSpans {
			c := &tracepb.ScopeSpans{Scope: s.Scope, SchemaUrl: s.SchemaUrl}
			r.ScopeSpans = append(r.ScopeSpans, c)
			return c
		},
		addLeaf: func(s *tracepb.ScopeSpans, l *tracepb.Span) { s.Spans = append(s.Spans, l) },
	}, req, topic)
}

// otlpShape is what splitByTrace needs to know of an OTLP export request:
// its resource → scope → leaf (span, log record) levels, and how to build a
// new request of the same kind holding copies of the resource and scope
// wrappers (without their children) and the leaves themselves.
type otlpShape[Q proto.Message, R, S comparable, L any] struct {
	what        string // for errors: "trace", "the logs of trace"
	resources   func(Q) []R
	scopes      func(R) []S
	leaves      func(S) []L
	traceID     func(L) []byte
	newReq      func() Q
	addResource func(Q, R) R // appends a copy of R's header to Q
	addScope    func(R, S) S // appends a copy of S's header to R
	addLeaf     func(S, L)
}

// splitByTrace is SplitByTrace's and SplitLogsByTrace's one rule: the leaves
// grouped by trace id, in order of each trace's first leaf; a group's
// request repeats a leaf's resource and scope whenever they change from its
// previous leaf's; one record per group, keyed by the trace id in hex (no
// key where the leaves name no trace, an all-zero id). It returns the
// number of leaves.
func splitByTrace[Q proto.Message, R, S comparable, L any](sh otlpShape[Q, R, S, L], req Q, topic string) ([]*kgo.Record, int, error) {
	type group struct {
		req         Q
		srcR, lastR R
		srcS, lastS S
	}
	var order [][16]byte
	groups := map[[16]byte]*group{}
	n := 0
	for _, r := range sh.resources(req) {
		for _, s := range sh.scopes(r) {
			for _, l := range sh.leaves(s) {
				var key [16]byte
				copy(key[:], sh.traceID(l))
				g := groups[key]
				if g == nil {
					g = &group{req: sh.newReq()}
					groups[key] = g
					order = append(order, key)
				}
				if g.srcR != r {
					var noScope S
					g.lastR = sh.addResource(g.req, r)
					g.srcR, g.srcS = r, noScope
				}
				if g.srcS != s {
					g.lastS = sh.addScope(g.lastR, s)
					g.srcS = s
				}
				sh.addLeaf(g.lastS, l)
				n++
			}
		}
	}
	recs := make([]*kgo.Record, 0, len(order))
	for _, key := range order {
		val, err := proto.Marshal(groups[key].req)
		if err != nil {
			return nil, 0, fmt.Errorf("encoding %s %x: %w", sh.what, key, err)
		}
		var k []byte
		if key != ([16]byte{}) {
			k = make([]byte, 32)
			hex.Encode(k, key[:])
		}
		recs = append(recs, &kgo.Record{Topic: topic, Key: k, Value: val})
	}
	return recs, n, nil
}

// Consumer is what the writer needs of a franz-go group client.
type Consumer interface {
	PollRecords(ctx context.Context, maxPollRecords int) kgo.Fetches
	AllowRebalance()
	CommitRecords(ctx context.Context, rs ...*kgo.Record) error
	ProduceSync(ctx context.Context, rs ...*kgo.Record) kgo.ProduceResults
	Close()
}

var _ Consumer = (*kgo.Client)(nil)

// The partitioners a producer of the spans topic can use.
const (
	PartitionerSaramaCompat = "sarama_compat"
	PartitionerMurmur2      = "murmur2"
)

// Partitioner is the franz-go partitioner for name: records with a key go
// to the partition its hash picks (the same for every producer using the
// same hash), records without one stick to a partition per batch.
// sarama_compat is FNV-1a 32 with Sarama's mapping (the hash as int32,
// modulo the partition count, made non-negative), which the OpenTelemetry
// Collector's Kafka exporter uses by default; murmur2 is the Java client's.
func Partitioner(name string) kgo.Partitioner {
	if name == PartitionerMurmur2 {
		return kgo.StickyKeyPartitioner(nil) // franz-go's default: murmur2 as Kafka's Java client
	}
	return kgo.StickyKeyPartitioner(kgo.SaramaCompatHasher(func(b []byte) uint32 {
		h := fnv.New32a()
		h.Write(b)
		return h.Sum32()
	}))
}

// SplitLogsByTrace is SplitByTrace for OTLP logs: one record per trace id
// (key = the trace id in hex), and one record without a key for the log
// records that name no trace. It returns the number of log records.
func SplitLogsByTrace(req *collogspb.ExportLogsServiceRequest, topic string) ([]*kgo.Record, int, error) {
	return splitByTrace(otlpShape[*collogspb.ExportLogsServiceRequest, *logspb.ResourceLogs, *logspb.ScopeLogs, *logspb.LogRecord]{
		what:      "the logs of trace",
		resources: func(r *collogspb.ExportLogsServiceRequest) []*logspb.ResourceLogs { return r.ResourceLogs },
		scopes:    func(r *logspb.ResourceLogs) []*logspb.ScopeLogs { return r.ScopeLogs },
		leaves:    func(s *logspb.ScopeLogs) []*logspb.LogRecord { return s.LogRecords },
		traceID:   func(l *logspb.LogRecord) []byte { return l.TraceId },
		newReq:    func() *collogspb.ExportLogsServiceRequest { return &collogspb.ExportLogsServiceRequest{} },
		addResource: func(q *collogspb.ExportLogsServiceRequest, r *logspb.ResourceLogs) *logspb.ResourceLogs {
			c := &logspb.ResourceLogs{Resource: r.Resource, SchemaUrl: r.SchemaUrl}
			q.ResourceLogs = append(q.ResourceLogs, c)
			return c
		},
		addScope: func(r *logspb.ResourceLogs, s *logspb.ScopeLogs) *logspb.ScopeLogs {
			c := &logspb.ScopeLogs{Scope: s.Scope, SchemaUrl: s.SchemaUrl}
			r.ScopeLogs = append(r.ScopeLogs, c)
			return c
		},
		addLeaf: func(s *logspb.ScopeLogs, l *logspb.LogRecord) { s.LogRecords = append(s.LogRecords, l) },
	}, req, topic)
}
