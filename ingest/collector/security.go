package collector

import (
	"context"
	"crypto/subtle"
	"fmt"
	"net/http"
	"slices"
	"strings"

	collogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"

	"github.com/chainwatch/chainwatch/evaluators"
	"github.com/chainwatch/chainwatch/genai"
	"github.com/chainwatch/chainwatch/schemas"
)

// Security at the collector: API keys scoped to apps, and PII redaction
// before anything reaches Kafka.
//
// Scoped keys. A line of collector.api_keys_file may name the apps its key
// may write: "KEY apps=support-bot,search". A request with such a key
// whose spans or log records belong to another app (the App column's rule,
// genai.SpanApp) is refused whole with 403 naming the app; feedback, which
// names a trace and no app, is accepted from any valid key.
//
// Redaction. With collector.redact_pii.apps set ("*": every app), the
// e-mail addresses, phone numbers, card numbers, IBANs and API keys
// (evaluators.FindPII; collector.redact_pii.kinds narrows them) in the
// spans and log records of those apps are replaced by "[EMAIL]", … before
// the records are produced, so the original is stored nowhere: not in
// Kafka, not in ClickHouse. Redacted: span names, status messages, event
// names and every string attribute value (resource, scope, span, event,
// link, nested values included), log bodies and attributes, and — when
// apps is "*" — feedback comments. Keys and ids are not. Each replacement
// is counted in chainwatch_collector_redacted_total{kind}.

// RedactConfig is collector.redact_pii.
type RedactConfig struct {
	Apps  []string `yaml:"apps"`  // "*" for every app; empty: off
	Kinds []string `yaml:"kinds"` // email, phone, card_number, iban, api_key; empty: all
}

var piiKinds = []string{string(evaluators.PIIEmail), string(evaluators.PIIPhone), string(evaluators.PIICardNumber), string(evaluators.PIIIBAN), string(evaluators.PIIAPIKey)}

// Validate names an unknown kind.
func (r RedactConfig) Validate() error {
	for _, k := range r.Kinds {
		if !slices.Contains(piiKinds, k) {
			return fmt.Errorf("redact_pii.kinds: unknown kind %q (known: %s)", k, strings.Join(piiKinds, ", "))
		}
	}
	return nil
}

func (r RedactConfig) on() bool { return len(r.Apps) > 0 }

func (r RedactConfig) forApp(app string) bool {
	return slices.Contains(r.Apps, "*") || slices.Contains(r.Apps, app)
}

// apiKey is one accepted key and the apps it may write (nil: any).
type apiKey struct {
	key  []byte
	apps []string
}

// parseAPIKey reads "KEY" or "KEY apps=a,b".
func parseAPIKey(line string) apiKey {
	f := strings.Fields(line)
	if len(f) == 0 {
		return apiKey{}
	}
	k := apiKey{key: []byte(f[0])}
	for _, opt := range f[1:] {
		if v, ok := strings.CutPrefix(opt, "apps="); ok {
			for _, a := range strings.Split(v, ",") {
				if a = strings.TrimSpace(a); a != "" {
					k.apps = append(k.apps, a)
				}
			}
		}
	}
	return k
}

type scopeKey struct{}

// withScope records the apps the request's key may write.
func withScope(ctx context.Context, apps []string) context.Context {
	if apps == nil {
		return ctx
	}
	return context.WithValue(ctx, scopeKey{}, apps)
}

func scopeFrom(ctx context.Context) []string {
	apps, _ := ctx.Value(scopeKey{}).([]string)
	return apps
}

// keyFor checks the request's API key (X-API-Key, or Authorization:
// Bearer) in constant time against every configured key; it returns the
// key's apps (nil: any) and whether it is accepted.
func (c *Collector) keyFor(h func(string) string) ([]string, bool) {
	if len(c.keys) == 0 {
		return nil, true
	}
	key := h("X-API-Key")
	if a := h("Authorization"); key == "" && len(a) > 7 && strings.EqualFold(a[:7], "bearer ") {
		key = a[7:]
	}
	if key == "" {
		return nil, false
	}
	var apps []string
	ok := false
	for _, k := range c.keys {
		if subtle.ConstantTimeCompare(k.key, []byte(key)) == 1 {
			ok, apps = true, k.apps
		}
	}
	return apps, ok
}

// needsMessage says whether a traces request must be decoded (not only
// split on the wire): its key is scoped, or PII is redacted.
func (c *Collector) needsMessage(ctx context.Context) bool {
	return scopeFrom(ctx) != nil || c.cfg.RedactPII.on()
}

