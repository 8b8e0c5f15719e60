package collector

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/chainwatch/chainwatch/ingest/ingesttest"
	"github.com/chainwatch/chainwatch/internal/config"
	"github.com/chainwatch/chainwatch/kafka"
	"github.com/chainwatch/chainwatch/kafka/kafkatest"
)

// frozenKafka is a kfake broker whose produce requests are held, unanswered,
// until thaw (or the test's end): a broker that froze with the connection
// open, the case franz-go's delivery timeout does not cover.
type frozenKafka struct {
	cluster *kfake.Cluster
	cfg     kafka.Config
	client  *kgo.Client
	thaw    func()
}

func newFrozenKafka(t *testing.T, produceTimeout time.Duration) *frozenKafka {
	t.Helper()
	cluster, brokers := kafkatest.NewCluster(t, kfake.BrokerConfigs(map[string]string{"message.max.bytes": fmt.Sprint(kafka.DefaultMaxRecordBytes + 4096)}))
	cfg := kafka.Config{Brokers: brokers, ProduceTimeout: produceTimeout, Partitions: 3, Compression: "none"}.WithDefaults()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := kafka.EnsureTopics(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(kafka.ProducerOpts(cfg)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	ch := make(chan struct{})
	var once sync.Once
	f := &frozenKafka{cluster: cluster, cfg: cfg, client: cl, thaw: func() { once.Do(func() { close(ch) }) }}
	cluster.ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
		cluster.KeepControl()
		select {
		case <-ch:
		default:
			cluster.SleepControl(func() { <-ch })
		}
		return nil, nil, false // then the broker answers as usual
	})
	t.Cleanup(f.thaw) // runs before cl.Close and the cluster's Close
	return f
}

// startCollector starts a collector on free ports in front of prod.
func startCollector(t *testing.T, cfg Config, prod Producer) (*Collector, *Metrics) {
	t.Helper()
	cfg.HTTPAddr, cfg.GRPCAddr = "127.0.0.1:0", "127.0.0.1:0"
	m := NewMetrics(nil)
	c := New(cfg, kafka.Config{}.WithDefaults().Topics, prod, m, nil)
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c.Shutdown(ctx)
	})
	return c, m
}

