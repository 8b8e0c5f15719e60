package kafka

import (
	"context"
	"encoding/hex"
	"fmt"

	"github.com/twmb/franz-go/pkg/kgo"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
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
