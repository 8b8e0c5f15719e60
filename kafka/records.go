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
	type part struct {
		req     *coltracepb.ExportTraceServiceRequest
		lastRS  *tracepb.ResourceSpans
		lastSS  *tracepb.ScopeSpans
		srcRS   *tracepb.ResourceSpans
		srcSS   *tracepb.ScopeSpans
		spanCnt int
	}
	var order [][16]byte
	parts := map[[16]byte]*part{}
	n := 0
	for _, rs := range req.ResourceSpans {
		for _, ss := range rs.ScopeSpans {
			for _, sp := range ss.Spans {
				var key [16]byte
				copy(key[:], sp.TraceId)
				p := parts[key]
				if p == nil {
					p = &part{req: &coltracepb.ExportTraceServiceRequest{}}
					parts[key] = p
					order = append(order, key)
				}
				if p.srcRS != rs {
					p.lastRS = &tracepb.ResourceSpans{Resource: rs.Resource, SchemaUrl: rs.SchemaUrl}
					p.req.ResourceSpans = append(p.req.ResourceSpans, p.lastRS)
					p.srcRS, p.srcSS = rs, nil
				}
				if p.srcSS != ss {
					p.lastSS = &tracepb.ScopeSpans{Scope: ss.Scope, SchemaUrl: ss.SchemaUrl}
					p.lastRS.ScopeSpans = append(p.lastRS.ScopeSpans, p.lastSS)
					p.srcSS = ss
				}
				p.lastSS.Spans = append(p.lastSS.Spans, sp)
				n++
			}
		}
	}
	recs := make([]*kgo.Record, 0, len(order))
	for _, key := range order {
		val, err := proto.Marshal(parts[key].req)
		if err != nil {
			return nil, 0, fmt.Errorf("encoding trace %x: %w", key, err)
		}
		k := make([]byte, 32)
		hex.Encode(k, key[:])
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
	type part struct {
		req    *collogspb.ExportLogsServiceRequest
		lastRL *logspb.ResourceLogs
		lastSL *logspb.ScopeLogs
		srcRL  *logspb.ResourceLogs
		srcSL  *logspb.ScopeLogs
	}
	var order [][16]byte
	parts := map[[16]byte]*part{}
	n := 0
	for _, rl := range req.ResourceLogs {
		for _, sl := range rl.ScopeLogs {
			for _, lr := range sl.LogRecords {
				var key [16]byte // all zero: no trace (the collector refuses an all-zero trace id)
				copy(key[:], lr.TraceId)
				p := parts[key]
				if p == nil {
					p = &part{req: &collogspb.ExportLogsServiceRequest{}}
					parts[key] = p
					order = append(order, key)
				}
				if p.srcRL != rl {
					p.lastRL = &logspb.ResourceLogs{Resource: rl.Resource, SchemaUrl: rl.SchemaUrl}
					p.req.ResourceLogs = append(p.req.ResourceLogs, p.lastRL)
					p.srcRL, p.srcSL = rl, nil
				}
				if p.srcSL != sl {
					p.lastSL = &logspb.ScopeLogs{Scope: sl.Scope, SchemaUrl: sl.SchemaUrl}
					p.lastRL.ScopeLogs = append(p.lastRL.ScopeLogs, p.lastSL)
					p.srcSL = sl
				}
				p.lastSL.LogRecords = append(p.lastSL.LogRecords, lr)
				n++
			}
		}
	}
	recs := make([]*kgo.Record, 0, len(order))
	for _, key := range order {
		val, err := proto.Marshal(parts[key].req)
		if err != nil {
			return nil, 0, fmt.Errorf("encoding the logs of trace %x: %w", key, err)
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
