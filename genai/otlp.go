// The OTLP GenAI mapping: AppendSpans and the mapper that turns one span
// into a Span row, component kinds and template ids.

package genai

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/chainwatch/chainwatch/schemas"
)

// This file maps OTLP trace requests onto Span rows. The rules, and the
// precedence between the dialects GenAI instrumentations speak, are written
// down in MAPPING.md ("GenAI attribute mapping"); keep the two in step.
//
// The mapping is on the writer's hot path: no reflection, no fmt, one pass
// over each span's attributes with a string switch, text taken as substrings
// of the attribute values wherever no unescaping or joining is needed.

// AppendSpans maps every span of req onto a Span appended to dst and returns
// the extended slice. A span that fails the structural checks (see
// ValidateOTLP) is skipped and reported in the error; every other span is
// still appended, so the returned slice is meaningful even when the error is
// not nil. Unknown attributes and malformed content never cause a span to be
// skipped.
//
// There is one mapping, and it reads the wire view (wire.go): each
// resource, scope and span of req is encoded (proto.Marshal) and read as a
// record's would be; the strings of the result share memory with those
// encodings. A nil resource_spans, scope_spans, span or attribute is
// skipped, as if absent. A span that cannot be encoded (a string that is
// not UTF-8, which no decoded request holds) is skipped and reported.
// AppendSpans keeps no state between calls and is safe for concurrent use.
func AppendSpans(dst []schemas.Span, req *coltracepb.ExportTraceServiceRequest) ([]schemas.Span, error) {
	if len(req.GetResourceSpans()) == 0 {
		return dst, nil
	}
	t := getSpanMapper()
	defer putSpanMapper(t)
	r, m := &t.r, &t.m
	r.strict = false
	t.errs.Reset()
	for ri, rs := range req.GetResourceSpans() {
		if rs == nil {
			continue
		}
		res := rs.GetResource()
		if slices.Contains(res.GetAttributes(), nil) {
			res = &resourcepb.Resource{Attributes: withoutNils(res.Attributes), DroppedAttributesCount: res.DroppedAttributesCount}
		}
		b, err := proto.Marshal(res)
		if err != nil || !r.resource(b) {
			r.res = r.res[:0]
		}
		m.setResource(r.res)
		for si, ss := range rs.GetScopeSpans() {
			if ss == nil {
				continue
			}
			sc := ss.GetScope()
			if slices.Contains(sc.GetAttributes(), nil) {
				sc = &commonpb.InstrumentationScope{Name: sc.Name, Version: sc.Version, Attributes: withoutNils(sc.Attributes), DroppedAttributesCount: sc.DroppedAttributesCount}
			}
			b, err := proto.Marshal(sc)
			if err != nil || !r.scopeFields(b) {
				r.scope, r.scopeName, r.scopeVersion = r.scope[:0], "", ""
			}
			m.setScope(r.scopeName, r.scopeVersion, r.scope)
			for pi, sp := range ss.GetSpans() {
				if sp == nil {
					continue
				}
				if field, reason := checkOTLPSpan(sp); field != "" {
					t.errs.Add(newSpanError(ri, si, pi, sp, field, reason))
					continue
				}
				if slices.Contains(sp.Attributes, nil) {
					sp = &tracepb.Span{
						TraceId: sp.TraceId, SpanId: sp.SpanId, TraceState: sp.TraceState, ParentSpanId: sp.ParentSpanId, Flags: sp.Flags,
						Name: sp.Name, Kind: sp.Kind, StartTimeUnixNano: sp.StartTimeUnixNano, EndTimeUnixNano: sp.EndTimeUnixNano,
						Attributes: withoutNils(sp.Attributes), DroppedAttributesCount: sp.DroppedAttributesCount,
						Events: sp.Events, DroppedEventsCount: sp.DroppedEventsCount, Links: sp.Links, DroppedLinksCount: sp.DroppedLinksCount,
						Status: sp.Status,
					}
				}
				b, err := proto.Marshal(sp)
				if err == nil && !r.span(b) {
					err = errors.New("its encoding does not read back")
				}
				if err != nil {
					t.errs.Add(NewSpanError(ri, si, pi, sp.SpanId, "span", "cannot be encoded: "+err.Error()))
					continue
				}
				dst = append(dst, schemas.Span{})
				m.mapSpan(&dst[len(dst)-1], &r.sp)
			}
		}
	}
	return dst, t.errs.Err()
}