func forbidden(app string, apps []string) *httpError {
	return &httpError{http.StatusForbidden, reasonForbidden, fmt.Sprintf("this API key may write only for the apps %s; the request holds data of app %q", strings.Join(apps, ", "), app)}
}

// secureTraces refuses a request holding spans of an app the key may not
// write, and redacts PII in the spans of the apps configured, in place.
func (c *Collector) secureTraces(ctx context.Context, req *coltracepb.ExportTraceServiceRequest) *httpError {
	apps := scopeFrom(ctx)
	for _, rs := range req.GetResourceSpans() {
		resDone := false // a resource's (and a scope's) attributes are redacted once, for its first span of a redacted app
		for _, ss := range rs.GetScopeSpans() {
			scopeDone := false
			for _, sp := range ss.GetSpans() {
				app := genai.SpanApp(rs.GetResource(), ss.GetScope(), sp)
				if apps != nil && !slices.Contains(apps, app) {
					return forbidden(app, apps)
				}
				if !c.cfg.RedactPII.forApp(app) {
					continue
				}
				if !resDone {
					c.redactKVs(rs.GetResource().GetAttributes())
					resDone = true
				}
				if !scopeDone {
					c.redactKVs(ss.GetScope().GetAttributes())
					scopeDone = true
				}
				sp.Name = c.redact(sp.Name)
				if sp.Status != nil {
					sp.Status.Message = c.redact(sp.Status.Message)
				}
				c.redactKVs(sp.Attributes)
				for _, ev := range sp.Events {
					ev.Name = c.redact(ev.Name)
					c.redactKVs(ev.Attributes)
				}
				for _, ln := range sp.Links {
					c.redactKVs(ln.Attributes)
				}
			}
		}
	}
	return nil
}

// secureLogs is secureTraces for log records.
func (c *Collector) secureLogs(ctx context.Context, req *collogspb.ExportLogsServiceRequest) *httpError {
	apps := scopeFrom(ctx)
	for _, rl := range req.GetResourceLogs() {
		resDone := false
		for _, sl := range rl.GetScopeLogs() {
			scopeDone := false
			for _, lr := range sl.GetLogRecords() {
				app := genai.LogApp(rl.GetResource(), lr)
				if apps != nil && !slices.Contains(apps, app) {
					return forbidden(app, apps)
				}
				if !c.cfg.RedactPII.forApp(app) {
					continue
				}
				if !resDone {
					c.redactKVs(rl.GetResource().GetAttributes())
					resDone = true
				}
				if !scopeDone {
					c.redactKVs(sl.GetScope().GetAttributes())
					scopeDone = true
				}
				c.redactAny(lr.Body)
				c.redactKVs(lr.Attributes)
			}
		}
	}
	return nil
}

// secureFeedback redacts feedback comments when every app is redacted.
func (c *Collector) secureFeedback(items []schemas.Feedback) {
	if !slices.Contains(c.cfg.RedactPII.Apps, "*") {
		return
	}
	for i := range items {
		items[i].Comment = c.redact(items[i].Comment)
	}
}

func (c *Collector) redactKVs(kvs []*commonpb.KeyValue) {
	for _, kv := range kvs {
		c.redactAny(kv.GetValue())
	}
}

func (c *Collector) redactAny(v *commonpb.AnyValue) {
	switch x := v.GetValue().(type) {
	case *commonpb.AnyValue_StringValue:
		x.StringValue = c.redact(x.StringValue)
	case *commonpb.AnyValue_ArrayValue:
		for _, e := range x.ArrayValue.GetValues() {
			c.redactAny(e)
		}
	case *commonpb.AnyValue_KvlistValue:
		c.redactKVs(x.KvlistValue.GetValues())
	}
}

// redact replaces the configured kinds of PII in s by "[KIND]" and counts
// them.
func (c *Collector) redact(s string) string {
	if len(s) < 6 { // nothing FindPII reports is shorter
		return s
	}
	fs := evaluators.FindPII(s)
	if len(fs) == 0 {
		return s
	}
	var b strings.Builder
	last := 0
	for _, f := range fs {
		if len(c.cfg.RedactPII.Kinds) > 0 && !slices.Contains(c.cfg.RedactPII.Kinds, f.Kind) {
			continue
		}
		b.WriteString(s[last:f.Start])
		b.WriteString("[" + strings.ToUpper(f.Kind) + "]")
		last = f.End
		c.m.Redacted.WithLabelValues(f.Kind).Inc()
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}
