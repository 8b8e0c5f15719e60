package collector

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

func TestBufClass(t *testing.T) {
	for _, tc := range []struct{ n, class int }{
		{0, 0}, {1, 0}, {64 << 10, 0}, {64<<10 + 1, 1}, {128 << 10, 1}, {128<<10 + 1, 2},
		{16 << 20, 8}, {16<<20 + 1, 9}, {32 << 20, 9}, {32<<20 + 1, -1},
	} {
		if got := bufClass(tc.n); got != tc.class {
			t.Errorf("bufClass(%d) = %d, want %d", tc.n, got, tc.class)
		}
	}
	for _, n := range []int{0, 1, 100 << 10, 5 << 20, 40 << 20} {
		b := getBuf(n)
		if len(b) != 0 || cap(b) < n {
			t.Errorf("getBuf(%d): len %d cap %d", n, len(b), cap(b))
		}
		putBuf(b)
	}
}

// ackLater is a producer that acknowledges each record a few milliseconds
// later, from another goroutine, and checks that the record's value is
// still what it was handed: a body or records buffer recycled before its
// records' promises ran would be reused by another request meanwhile.
type ackLater struct {
	wg      sync.WaitGroup
	spans   atomic.Int64
	changed atomic.Int64
}

func (p *ackLater) TryProduce(_ context.Context, r *kgo.Record, promise func(*kgo.Record, error)) {
	want := bytes.Clone(r.Value)
	var req coltracepb.ExportTraceServiceRequest
	if err := proto.Unmarshal(want, &req); err == nil {
		for _, rs := range req.ResourceSpans {
			for _, ss := range rs.ScopeSpans {
				p.spans.Add(int64(len(ss.Spans)))
			}
		}
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		time.Sleep(time.Duration(rand.IntN(3000)) * time.Microsecond)
		if !bytes.Equal(r.Value, want) {
			p.changed.Add(1)
		}
		promise(r, nil)
	}()
}

// Concurrent requests of one and of several traces, of sizes across the
// pool's classes: every record's value is unchanged until Kafka has
// acknowledged it, and every span is produced.
func TestPooledBuffersOutliveTheirRecords(t *testing.T) {
	prod := &ackLater{}
	_, srv := newTestCollector(t, prod)
	const senders, each = 8, 40
	var sent atomic.Int64
	var wg sync.WaitGroup
	for s := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(s), 7))
			for i := range each {
				req := &coltracepb.ExportTraceServiceRequest{}
				traces := 1 + 2*rng.IntN(2) // one trace (the value is the body) or three
				ss := &tracepb.ScopeSpans{}
				for tr := range traces {
					tid := make([]byte, 16)
					tid[0], tid[1], tid[2], tid[3] = byte(s+1), byte(i), byte(tr), 1
					for sp := range 1 + rng.IntN(4) {
						ss.Spans = append(ss.Spans, &tracepb.Span{
							TraceId: tid, SpanId: []byte{byte(s + 1), byte(i), byte(tr), byte(sp), 1, 2, 3, 4},
							Name:              strings.Repeat(fmt.Sprintf("%c", 'a'+rng.IntN(26)), 1+rng.IntN(60<<10)),
							StartTimeUnixNano: 1_700_000_000_000_000_000, EndTimeUnixNano: 1_700_000_001_000_000_000,
						})
					}
				}
				req.ResourceSpans = []*tracepb.ResourceSpans{{ScopeSpans: []*tracepb.ScopeSpans{ss}}}
				body, _ := proto.Marshal(req)
				resp, err := http.Post(srv.URL+"/v1/traces", "application/x-protobuf", bytes.NewReader(body))
				if err != nil {
					t.Error(err)
					return
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					t.Errorf("status %d", resp.StatusCode)
					return
				}
				sent.Add(int64(len(ss.Spans)))
			}
		}()
	}
	wg.Wait()
	prod.wg.Wait()
	if n := prod.changed.Load(); n > 0 {
		t.Errorf("%d record values changed before Kafka acknowledged them", n)
	}
	if got, want := prod.spans.Load(), sent.Load(); got != want {
		t.Errorf("%d spans produced, want %d", got, want)
	}
}
