package collector

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	collogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/chainwatch/chainwatch/internal/tlsfiles"
	"github.com/chainwatch/chainwatch/internal/tlsfiles/tlsfilestest"
	"github.com/chainwatch/chainwatch/kafka"
)

// TLS on both listeners, the certificate renewed on disk without a
// restart; a renewal that does not load keeps the previous certificate.
func TestCollectorTLSReloads(t *testing.T) {
	dir := t.TempDir()
	pool1 := tlsfilestest.Write(t, dir, 1)
	prod := &fakeProducer{}
	cfg := Config{HTTPAddr: "127.0.0.1:0", GRPCAddr: "127.0.0.1:0", TLS: tlsfiles.Config{CertFile: filepath.Join(dir, "cert.pem"), KeyFile: filepath.Join(dir, "key.pem")}}
	c, _ := startCollector(t, cfg, prod)
	body, _ := proto.Marshal(&coltracepb.ExportTraceServiceRequest{})
	serial := func(pool *x509.CertPool) (int64, error) {
		tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
		defer tr.CloseIdleConnections()
		resp, err := (&http.Client{Transport: tr}).Post("https://"+c.HTTPAddr()+"/v1/traces", "application/x-protobuf", strings.NewReader(string(body)))
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("status %d", resp.StatusCode)
		}
		return resp.TLS.PeerCertificates[0].SerialNumber.Int64(), nil
	}
	if s, err := serial(pool1); err != nil || s != 1 {
		t.Fatalf("serial %d, %v", s, err)
	}
	if resp, err := http.Post("http://"+c.HTTPAddr()+"/v1/traces", "application/x-protobuf", strings.NewReader("")); err == nil && resp.StatusCode == 200 {
		t.Fatal("plain HTTP accepted on a TLS listener")
	}
	// gRPC over TLS with the OpenTelemetry Go SDK's exporter.
	exp, err := otlptracegrpc.New(context.Background(), otlptracegrpc.WithEndpoint(c.GRPCAddr()),
		otlptracegrpc.WithTLSCredentials(credentialsFor(pool1)))
	if err != nil {
		t.Fatal(err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithResource(resource.NewSchemaless(attribute.String("service.name", "tls-app"))), sdktrace.WithSyncer(exp))
	_, sp := tp.Tracer("t").Start(context.Background(), "over tls")
	sp.End()
	if err := tp.Shutdown(context.Background()); err != nil {
		t.Fatalf("gRPC over TLS: %v", err)
	}
	if len(prod.recs) != 1 {
		t.Fatalf("%d records after the gRPC export", len(prod.recs))
	}

	pool2 := tlsfilestest.Write(t, dir, 2)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if s, err := serial(pool2); err == nil && s == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the renewed certificate was never served")
		}
		time.Sleep(300 * time.Millisecond)
	}
	os.WriteFile(filepath.Join(dir, "cert.pem"), []byte("not a certificate"), 0o600)
	time.Sleep(tlsfiles.DefaultInterval + 500*time.Millisecond)
	if s, err := serial(pool2); err != nil || s != 2 {
		t.Fatalf("after a broken renewal: serial %d, %v; want the previous certificate", s, err)
	}
}

func credentialsFor(pool *x509.CertPool) credentials.TransportCredentials {
	return credentials.NewTLS(&tls.Config{RootCAs: pool})
}

func httptestServer(t *testing.T, c *Collector) *httptest.Server {
	srv := httptest.NewServer(c.Handler())
	t.Cleanup(srv.Close)
	return srv
}