// withoutNils is kvs without its nil entries.
func withoutNils(kvs []*commonpb.KeyValue) []*commonpb.KeyValue {
	return slices.DeleteFunc(slices.Clone(kvs), func(kv *commonpb.KeyValue) bool { return kv == nil })
}

// spanMapper is the wire reader and the mapper with their scratch, pooled:
// a record of a few spans does not regrow them.
type spanMapper struct {
	r       wireReader
	m       otlpMapper
	errs    SpanErrorList
	pending []pendingScore
}

// pendingScore is a score taken from an evaluation event, to be tied to its
// span by id once the request is mapped (see evaluations).
type pendingScore struct {
	i       int  // index into the scores
	endTime bool // Created is the span's end (the event had no time)
}

var spanMappers = sync.Pool{New: func() any { return new(spanMapper) }}

func getSpanMapper() *spanMapper { return spanMappers.Get().(*spanMapper) }

func putSpanMapper(t *spanMapper) {
	// Drop what aliases the record, so that a pooled mapper does not keep
	// it alive (a slice grown past poolKeep is dropped whole: clearing it
	// for every small record after would cost more than growing it again).
	r := &t.r
	r.res, r.scope, r.spAttrs, r.evKVs = reuse(r.res), reuse(r.scope), reuse(r.spAttrs), reuse(r.evKVs)
	r.events, r.links = reuse(r.events), reuse(r.links)
	r.sp, r.scopeName, r.scopeVersion = wSpan{}, "", ""
	t.m.res, t.m.scope, t.m.sp = aslots{}, aslots{}, aslots{}
	t.m.unk, t.m.idx = reuse(t.m.unk), reuse(t.m.idx)
	t.m.resRest, t.m.scopeRest = reuse(t.m.resRest), reuse(t.m.scopeRest)
	t.m.in.reset(true)
	t.m.out.reset(false)
	t.m.tmp.reset(false)
	t.errs.Reset()
	spanMappers.Put(t)
}

const poolKeep = 1024

func reuse[T any](s []T) []T {
	if cap(s) > poolKeep {
		return nil
	}
	clear(s[:cap(s)])
	return s[:0]
}

// run maps the encoded ExportTraceServiceRequest b onto dst and, when
// wantScores, its evaluation events onto scores; span errors are left in
// t.errs. strict: b is a record as it came (see wire.go); ok false means
// the strict reader gave up, or (not strict) that b is malformed. When ok
// is false, what was appended is meaningless.
func (t *spanMapper) run(dst []schemas.Span, scores []schemas.Score, b []byte, strict, wantScores bool) ([]schemas.Span, []schemas.Score, bool) {
	r, m := &t.r, &t.m
	r.strict = strict
	t.errs.Reset()
	t.pending = t.pending[:0]
	n0 := len(dst)
	var f field
	for ri := 0; len(b) > 0; {
		ok, skip := next(&b, &f, strict)
		if !ok {
			return dst, scores, false
		}
		if skip {
			continue
		}
		match, ok := f.is(1, protowire.BytesType, strict)
		if !ok || !match && !fsRequest.unread(f.num, strict) {
			return dst, scores, false
		}
		if !match {
			continue
		}
		if !r.resourceSpans(f.b) {
			return dst, scores, false
		}
		m.setResource(r.res)
		scopes := entries{b: f.b, num: 2}
		for si := 0; ; si++ {
			sb, more := scopes.next()
			if !more {
				break
			}
			if !r.scopeSpans(sb) {
				return dst, scores, false
			}
			m.setScope(r.scopeName, r.scopeVersion, r.scope)
			spans := entries{b: sb, num: 2}
			for pi := 0; ; pi++ {
				pb, more := spans.next()
				if !more {
					break
				}
				if !r.span(pb) {
					return dst, scores, false
				}
				sp := &r.sp
				if field, reason := CheckSpanFields(sp.traceID, sp.spanID, sp.parentID, sp.start, sp.end); field != "" {
					t.errs.Add(NewSpanError(ri, si, pi, sp.spanID, field, reason))
					continue
				}
				dst = append(dst, schemas.Span{})
				out := &dst[len(dst)-1]
				m.mapSpan(out, sp)
				if wantScores {
					scores = t.evaluations(scores, out, sp)
				}
			}
		}
		ri++
	}
	if len(t.pending) > 0 {
		t.tieScores(scores, dst[n0:])
	}
	return dst, scores, true
}