func grpcClient(t *testing.T, addr string, opts ...grpc.DialOption) coltracepb.TraceServiceClient {
	t.Helper()
	conn, err := grpc.NewClient(addr, append([]grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return coltracepb.NewTraceServiceClient(conn)
}

func jsonSpansBody(traceID string, n int, pad int) []byte {
	var b bytes.Buffer
	b.WriteString(`{"spans":[`)
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"trace_id":%q,"span_id":"%016x","name":"chat","start_time":"2026-01-01T00:00:00Z","end_time":"2026-01-01T00:00:01Z","input_text":%q}`,
			traceID, i+1, strings.Repeat("x", pad))
	}
	b.WriteString(`]}`)
	return b.Bytes()
}

// Defect 2: with the broker frozen, every kind of span request is answered
// 503 (gRPC Unavailable) with a retry hint within kafka.produce_timeout +
// produceMargin, not when the broker comes back.
func TestCollectorAnswersWithinProduceTimeoutWhenBrokerFrozen(t *testing.T) {
	const produceTimeout = time.Second
	fk := newFrozenKafka(t, produceTimeout)
	c, m := startCollector(t, Config{}.WithKafka(fk.cfg), fk.client)
	limit := produceTimeout + produceMargin + 1500*time.Millisecond
	httpc := &http.Client{Timeout: 3 * limit} // on the old code the request hangs: fail, don't hang
	pb, _ := proto.Marshal(ingesttest.Request(21, 3, 2))
	spans := jsonSpansBody("0102030405060708090a0b0c0d0e0f10", 2, 10)

	check := func(t *testing.T, took time.Duration, ok bool, what string) {
		t.Helper()
		if !ok {
			t.Fatalf("%s", what)
		}
		if took > limit {
			t.Fatalf("answered after %v, want within kafka.produce_timeout (%v) + margin (%v)", took, produceTimeout, limit-produceTimeout)
		}
	}
	t.Run("group", func(t *testing.T) {
		for _, tc := range []struct {
			name, path, ctype string
			body              []byte
		}{
			{"otlp protobuf", "/v1/traces", "application/x-protobuf", pb},
			{"json spans", "/v1/spans", "application/json", spans},
		} {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				start := time.Now()
				resp, err := httpc.Post("http://"+c.HTTPAddr()+tc.path, tc.ctype, bytes.NewReader(tc.body))
				if err != nil {
					t.Fatalf("no answer: %v", err)
				}
				defer resp.Body.Close()
				msg, _ := io.ReadAll(resp.Body)
				check(t, time.Since(start), resp.StatusCode == 503 && resp.Header.Get("Retry-After") != "" && strings.Contains(string(msg), "not guaranteed stored"),
					fmt.Sprintf("got %d (Retry-After %q) %q, want 503 with Retry-After saying the records are not guaranteed stored", resp.StatusCode, resp.Header.Get("Retry-After"), msg))
			})
		}
		t.Run("grpc", func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 3*limit)
			defer cancel()
			start := time.Now()
			_, err := grpcClient(t, c.GRPCAddr()).Export(ctx, ingesttest.Request(22, 2, 2))
			st := status.Convert(err)
			var retry bool
			for _, d := range st.Details() {
				_, retry = d.(*errdetails.RetryInfo)
			}
			check(t, time.Since(start), st.Code() == codes.Unavailable && retry && strings.Contains(st.Message(), "not guaranteed stored"),
				fmt.Sprintf("got %v (details %v), want Unavailable with RetryInfo", err, st.Details()))
		})
	})
	if got := testutil.ToFloat64(m.Rejected.WithLabelValues("grpc", reasonTimeout)); got != 1 {
		t.Fatalf("grpc kafka_timeout rejections counted %v, want 1", got)
	}
	// The records given up on are released once Kafka answers for them.
	fk.thaw()
	ingesttest.Eventually(t, 10*time.Second, "in-flight bytes released after the broker came back", func() bool { n, _ := c.inflight.held(); return n == 0 })
}

// bigTrace is a request holding one trace whose spans carry about size
// bytes in all.
func bigTrace(seed uint64, spans, size int) *coltracepb.ExportTraceServiceRequest {
	req := ingesttest.Request(seed, 1, spans)
	for _, sp := range req.ResourceSpans[0].ScopeSpans[0].Spans {
		sp.Attributes = append(sp.Attributes, ingesttest.StrAttr("pad", strings.Repeat("p", size/spans)))
	}
	return req
}

// Defect 4: what can never fit is 413 naming the limit (and the trace),
// not 503 forever.
func TestCollectorRefusesWhatCanNeverFit(t *testing.T) {
	small := Config{MaxBodyBytes: 4 << 20, MaxRecordBytes: 256 << 10, MaxBufferedBytes: 1 << 20}
	oneBig := bigTrace(31, 3, 300<<10)
	oneBigPB, _ := proto.Marshal(oneBig)
	oneBigID := hex.EncodeToString(oneBig.ResourceSpans[0].ScopeSpans[0].Spans[0].TraceId)
	many := ingesttest.Request(32, 12, 1)
	for _, sp := range many.ResourceSpans[0].ScopeSpans[0].Spans {
		sp.Attributes = append(sp.Attributes, ingesttest.StrAttr("pad", strings.Repeat("p", 100<<10)))
	}
	manyPB, _ := proto.Marshal(many)
	// The case at the default limits: a protobuf body just under
	// collector.max_body_bytes (16 MiB), one trace, makes a record over
	// kafka.max_record_bytes (16 MiB) once framed.
	huge := bigTrace(33, 1, DefaultMaxBodyBytes-4096)
	hugePB, _ := proto.Marshal(huge)
	pad := huge.ResourceSpans[0].ScopeSpans[0].Spans[0].Attributes
	pad[len(pad)-1].Value.GetValue().(*commonpb.AnyValue_StringValue).StringValue += strings.Repeat("p", DefaultMaxBodyBytes-16-len(hugePB))
	hugePB, _ = proto.Marshal(huge)
	if len(hugePB) > DefaultMaxBodyBytes {
		t.Fatalf("test body of %d bytes is over max_body_bytes", len(hugePB))
	}

	for _, tc := range []struct {
		name      string
		cfg       Config
		path      string
		ctype     string
		body      []byte
		prodErr   error
		wantTexts []string
	}{
		{"protobuf trace over max_record_bytes", small, "/v1/traces", "application/x-protobuf", oneBigPB, nil, []string{"kafka.max_record_bytes", oneBigID}},
		{"json spans trace over max_record_bytes", small, "/v1/spans", "application/json", jsonSpansBody("0102030405060708090a0b0c0d0e0f11", 3, 100<<10), nil, []string{"kafka.max_record_bytes", "0102030405060708090a0b0c0d0e0f11"}},
		{"request over max_buffered_bytes", small, "/v1/traces", "application/x-protobuf", manyPB, nil, []string{"kafka.max_buffered_bytes"}},
		{"16 MiB body at the defaults", Config{}, "/v1/traces", "application/x-protobuf", hugePB, nil, []string{"kafka.max_record_bytes", hex.EncodeToString(huge.ResourceSpans[0].ScopeSpans[0].Spans[0].TraceId)}},
		{"broker says MESSAGE_TOO_LARGE", small, "/v1/traces", "application/x-protobuf", func() []byte { b, _ := proto.Marshal(ingesttest.Request(34, 1, 1)); return b }(), kerr.MessageTooLarge, []string{"too large", "kafka.max_record_bytes"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			prod := &fakeProducer{err: tc.prodErr}
			c := New(tc.cfg, kafka.Config{}.WithDefaults().Topics, prod, NewMetrics(nil), nil)
			srv := httptest.NewServer(c.Handler())
			defer srv.Close()
			code, body, _ := post(t, srv.URL+tc.path, tc.ctype, tc.body)
			if code != http.StatusRequestEntityTooLarge {
				t.Fatalf("got %d %.300q, want 413", code, body)
			}
			for _, w := range tc.wantTexts {
				if !strings.Contains(body, w) {
					t.Fatalf("answer %.300q does not name %q", body, w)
				}
			}
			if tc.prodErr == nil && len(prod.recs) > 0 {
				t.Fatalf("%d records produced for a request answered 413", len(prod.recs))
			}
		})
	}
	t.Run("grpc", func(t *testing.T) {
		c := New(small, kafka.Config{}.WithDefaults().Topics, &fakeProducer{}, NewMetrics(nil), nil)
		_, err := c.Export(context.Background(), oneBig)
		if st := status.Convert(err); st.Code() != codes.InvalidArgument || !strings.Contains(st.Message(), "kafka.max_record_bytes") {
			t.Fatalf("got %v, want InvalidArgument naming kafka.max_record_bytes (not retryable)", err)
		}
	})
}

func TestConfigRefusesLimitsThatCannotWorkTogether(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"record over buffer", config.Prefix("kafka", kafka.Config{MaxRecordBytes: 32 << 20, MaxBufferedBytes: 16 << 20}.Validate()), "kafka.max_record_bytes"},
		{"inflight under body", config.Prefix("collector", Config{MaxBodyBytes: 16 << 20, MaxInflightBytes: 8 << 20}.Validate()), "collector.max_inflight_bytes"},
		{"negative inflight", config.Prefix("collector", Config{MaxInflightBytes: -1}.Validate()), "collector.max_inflight_bytes"},
		{"body over buffer", ValidateLimits(kafka.Config{MaxBufferedBytes: 8 << 20}, Config{MaxBodyBytes: 16 << 20}), "collector.max_body_bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.err == nil || !strings.Contains(tc.err.Error(), tc.want) {
				t.Fatalf("got %v, want an error naming %s", tc.err, tc.want)
			}
		})
	}
	if err := errors.Join(kafka.Config{}.WithDefaults().Validate(), Config{}.WithDefaults().Validate(), ValidateLimits(kafka.Config{}, Config{})); err != nil {
		t.Fatalf("the defaults are refused: %v", err)
	}
}

// Defect 5: with the broker frozen, many concurrent big requests never make
// the collector hold more than collector.max_inflight_bytes; those that
// cannot be admitted are answered 503 at once, their bodies unread.
func TestCollectorAdmissionBoundsInflightBytes(t *testing.T) {
	const (
		maxBody     = 1 << 20
		maxInflight = 3 << 20
		senders     = 16
	)
	fk := newFrozenKafka(t, 2*time.Second)
	c, m := startCollector(t, Config{MaxBodyBytes: maxBody, MaxInflightBytes: maxInflight}.WithKafka(fk.cfg), fk.client)

	type answer struct {
		code int
		took time.Duration
		msg  string
	}
	answers := make(chan answer, senders+4)
	var wg sync.WaitGroup
	for i := 0; i < senders; i++ {
		req := ingesttest.Request(uint64(100+i), 40, 2)
		for _, sp := range req.ResourceSpans[0].ScopeSpans[0].Spans {
			sp.Attributes = append(sp.Attributes, ingesttest.StrAttr("pad", strings.Repeat("p", 10<<10)))
		}
		body, _ := proto.Marshal(req)
		if len(body) > maxBody || len(body) < maxBody/2 {
			t.Fatalf("body of %d bytes", len(body))
		}
		var rd io.Reader = bytes.NewReader(body)
		if i%4 == 0 {
			rd = io.MultiReader(rd) // no Content-Length: chunked, admitted as read
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := time.Now()
			resp, err := (&http.Client{Timeout: 20 * time.Second}).Post("http://"+c.HTTPAddr()+"/v1/traces", "application/x-protobuf", rd)
			if err != nil {
				answers <- answer{code: -1, msg: err.Error()}
				return
			}
			msg, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			answers <- answer{resp.StatusCode, time.Since(start), string(msg)}
		}()
	}
	gc := grpcClient(t, c.GRPCAddr())
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			start := time.Now()
			_, err := gc.Export(ctx, ingesttest.Request(uint64(200+i), 40, 2))
			code := 200
			if st := status.Convert(err); st.Code() == codes.Unavailable {
				code = 503
			} else if err != nil {
				code = -1
			}
			answers <- answer{code, time.Since(start), status.Convert(err).Message()}
		}()
	}
	// Sample the gauge while the requests run.
	stop := make(chan struct{})
	var maxGauge float64
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			maxGauge = max(maxGauge, testutil.ToFloat64(m.InflightBytes))
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
			}
		}
	}()
	wg.Wait()
	close(stop)
	<-sampled
	close(answers)

	var refusedFast, timedOut int
	for a := range answers {
		switch {
		case a.code == 503 && strings.Contains(a.msg, "max_inflight_bytes"):
			if a.took < admissionWait+time.Second {
				refusedFast++
			}
		case a.code == 503 && strings.Contains(a.msg, "not guaranteed stored"):
			timedOut++
		default:
			t.Errorf("unexpected answer %d after %v: %.200s", a.code, a.took, a.msg)
		}
	}
	_, peak := c.inflight.held()
	t.Logf("%d refused by admission at once, %d admitted and timed out; peak in-flight %d bytes, gauge max %.0f (limit %d)", refusedFast, timedOut, peak, maxGauge, maxInflight)
	if refusedFast == 0 || timedOut == 0 {
		t.Fatalf("want some requests refused at once by admission and some admitted: %d and %d", refusedFast, timedOut)
	}
	if peak > maxInflight || maxGauge > maxInflight {
		t.Fatalf("in-flight bytes reached %d (gauge %.0f), over collector.max_inflight_bytes %d", peak, maxGauge, maxInflight)
	}
	if got := testutil.ToFloat64(m.Rejected.WithLabelValues("traces", reasonInflightFull)); got == 0 {
		t.Fatal("admission refusals not counted")
	}
	fk.thaw()
	ingesttest.Eventually(t, 10*time.Second, "in-flight bytes released after the broker came back", func() bool { return testutil.ToFloat64(m.InflightBytes) == 0 })
}