// A key scoped to apps writes only their data: spans and log records of
// another app are refused whole with 403 (PermissionDenied over gRPC)
// naming the app; an unscoped key writes any app; feedback is accepted.
func TestScopedAPIKeys(t *testing.T) {
	prod := &fakeProducer{}
	c := New(Config{MaxBodyBytes: 1 << 20, APIKeys: []string{"key-support-1 apps=support-bot,faq", "key-admin-0001"}}, kafka.Config{}.WithDefaults().Topics, prod, NewMetrics(nil), nil)
	srv := httptestServer(t, c)
	traces := func(apps ...string) []byte {
		req := &coltracepb.ExportTraceServiceRequest{}
		for i, app := range apps {
			req.ResourceSpans = append(req.ResourceSpans, &tracepb.ResourceSpans{
				Resource: &resourcepb.Resource{Attributes: []*commonpb.KeyValue{strKV("service.name", app)}},
				ScopeSpans: []*tracepb.ScopeSpans{{Spans: []*tracepb.Span{{TraceId: []byte("0123456789abcdef"), SpanId: []byte{1, 2, 3, 4, 5, 6, 7, byte(i + 1)},
					StartTimeUnixNano: 1, EndTimeUnixNano: 2}}}}})
		}
		b, _ := proto.Marshal(req)
		return b
	}
	if code, body, _ := post(t, srv.URL+"/v1/traces", "application/x-protobuf", traces("support-bot", "faq"), "X-API-Key", "key-support-1"); code != 200 {
		t.Fatalf("own apps: %d %s", code, body)
	}
	code, body, _ := post(t, srv.URL+"/v1/traces", "application/x-protobuf", traces("support-bot", "billing"), "Authorization", "Bearer key-support-1")
	if msg := answerText(t, "/v1/traces", "application/x-protobuf", code, body); code != 403 || !strings.Contains(msg, `may write only for the apps support-bot, faq; the request holds data of app "billing"`) {
		t.Fatalf("other app: %d %q", code, msg)
	}
	if code, _, _ := post(t, srv.URL+"/v1/traces", "application/x-protobuf", traces("billing"), "X-API-Key", "key-admin-0001"); code != 200 {
		t.Fatalf("unscoped key: %d", code)
	}
	logs, _ := proto.Marshal(&collogspb.ExportLogsServiceRequest{ResourceLogs: []*logspb.ResourceLogs{{Resource: &resourcepb.Resource{Attributes: []*commonpb.KeyValue{strKV("service.name", "billing")}},
		ScopeLogs: []*logspb.ScopeLogs{{LogRecords: []*logspb.LogRecord{{Body: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: "x"}}}}}}}}})
	if code, body, _ := post(t, srv.URL+"/v1/logs", "application/x-protobuf", logs, "X-API-Key", "key-support-1"); code != 403 || !strings.Contains(answerText(t, "/v1/traces", "application/x-protobuf", code, body), `"billing"`) {
		t.Fatalf("logs of another app: %d %q", code, body)
	}
	if code, _, _ := post(t, srv.URL+"/v1/feedback", "application/json", []byte(`{"trace_id":"0102030405060708090a0b0c0d0e0f10","score":1}`), "X-API-Key", "key-support-1"); code != 200 {
		t.Fatalf("feedback: %d", code)
	}
	if got := testutil.ToFloat64(c.m.Rejected.WithLabelValues("traces", reasonForbidden)); got != 1 {
		t.Errorf("rejected{forbidden} = %v", got)
	}
	// gRPC.
	c2, _ := startCollector(t, Config{HTTPAddr: "127.0.0.1:0", GRPCAddr: "127.0.0.1:0", APIKeys: []string{"key-support-1 apps=support-bot"}}, &fakeProducer{})
	conn, err := grpc.NewClient(c2.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var req coltracepb.ExportTraceServiceRequest
	proto.Unmarshal(traces("billing"), &req)
	_, err = coltracepb.NewTraceServiceClient(conn).Export(metadata.AppendToOutgoingContext(context.Background(), "x-api-key", "key-support-1"), &req)
	if status.Code(err) != codes.PermissionDenied || !strings.Contains(err.Error(), `"billing"`) {
		t.Fatalf("gRPC other app: %v", err)
	}
}