// otlpMapper holds the per-resource and per-scope state and the scratch
// buffers reused from span to span.
type otlpMapper struct {
	res, scope, sp aslots
	resRest        []kvStr
	scopeRest      []kvStr
	consumed       [akCount]bool

	unk     []*wKV
	idx     []idxEntry
	idxMask uint8
	evClass []uint8
	evUsed  []bool
	evDone  []bool
	evMask  uint64

	in, out, tmp textAcc
	warn         []byte
	attrs        map[string]string

	// oneEvent: the span is one GenAI event sent as a log record
	// (eventRenderer). Its input side then never reads tool calls as text:
	// on a span an assistant message that only called a tool is one of
	// several messages, whose calls stay parts; alone, it would otherwise
	// become "tool_call …" text in the merged input.
	oneEvent bool
}

// setResource reads a resource's attributes; the slots point into attrs,
// which must not change while its spans are mapped.
func (m *otlpMapper) setResource(attrs []wKV) {
	m.res = aslots{}
	m.resRest = scanLevel(attrs, &m.res, m.resRest[:0])
}

func (m *otlpMapper) setScope(name, version string, attrs []wKV) {
	m.scope = aslots{}
	m.scopeRest = scanLevel(attrs, &m.scope, m.scopeRest[:0])
	if name != "" {
		m.scopeRest = append(m.scopeRest, kvStr{schemas.AttrScopeName, name})
	}
	if version != "" {
		m.scopeRest = append(m.scopeRest, kvStr{schemas.AttrScopeVersion, version})
	}
}

// scanLevel sorts resource or scope attributes into known slots and the
// flattened rest.
func scanLevel(attrs []wKV, slots *aslots, rest []kvStr) []kvStr {
	for i := range attrs {
		kv := &attrs[i]
		if k := lookupAKey(kv.key); k != akNone {
			if kv.v.typ != vAbsent {
				slots[k] = &kv.v
			}
			continue
		}
		rest = append(rest, kvStr{kv.key, anyString(kv.v)})
	}
	return rest
}

func (m *otlpMapper) get(k akey) *wVal {
	if v := m.sp[k]; v != nil {
		return v
	}
	if v := m.scope[k]; v != nil {
		return v
	}
	return m.res[k]
}

func (m *otlpMapper) str(k akey) string {
	if v := m.get(k); v != nil {
		return anyString(*v)
	}
	return ""
}

// pick returns the first non-empty value among keys (highest precedence
// first) and marks as consumed every key holding that same value; keys that
// disagree stay in the attributes.
func (m *otlpMapper) pick(keys ...akey) string {
	var vals [4]string
	win := ""
	for i, k := range keys {
		if m.get(k) == nil {
			continue
		}
		vals[i] = m.str(k)
		if win == "" {
			win = vals[i]
		}
	}
	if win == "" {
		return ""
	}
	for i, k := range keys {
		if vals[i] == win {
			m.consumed[k] = true
		}
	}
	return win
}

// pickCount is pick for token counts: ints, doubles or numeric strings. A
// value that is no count stays in the attributes, unless another key gave
// the count: then it is dropped with a warning that quotes it.
func (m *otlpMapper) pickCount(keys ...akey) int64 {
	var vals [4]int64
	var ok [4]bool
	win, found := int64(0), false
	for i, k := range keys {
		if v := m.get(k); v != nil {
			vals[i], ok[i] = anyCount(*v)
		}
		if ok[i] && !found {
			win, found = vals[i], true
		}
	}
	if !found {
		return 0
	}
	for i, k := range keys {
		switch {
		case ok[i] && vals[i] == win:
			m.consumed[k] = true
		case !ok[i] && m.get(k) != nil:
			m.consumed[k] = true
			m.addWarning(akNames[k] + ": " + strconv.Quote(m.str(k)) + " is not a token count")
		}
	}
	return win
}

// mapSpan maps one span that passed CheckSpanFields.
func (m *otlpMapper) mapSpan(out *schemas.Span, sp *wSpan) {
	var ids [64]byte
	hex.Encode(ids[0:32], sp.traceID)
	hex.Encode(ids[32:48], sp.spanID)
	n := 48
	if len(sp.parentID) == 8 && !allZero(sp.parentID) {
		hex.Encode(ids[48:64], sp.parentID)
		n = 64
	}
	s := string(ids[:n])
	out.TraceID, out.SpanID = s[0:32], s[32:48]
	if n == 64 {
		out.ParentSpanID = s[48:64]
	}
	out.Name = sp.name
	out.StartTime = time.Unix(0, int64(sp.start)).UTC()
	out.EndTime = time.Unix(0, int64(sp.end)).UTC()

	// Sort the span's attributes: known keys into slots, indexed message
	// keys aside, everything else straight to the map later.
	m.sp = aslots{}
	m.consumed = [akCount]bool{}
	m.unk, m.idx, m.idxMask = m.unk[:0], m.idx[:0], 0
	for a := range sp.attrs {
		kv := &sp.attrs[a]
		if k := lookupAKey(kv.key); k != akNone {
			if kv.v.typ != vAbsent {
				m.sp[k] = &kv.v
			}
			continue
		}
		if src, field, i, j, ok := parseIndexedKey(kv.key); ok {
			m.idx = append(m.idx, idxEntry{src: src, field: field, i: i, j: j, kv: kv})
			m.idxMask |= 1 << src
			continue
		}
		m.unk = append(m.unk, kv)
	}
	if len(m.idx) > 1 {
		slices.SortStableFunc(m.idx, cmpIdxEntry)
	}
	m.evClass, m.evUsed, m.evDone, m.evMask = m.evClass[:0], m.evUsed[:0], m.evDone[:0], 0
	for e := range sp.events {
		c := classifyEvent(sp.events[e].name)
		m.evClass = append(m.evClass, c)
		m.evUsed = append(m.evUsed, false)
		m.evDone = append(m.evDone, false)
		m.evMask |= 1 << c
	}
	m.warn = m.warn[:0]

	// Columns.
	out.App = m.pick(akCWApp, akServiceName)
	out.Environment = m.pick(akCWEnv, akDeployEnvName, akDeployEnv)
	out.ChainName = m.pick(akCWChainName, akTLWorkflowName)
	out.ChainVersion = m.pick(akCWChainVersion)
	if out.ChainVersion == "" && m.str(akTLSpanKind) == "workflow" {
		out.ChainVersion = m.pick(akTLEntityVersion)
	}
	out.ComponentName = m.pick(akCWComponentName, akToolName, akAgentName, akTLEntityName)
	if out.ComponentName == "" {
		out.ComponentName = sp.name
	}
	out.Operation = m.pick(akOperation)
	out.ComponentKind = m.componentKind(out.Operation)
	if out.Operation == "" {
		out.Operation = operationFromRequestType(m.str(akLLMRequestType))
	}
	if out.Operation == "" {
		out.Operation = operationFromOIKind(m.str(akOISpanKind))
	}
	out.Provider = m.pick(akProviderName, akGenAISystem, akLLMProvider, akLLMSystem)
	// OpenInference's llm.model_name is the model the provider returned; the
	// requested one is in llm.invocation_parameters, an embedding span's in
	// embedding.model_name. llm.model_name stands in for the requested model
	// only when nothing names it.
	out.ModelRequested = m.pick(akRequestModel)
	if out.ModelRequested == "" {
		out.ModelRequested = invocationModel(m.str(akLLMInvocationParams))
	}
	if out.ModelRequested == "" {
		out.ModelRequested = m.pick(akEmbeddingModelName, akLLMModelName)
	}
	out.ModelReturned = m.pick(akResponseModel, akLLMModelName, akEmbeddingModelName)
	out.PromptTemplateID = m.pick(akCWTemplateID, akTLPromptKey)
	if out.PromptTemplateID == "" {
		if t := m.str(akOIPromptTemplate); t != "" {
			out.PromptTemplateID = TemplateID(t)
		} else if t := m.str(akTLPromptTemplate); t != "" {
			out.PromptTemplateID = TemplateID(t)
		}
	}
	out.PromptTemplateVersion = m.pick(akCWTemplateVersion, akOIPromptVersion, akTLPromptVersion)
	out.InputTokens = m.pickCount(akUsageInput, akUsagePrompt, akOITokPrompt)
	out.OutputTokens = m.pickCount(akUsageOutput, akUsageCompletion, akOITokCompletion)
	out.CacheReadInputTokens = m.pickCount(akUsageCacheRead)
	out.CacheCreationInputTokens = m.pickCount(akUsageCacheCreation)
	out.ReasoningOutputTokens = m.pickCount(akUsageReasoning)
	if v := m.get(akRequestStream); v != nil && v.typ == vBool {
		out.Stream, m.consumed[akRequestStream] = v.n != 0, true
	}
	if m.get(akRequestStream) == nil && invocationStream(m.str(akLLMInvocationParams)) {
		out.Stream = true // OpenInference: "stream": true in llm.invocation_parameters
	}
	if v := m.get(akTimeToFirstChunk); v != nil {
		switch v.typ {
		case vDouble:
			if d := math.Float64frombits(v.n); d >= 0 && d < 1e9 {
				out.TimeToFirstChunkMS, m.consumed[akTimeToFirstChunk] = d*1000, true
			}
		case vInt:
			if i := int64(v.n); i >= 0 && i < 1e9 {
				out.TimeToFirstChunkMS, m.consumed[akTimeToFirstChunk] = float64(i)*1000, true
			}
		}
	}
	if v := m.get(akToolDefinitions); nonEmpty(v) {
		out.ToolDefinitions, m.consumed[akToolDefinitions] = anyString(*v), true
	} else {
		out.ToolDefinitions = m.indexedToolDefinitions()
	}
	out.SessionID = m.pick(akCWSession, akSessionID, akConversationID)
	out.UserID = m.pick(akCWUser, akUserID, akEnduserID)

	m.in.reset(true)
	m.out.reset(false)
	m.systemInstructions()
	m.resolveText(&inputDir, &m.in, sp)
	m.resolveText(&outputDir, &m.out, sp)
	out.InputText = m.in.text.String()
	out.OutputText = m.out.text.String()
	out.SystemInstructions = m.in.sys.String()

	switch tracepb.Status_StatusCode(sp.statusCode) {
	case tracepb.Status_STATUS_CODE_ERROR:
		out.Status = schemas.StatusError
	case tracepb.Status_STATUS_CODE_OK:
		out.Status = schemas.StatusOK
	default:
		out.Status = schemas.StatusUnset
	}
	out.ErrorMessage = sp.statusMsg
	if out.Status == schemas.StatusError && out.ErrorMessage == "" {
		out.ErrorMessage = m.exceptionMessage(sp)
		if out.ErrorMessage == "" {
			out.ErrorMessage = m.str(akErrorType)
		}
	}

	m.fillAttributes(sp)
	// An apply_guardrail span's gen_ai.guardrail.result event(s), kept by
	// keepEvents as a JSON object (array), is the guardrail_result column.
	if g, ok := m.attrs[schemas.AttrEventPrefix+schemas.EventGuardrailResult]; ok {
		out.GuardrailResult = g
		delete(m.attrs, schemas.AttrEventPrefix+schemas.EventGuardrailResult)
		if len(m.attrs) == 0 {
			m.attrs = nil
		}
	}
	out.Attributes = m.attrs
	m.attrs = nil
}