// Redaction before Kafka: e-mail addresses and card numbers in a
// configured app's span (attributes, nested values, events, status) and
// log records are replaced in the Kafka records; another app's are not;
// every replacement is counted by kind.
func TestRedactionBeforeKafka(t *testing.T) {
	prod := &fakeProducer{}
	c := New(Config{MaxBodyBytes: 1 << 20, RedactPII: RedactConfig{Apps: []string{"support-bot"}, Kinds: []string{"email", "card_number"}}},
		kafka.Config{}.WithDefaults().Topics, prod, NewMetrics(nil), nil)
	srv := httptestServer(t, c)
	secret := "mail jane.doe@example.com, card 4111 1111 1111 1111, call +44 20 7946 0958"
	span := func(app string, id byte) *tracepb.ResourceSpans {
		return &tracepb.ResourceSpans{Resource: &resourcepb.Resource{Attributes: []*commonpb.KeyValue{strKV("service.name", app)}},
			ScopeSpans: []*tracepb.ScopeSpans{{Spans: []*tracepb.Span{{TraceId: []byte("0123456789abcde" + string(rune('a'+id))), SpanId: []byte{1, 2, 3, 4, 5, 6, 7, id},
				StartTimeUnixNano: 1, EndTimeUnixNano: 2, Name: "chat",
				Attributes: []*commonpb.KeyValue{strKV("gen_ai.input.messages", secret), {Key: "nested", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_KvlistValue{KvlistValue: &commonpb.KeyValueList{Values: []*commonpb.KeyValue{strKV("deep", secret)}}}}}},
				Events:     []*tracepb.Span_Event{{Name: "gen_ai.user.message", Attributes: []*commonpb.KeyValue{strKV("content", secret)}}},
				Status:     &tracepb.Status{Code: tracepb.Status_STATUS_CODE_ERROR, Message: secret}}}}}}
	}
	body, _ := proto.Marshal(&coltracepb.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{span("support-bot", 1), span("other", 2)}})
	if code, b, _ := post(t, srv.URL+"/v1/traces", "application/x-protobuf", body); code != 200 {
		t.Fatalf("%d %s", code, b)
	}
	logs, _ := proto.Marshal(&collogspb.ExportLogsServiceRequest{ResourceLogs: []*logspb.ResourceLogs{{Resource: &resourcepb.Resource{Attributes: []*commonpb.KeyValue{strKV("service.name", "support-bot")}},
		ScopeLogs: []*logspb.ScopeLogs{{LogRecords: []*logspb.LogRecord{{Body: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: secret}}, Attributes: []*commonpb.KeyValue{strKV("content", secret)}}}}}}}})
	if code, b, _ := post(t, srv.URL+"/v1/logs", "application/x-protobuf", logs); code != 200 {
		t.Fatalf("logs: %d %s", code, b)
	}
	var redacted, kept int
	for _, r := range prod.recs {
		v := string(r.Value)
		switch {
		case strings.Contains(v, "jane.doe@example.com") && strings.Contains(v, "other"):
			kept++
		case strings.Contains(v, "jane.doe@example.com") || strings.Contains(v, "4111 1111 1111 1111"):
			t.Errorf("record %s of a redacted app holds the original", r.Key)
		case strings.Contains(v, "[EMAIL]") && strings.Contains(v, "[CARD_NUMBER]"):
			redacted++
			if !strings.Contains(v, "+44 20 7946 0958") {
				t.Errorf("a phone number was redacted though kinds names email and card_number only")
			}
		}
	}
	if redacted != 2 || kept != 1 {
		t.Errorf("%d redacted records (want 2: spans, logs), %d kept as sent (want 1: the other app)", redacted, kept)
	}
	// 4 texts in the span (attribute, nested, event, status) + 2 in the log, each with one e-mail and one card.
	if e, k := testutil.ToFloat64(c.m.Redacted.WithLabelValues("email")), testutil.ToFloat64(c.m.Redacted.WithLabelValues("card_number")); e != 6 || k != 6 {
		t.Errorf("redacted_total email %v, card_number %v; want 6 and 6", e, k)
	}
}

func strKV(k, v string) *commonpb.KeyValue {
	return &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: v}}}
}