func cmpIdxEntry(a, b idxEntry) int {
	if a.src != b.src {
		return int(a.src) - int(b.src)
	}
	if a.i != b.i {
		return int(a.i - b.i)
	}
	ra, rb := fieldRank(a.field), fieldRank(b.field)
	if ra != rb {
		return ra - rb
	}
	if a.j != b.j {
		return int(a.j - b.j)
	}
	return int(a.field) - int(b.field)
}

// fieldRank orders one message's keys: what it is (role, the call it
// answers), its content, then its tool calls.
func fieldRank(f uint8) int {
	switch f {
	case ifRole, ifToolCallID:
		return 0
	case ifContent:
		return 1
	case ifCText, ifCType:
		return 2
	}
	return 3
}

// KindFromOperation is the component kind a gen_ai.operation.name implies.
func KindFromOperation(op string) schemas.ComponentKind {
	switch op {
	case "chat", "text_completion", "generate_content":
		return schemas.KindLLM
	case "embeddings":
		return schemas.KindEmbedding
	case "execute_tool":
		return schemas.KindTool
	case "invoke_agent", "create_agent":
		return schemas.KindAgent
	case "invoke_workflow":
		return schemas.KindChain
	case "apply_guardrail":
		return schemas.KindGuardrail
	}
	return schemas.KindUnknown
}

// invocationModel is the "model" (else LangChain's "model_name") string of
// OpenInference's llm.invocation_parameters, a JSON object; "" when there is
// none or the value is not a JSON object.
func invocationModel(params string) string {
	p := jscan{s: params}
	if p.peek() != '{' {
		return ""
	}
	p.i++
	model, modelName := "", ""
	for first := true; ; first = false {
		key, done, ok := p.objNext(first)
		if !ok {
			return ""
		}
		if done {
			break
		}
		var v string
		if v, ok = p.strOrSkip(); !ok {
			return ""
		}
		switch key {
		case "model":
			model = v
		case "model_name":
			modelName = v
		}
	}
	if model != "" {
		return model
	}
	return modelName
}

// systemInstructions reads gen_ai.system_instructions (semconv 1.37+: the
// system prompt given apart from the messages, a JSON array of parts or a
// structured value) into the input's system text, as a system message's
// text would be, and consumes the key when it gave text. A value that is not
// valid JSON is read as plain text.
func (m *otlpMapper) systemInstructions() {
	v := m.get(akSystemInstructions)
	if !nonEmpty(v) {
		return
	}
	a := &m.in
	mk := a.mark()
	ctx := msgCtx{role: "system"}
	if v.typ == vString {
		p := jscan{s: v.s}
		if c := p.peek(); (c == '[' || c == '{') && a.contentJSON(&p, ctx) && p.peek() == 0 && p.i == len(p.s) {
			// read as parts
		} else {
			a.rollback(mk)
			a.addText(ctx, v.s)
		}
	} else {
		a.contentAny(ctx, *v)
	}
	if a.sys.n == mk.sys.n {
		a.rollback(mk)
		return
	}
	m.consumed[akSystemInstructions] = true
}

func kindFromTraceloop(k string) schemas.ComponentKind {
	switch k {
	case "workflow", "task":
		return schemas.KindChain
	case "agent":
		return schemas.KindAgent
	case "tool":
		return schemas.KindTool
	}
	return schemas.KindUnknown
}

func kindFromRequestType(t string) schemas.ComponentKind {
	switch t {
	case "chat", "completion":
		return schemas.KindLLM
	case "embedding":
		return schemas.KindEmbedding
	}
	return schemas.KindUnknown
}

func operationFromRequestType(t string) string {
	switch t {
	case "chat":
		return "chat"
	case "completion":
		return "text_completion"
	case "embedding":
		return "embeddings"
	}
	return ""
}

// componentKind applies the kind precedence. chainwatch.component.kind and
// openinference.span.kind are consumed when they name the chosen kind; the
// Traceloop and llm.request.type values carry more than the kind (workflow
// vs task) and always stay in the attributes. A chainwatch.component.kind
// that names no kind of ours is authoritative all the same: the kind is
// KindUnknown and the value stays in the attributes.
func (m *otlpMapper) componentKind(op string) schemas.ComponentKind {
	cwRaw := m.str(akCWComponentKind)
	cw, cwOK := schemas.ParseComponentKind(cwRaw)
	oi, oiOK := schemas.ParseComponentKind(m.str(akOISpanKind))
	kind := schemas.KindUnknown
	switch {
	case cwOK:
		kind = cw
	case cwRaw != "":
		return schemas.KindUnknown
	case oiOK:
		kind = oi
	default:
		if kind = kindFromTraceloop(m.str(akTLSpanKind)); kind == schemas.KindUnknown {
			if kind = KindFromOperation(op); kind == schemas.KindUnknown {
				kind = kindFromRequestType(m.str(akLLMRequestType))
			}
		}
	}
	if cwOK && cw == kind {
		m.consumed[akCWComponentKind] = true
	}
	if oiOK && oi == kind {
		m.consumed[akOISpanKind] = true
	}
	return kind
}

// TemplateID derives a prompt template id from the template text when the
// span names none: "tmpl-" and the first 12 hex digits of its SHA-256.
func TemplateID(template string) string {
	sum := sha256.Sum256([]byte(template))
	var b [17]byte
	copy(b[:], "tmpl-")
	hex.Encode(b[5:], sum[:6])
	return string(b[:])
}

// indexedToolDefinitions reads the tools offered to the model from the
// dialects that index them, when gen_ai.tool.definitions is absent:
// OpenInference's llm.tools.{i}.tool.json_schema (each a JSON object) and
// OpenLLMetry's llm.request.functions.{i}.{name,description,arguments}
// (made {"type":"function","name","description","parameters"}, as the
// current conventions shape them). The keys read are consumed; the result
// is a JSON array in index order, or "".
func (m *otlpMapper) indexedToolDefinitions() string {
	type tool struct {
		schema, name, desc, args string
	}
	var tools map[int]*tool
	keep := m.unk[:0]
	for _, kv := range m.unk {
		k := kv.key
		var rest string
		oi := strings.HasPrefix(k, "llm.tools.")
		switch {
		case oi:
			rest = k[len("llm.tools."):]
		case strings.HasPrefix(k, "llm.request.functions."):
			rest = k[len("llm.request.functions."):]
		default:
			keep = append(keep, kv)
			continue
		}
		dot := strings.IndexByte(rest, '.')
		i, err := strconv.Atoi(rest[:max(dot, 0)])
		if dot < 0 || err != nil || i < 0 || i > 1<<16 {
			keep = append(keep, kv)
			continue
		}
		if tools == nil {
			tools = map[int]*tool{}
		}
		t := tools[i]
		if t == nil {
			t = &tool{}
			tools[i] = t
		}
		v := anyString(kv.v)
		switch field := rest[dot+1:]; {
		case oi && field == "tool.json_schema":
			t.schema = v
		case !oi && field == "name":
			t.name = v
		case !oi && field == "description":
			t.desc = v
		case !oi && field == "arguments":
			t.args = v
		default:
			keep = append(keep, kv)
		}
	}
	m.unk = keep
	if len(tools) == 0 {
		return ""
	}
	idx := make([]int, 0, len(tools))
	for i := range tools {
		idx = append(idx, i)
	}
	slices.Sort(idx)
	b := []byte{'['}
	for n, i := range idx {
		if n > 0 {
			b = append(b, ',')
		}
		t := tools[i]
		switch {
		case t.schema != "" && json.Valid([]byte(t.schema)):
			b = append(b, t.schema...)
		case t.schema != "":
			b = schemas.AppendJSONString(b, t.schema)
		default:
			b = append(b, `{"type":"function","name":`...)
			b = schemas.AppendJSONString(b, t.name)
			if t.desc != "" {
				b = append(b, `,"description":`...)
				b = schemas.AppendJSONString(b, t.desc)
			}
			if t.args != "" {
				b = append(b, `,"parameters":`...)
				if json.Valid([]byte(t.args)) {
					b = append(b, t.args...)
				} else {
					b = schemas.AppendJSONString(b, t.args)
				}
			}
			b = append(b, '}')
		}
	}
	return string(append(b, ']'))
}

// operationFromOIKind is the operation an OpenInference span kind implies
// when no key names one: LLM → chat (what OpenInference's LLM spans record:
// chat completions), EMBEDDING → embeddings, TOOL → execute_tool, AGENT →
// invoke_agent, RETRIEVER → retrieval; others none.
func operationFromOIKind(k string) string {
	switch strings.ToUpper(k) {
	case "LLM":
		return "chat"
	case "EMBEDDING":
		return "embeddings"
	case "TOOL":
		return "execute_tool"
	case "AGENT":
		return "invoke_agent"
	case "RETRIEVER":
		return "retrieval"
	}
	return ""
}

// invocationStream reports "stream": true in OpenInference's
// llm.invocation_parameters (a JSON object).
func invocationStream(params string) bool {
	if !strings.Contains(params, `"stream"`) {
		return false
	}
	var p struct {
		Stream bool `json:"stream"`
	}
	return json.Unmarshal([]byte(params), &p) == nil && p.Stream
}
