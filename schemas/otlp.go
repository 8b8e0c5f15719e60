package schemas

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
)

// This file maps OTLP trace requests onto Span rows. The rules, and the
// precedence between the dialects GenAI instrumentations speak, are written
// down in MAPPING.md ("GenAI attribute mapping"); keep the two in step.
//
// The mapping is on the writer's hot path: no reflection, no fmt, one pass
// over each span's attributes with a string switch, text taken as substrings
// of the attribute values wherever no unescaping or joining is needed.

// SpanError says why one span of an OTLP request cannot be stored.
type SpanError struct {
	Resource int    // index into resource_spans
	Scope    int    // index into that resource's scope_spans
	Span     int    // index into that scope's spans
	SpanID   string // the span's id in hex, when it has a well-formed one
	Field    string // OTLP field name: trace_id, span_id, parent_span_id, start_time_unix_nano, end_time_unix_nano
	Reason   string
}

func (e *SpanError) Error() string {
	return "resource_spans[" + strconv.Itoa(e.Resource) + "].scope_spans[" + strconv.Itoa(e.Scope) +
		"].spans[" + strconv.Itoa(e.Span) + "]: " + e.Field + ": " + e.Reason
}

// maxReportedErrors bounds how many span errors one request reports.
const maxReportedErrors = 10

// ValidateOTLP runs the structural checks AppendSpans applies to every span
// of req (ids, timestamps) without mapping anything. It returns nil, a single
// *SpanError, or an errors.Join of up to ten of them (plus a count of the
// rest), so a collector can answer 400 naming the spans.
func ValidateOTLP(req *coltracepb.ExportTraceServiceRequest) error {
	var errs SpanErrorList
	for ri, rs := range req.GetResourceSpans() {
		for si, ss := range rs.GetScopeSpans() {
			for pi, sp := range ss.GetSpans() {
				if sp == nil {
					continue
				}
				if field, reason := checkOTLPSpan(sp); field != "" {
					errs.Add(newSpanError(ri, si, pi, sp, field, reason))
				}
			}
		}
	}
	return errs.Err()
}

// AppendSpans maps every span of req onto a Span appended to dst and returns
// the extended slice. A span that fails the structural checks (see
// ValidateOTLP) is skipped and reported in the error; every other span is
// still appended, so the returned slice is meaningful even when the error is
// not nil. Unknown attributes and malformed content never cause a span to be
// skipped.
//
// Strings in the result may share memory with req's strings. AppendSpans
// keeps no state between calls and is safe for concurrent use.
func AppendSpans(dst []Span, req *coltracepb.ExportTraceServiceRequest) ([]Span, error) {
	n := 0
	for _, rs := range req.GetResourceSpans() {
		for _, ss := range rs.GetScopeSpans() {
			n += len(ss.GetSpans())
		}
	}
	if n == 0 {
		return dst, nil
	}
	dst = slices.Grow(dst, n)
	var errs SpanErrorList
	m := new(otlpMapper)
	for ri, rs := range req.GetResourceSpans() {
		if rs == nil {
			continue
		}
		m.setResource(rs.GetResource().GetAttributes())
		for si, ss := range rs.GetScopeSpans() {
			if ss == nil {
				continue
			}
			m.setScope(ss.GetScope())
			for pi, sp := range ss.GetSpans() {
				if sp == nil {
					continue
				}
				if field, reason := checkOTLPSpan(sp); field != "" {
					errs.Add(newSpanError(ri, si, pi, sp, field, reason))
					continue
				}
				dst = append(dst, Span{})
				m.mapSpan(&dst[len(dst)-1], sp)
			}
		}
	}
	return dst, errs.Err()
}

func checkOTLPSpan(sp *tracepb.Span) (field, reason string) {
	return CheckSpanFields(sp.TraceId, sp.SpanId, sp.ParentSpanId, sp.StartTimeUnixNano, sp.EndTimeUnixNano)
}

// CheckSpanFields is the structural check of one span over its raw fields
// (ValidateOTLP's rules): it returns the failing field and why, or "", "".
// The collector's wire-level fast path calls it with fields read straight
// from the protobuf encoding.
func CheckSpanFields(traceID, spanID, parentID []byte, start, end uint64) (field, reason string) {
	switch n := len(traceID); {
	case n != 16:
		return "trace_id", "must be 16 bytes, got " + strconv.Itoa(n)
	case allZero(traceID):
		return "trace_id", "must not be all zero"
	}
	switch n := len(spanID); {
	case n != 8:
		return "span_id", "must be 8 bytes, got " + strconv.Itoa(n)
	case allZero(spanID):
		return "span_id", "must not be all zero"
	}
	if n := len(parentID); n != 0 && n != 8 {
		return "parent_span_id", "must be empty or 8 bytes, got " + strconv.Itoa(n)
	}
	// Times must be storable exactly on every supported server (see
	// MaxStorableUnixNano); zero is OTLP's unset time and has no meaning
	// as a start.
	if start == 0 {
		return "start_time_unix_nano", "must not be zero"
	}
	if r := checkStorableNano(start); r != "" {
		return "start_time_unix_nano", r
	}
	if end < start {
		return "end_time_unix_nano", "must not be before start_time_unix_nano (start " +
			strconv.FormatUint(start, 10) + ", end " + strconv.FormatUint(end, 10) + ")"
	}
	if r := checkStorableNano(end); r != "" {
		return "end_time_unix_nano", r
	}
	return "", ""
}

func newSpanError(ri, si, pi int, sp *tracepb.Span, field, reason string) *SpanError {
	return NewSpanError(ri, si, pi, sp.SpanId, field, reason)
}

// NewSpanError names a span by its indices (and its id when it has a good
// one) with the field that failed and why.
func NewSpanError(ri, si, pi int, spanID []byte, field, reason string) *SpanError {
	e := &SpanError{Resource: ri, Scope: si, Span: pi, Field: field, Reason: reason}
	if len(spanID) == 8 && !allZero(spanID) {
		e.SpanID = hex.EncodeToString(spanID)
	}
	return e
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// SpanErrorList collects up to ten span errors and counts the rest; Err
// reports them the way ValidateOTLP does. The zero value is ready to use;
// Reset keeps its memory for reuse.
type SpanErrorList struct {
	errs []error
	more int
}

// Add records one error.
func (l *SpanErrorList) Add(err error) {
	if len(l.errs) < maxReportedErrors {
		l.errs = append(l.errs, err)
		return
	}
	l.more++
}

// Len is the number of errors added.
func (l *SpanErrorList) Len() int { return len(l.errs) + l.more }

// Reset empties the list, keeping its memory.
func (l *SpanErrorList) Reset() {
	clear(l.errs)
	l.errs, l.more = l.errs[:0], 0
}

// Err is nil, the one error, or an errors.Join of the first ten and a line
// "and N more spans with errors". It does not alias the list's memory.
func (l *SpanErrorList) Err() error {
	switch {
	case len(l.errs) == 0:
		return nil
	case len(l.errs) == 1 && l.more == 0:
		return l.errs[0]
	}
	errs := append([]error(nil), l.errs...)
	if l.more > 0 {
		errs = append(errs, errors.New("and "+strconv.Itoa(l.more)+" more spans with errors"))
	}
	return errors.Join(errs...)
}

// akey names an attribute key the mapping reads. Attributes with any other
// key go straight to Span.Attributes.
type akey uint8

const (
	akNone akey = iota
	akCWApp
	akCWEnv
	akCWChainName
	akCWChainVersion
	akCWComponentName
	akCWComponentKind
	akCWTemplateID
	akCWTemplateVersion
	akCWSession
	akCWUser
	akServiceName
	akDeployEnvName
	akDeployEnv
	akTLWorkflowName
	akTLEntityName
	akTLEntityVersion
	akTLSpanKind
	akTLPromptKey
	akTLPromptVersion
	akTLPromptTemplate
	akTLEntityInput
	akTLEntityOutput
	akAgentName
	akToolName
	akOISpanKind
	akOperation
	akLLMRequestType
	akProviderName
	akGenAISystem
	akLLMProvider
	akLLMSystem
	akRequestModel
	akResponseModel
	akLLMModelName
	akOIPromptTemplate
	akOIPromptVersion
	akInputMessages
	akOutputMessages
	akLegacyPrompt
	akLegacyCompletion
	akInputValue
	akOutputValue
	akUsageInput
	akUsagePrompt
	akOITokPrompt
	akUsageOutput
	akUsageCompletion
	akOITokCompletion
	akSessionID
	akConversationID
	akUserID
	akEnduserID
	akErrorType
	akCount
)

// Attribute names of the other dialects.
const (
	attrDeploymentEnvironmentOld = "deployment.environment"
	attrTLWorkflowName           = "traceloop.workflow.name"
	attrTLEntityName             = "traceloop.entity.name"
	attrTLEntityVersion          = "traceloop.entity.version"
	attrTLSpanKind               = "traceloop.span.kind"
	attrTLPromptKey              = "traceloop.prompt.key"
	attrTLPromptVersion          = "traceloop.prompt.version"
	attrTLPromptTemplate         = "traceloop.prompt.template"
	attrTLEntityInput            = "traceloop.entity.input"
	attrTLEntityOutput           = "traceloop.entity.output"
	attrGenAIAgentName           = "gen_ai.agent.name"
	attrGenAIToolName            = "gen_ai.tool.name"
	attrOISpanKind               = "openinference.span.kind"
	attrLLMRequestType           = "llm.request.type"
	attrGenAISystem              = "gen_ai.system"
	attrLLMProvider              = "llm.provider"
	attrLLMSystem                = "llm.system"
	attrLLMModelName             = "llm.model_name"
	attrOIPromptTemplate         = "llm.prompt_template.template"
	attrOIPromptVersion          = "llm.prompt_template.version"
	attrGenAIPrompt              = "gen_ai.prompt"
	attrGenAICompletion          = "gen_ai.completion"
	attrInputValue               = "input.value"
	attrOutputValue              = "output.value"
	attrUsagePromptTokens        = "gen_ai.usage.prompt_tokens"
	attrUsageCompletionTokens    = "gen_ai.usage.completion_tokens"
	attrOITokenCountPrompt       = "llm.token_count.prompt"
	attrOITokenCountCompletion   = "llm.token_count.completion"
	attrSessionID                = "session.id"
	attrUserID                   = "user.id"
	attrEnduserID                = "enduser.id"
	attrErrorType                = "error.type"
)

var akNames = [akCount]string{
	akCWApp:             AttrApp,
	akCWEnv:             AttrEnvironment,
	akCWChainName:       AttrChainName,
	akCWChainVersion:    AttrChainVersion,
	akCWComponentName:   AttrComponentName,
	akCWComponentKind:   AttrComponentKind,
	akCWTemplateID:      AttrPromptTemplateID,
	akCWTemplateVersion: AttrPromptTemplateVersion,
	akCWSession:         AttrSessionID,
	akCWUser:            AttrUserID,
	akServiceName:       AttrServiceName,
	akDeployEnvName:     AttrDeploymentEnvironment,
	akDeployEnv:         attrDeploymentEnvironmentOld,
	akTLWorkflowName:    attrTLWorkflowName,
	akTLEntityName:      attrTLEntityName,
	akTLEntityVersion:   attrTLEntityVersion,
	akTLSpanKind:        attrTLSpanKind,
	akTLPromptKey:       attrTLPromptKey,
	akTLPromptVersion:   attrTLPromptVersion,
	akTLPromptTemplate:  attrTLPromptTemplate,
	akTLEntityInput:     attrTLEntityInput,
	akTLEntityOutput:    attrTLEntityOutput,
	akAgentName:         attrGenAIAgentName,
	akToolName:          attrGenAIToolName,
	akOISpanKind:        attrOISpanKind,
	akOperation:         AttrGenAIOperationName,
	akLLMRequestType:    attrLLMRequestType,
	akProviderName:      AttrGenAIProviderName,
	akGenAISystem:       attrGenAISystem,
	akLLMProvider:       attrLLMProvider,
	akLLMSystem:         attrLLMSystem,
	akRequestModel:      AttrGenAIRequestModel,
	akResponseModel:     AttrGenAIResponseModel,
	akLLMModelName:      attrLLMModelName,
	akOIPromptTemplate:  attrOIPromptTemplate,
	akOIPromptVersion:   attrOIPromptVersion,
	akInputMessages:     AttrGenAIInputMessages,
	akOutputMessages:    AttrGenAIOutputMessages,
	akLegacyPrompt:      attrGenAIPrompt,
	akLegacyCompletion:  attrGenAICompletion,
	akInputValue:        attrInputValue,
	akOutputValue:       attrOutputValue,
	akUsageInput:        AttrGenAIUsageInputTokens,
	akUsagePrompt:       attrUsagePromptTokens,
	akOITokPrompt:       attrOITokenCountPrompt,
	akUsageOutput:       AttrGenAIUsageOutputTokens,
	akUsageCompletion:   attrUsageCompletionTokens,
	akOITokCompletion:   attrOITokenCountCompletion,
	akSessionID:         attrSessionID,
	akConversationID:    AttrGenAIConversationID,
	akUserID:            attrUserID,
	akEnduserID:         attrEnduserID,
	akErrorType:         attrErrorType,
}

// lookupAKey is a string switch rather than a map: the compiler turns it into
// a search on length and content without hashing.
func lookupAKey(k string) akey {
	switch k {
	case AttrApp:
		return akCWApp
	case AttrEnvironment:
		return akCWEnv
	case AttrChainName:
		return akCWChainName
	case AttrChainVersion:
		return akCWChainVersion
	case AttrComponentName:
		return akCWComponentName
	case AttrComponentKind:
		return akCWComponentKind
	case AttrPromptTemplateID:
		return akCWTemplateID
	case AttrPromptTemplateVersion:
		return akCWTemplateVersion
	case AttrSessionID:
		return akCWSession
	case AttrUserID:
		return akCWUser
	case AttrServiceName:
		return akServiceName
	case AttrDeploymentEnvironment:
		return akDeployEnvName
	case attrDeploymentEnvironmentOld:
		return akDeployEnv
	case attrTLWorkflowName:
		return akTLWorkflowName
	case attrTLEntityName:
		return akTLEntityName
	case attrTLEntityVersion:
		return akTLEntityVersion
	case attrTLSpanKind:
		return akTLSpanKind
	case attrTLPromptKey:
		return akTLPromptKey
	case attrTLPromptVersion:
		return akTLPromptVersion
	case attrTLPromptTemplate:
		return akTLPromptTemplate
	case attrTLEntityInput:
		return akTLEntityInput
	case attrTLEntityOutput:
		return akTLEntityOutput
	case attrGenAIAgentName:
		return akAgentName
	case attrGenAIToolName:
		return akToolName
	case attrOISpanKind:
		return akOISpanKind
	case AttrGenAIOperationName:
		return akOperation
	case attrLLMRequestType:
		return akLLMRequestType
	case AttrGenAIProviderName:
		return akProviderName
	case attrGenAISystem:
		return akGenAISystem
	case attrLLMProvider:
		return akLLMProvider
	case attrLLMSystem:
		return akLLMSystem
	case AttrGenAIRequestModel:
		return akRequestModel
	case AttrGenAIResponseModel:
		return akResponseModel
	case attrLLMModelName:
		return akLLMModelName
	case attrOIPromptTemplate:
		return akOIPromptTemplate
	case attrOIPromptVersion:
		return akOIPromptVersion
	case AttrGenAIInputMessages:
		return akInputMessages
	case AttrGenAIOutputMessages:
		return akOutputMessages
	case attrGenAIPrompt:
		return akLegacyPrompt
	case attrGenAICompletion:
		return akLegacyCompletion
	case attrInputValue:
		return akInputValue
	case attrOutputValue:
		return akOutputValue
	case AttrGenAIUsageInputTokens:
		return akUsageInput
	case attrUsagePromptTokens:
		return akUsagePrompt
	case attrOITokenCountPrompt:
		return akOITokPrompt
	case AttrGenAIUsageOutputTokens:
		return akUsageOutput
	case attrUsageCompletionTokens:
		return akUsageCompletion
	case attrOITokenCountCompletion:
		return akOITokCompletion
	case attrSessionID:
		return akSessionID
	case AttrGenAIConversationID:
		return akConversationID
	case attrUserID:
		return akUserID
	case attrEnduserID:
		return akEnduserID
	case attrErrorType:
		return akErrorType
	}
	return akNone
}

type aslots [akCount]*commonpb.AnyValue

type kvStr struct{ k, v string }

// Indexed message attributes: OpenLLMetry's gen_ai.prompt.{i}.*,
// gen_ai.completion.{i}.* and OpenInference's llm.input_messages.{i}.message.*,
// llm.output_messages.{i}.message.*.
const (
	idxPrompt uint8 = iota
	idxCompletion
	idxOIIn
	idxOIOut
)

const (
	ifRole uint8 = iota
	ifContent
	ifCText // OpenInference message.contents.{j}.message_content.text
	ifCType // OpenInference message.contents.{j}.message_content.type
)

type idxEntry struct {
	src, field uint8
	used       bool
	i, j       int32
	kv         *commonpb.KeyValue
}

func parseIndexedKey(k string) (src, field uint8, i, j int32, ok bool) {
	var rest string
	switch {
	case strings.HasPrefix(k, "gen_ai.prompt."):
		src, rest = idxPrompt, k[len("gen_ai.prompt."):]
	case strings.HasPrefix(k, "gen_ai.completion."):
		src, rest = idxCompletion, k[len("gen_ai.completion."):]
	case strings.HasPrefix(k, "llm.input_messages."):
		src, rest = idxOIIn, k[len("llm.input_messages."):]
	case strings.HasPrefix(k, "llm.output_messages."):
		src, rest = idxOIOut, k[len("llm.output_messages."):]
	default:
		return
	}
	if i, rest, ok = leadingIndex(rest); !ok {
		return
	}
	if src == idxOIIn || src == idxOIOut {
		if !strings.HasPrefix(rest, "message.") {
			return src, 0, 0, 0, false
		}
		rest = rest[len("message."):]
		if strings.HasPrefix(rest, "contents.") {
			if j, rest, ok = leadingIndex(rest[len("contents."):]); !ok {
				return
			}
			switch rest {
			case "message_content.text":
				return src, ifCText, i, j, true
			case "message_content.type":
				return src, ifCType, i, j, true
			}
			return src, 0, 0, 0, false
		}
	}
	switch rest {
	case "role":
		return src, ifRole, i, 0, true
	case "content":
		return src, ifContent, i, 0, true
	}
	return src, 0, 0, 0, false
}

// leadingIndex reads "<digits>." off s.
func leadingIndex(s string) (int32, string, bool) {
	n := int32(0)
	for k := 0; k < len(s); k++ {
		c := s[k]
		if c == '.' && k > 0 {
			return n, s[k+1:], true
		}
		if c < '0' || c > '9' || k >= 6 {
			return 0, "", false
		}
		n = n*10 + int32(c-'0')
	}
	return 0, "", false
}

// Span event classes.
const (
	evOther uint8 = iota
	evSystem
	evUser
	evAssistant
	evTool
	evChoice
	evContentPrompt
	evContentCompletion
	evException
)

const evInputMask = 1<<evSystem | 1<<evUser | 1<<evAssistant | 1<<evTool

func classifyEvent(name string) uint8 {
	switch name {
	case "gen_ai.system.message":
		return evSystem
	case "gen_ai.user.message":
		return evUser
	case "gen_ai.assistant.message":
		return evAssistant
	case "gen_ai.tool.message":
		return evTool
	case "gen_ai.choice":
		return evChoice
	case "gen_ai.content.prompt":
		return evContentPrompt
	case "gen_ai.content.completion":
		return evContentCompletion
	case "exception":
		return evException
	}
	return evOther
}

// Text sources, in precedence order (highest first).
const (
	srcMessages = iota // gen_ai.input.messages / gen_ai.output.messages
	srcEvents          // gen_ai.*.message events / gen_ai.choice events
	srcLegacy          // gen_ai.prompt / gen_ai.completion (attribute or gen_ai.content.* event)
	srcIndexed         // OpenLLMetry gen_ai.prompt.{i}.* / gen_ai.completion.{i}.*
	srcOI              // OpenInference llm.input_messages.{i}.* / llm.output_messages.{i}.*
	srcValue           // OpenInference input.value / output.value
	srcEntity          // Traceloop traceloop.entity.input / traceloop.entity.output
	srcCount
)

type textDir struct {
	input                           bool
	messages, legacy, value, entity akey
	msgEvents, legacyEvent          uint64 // event class masks
	indexed, oi                     uint8
	legacyEventAttr, messagesName   string
}

var (
	inputDir = textDir{
		input: true, messages: akInputMessages, legacy: akLegacyPrompt, value: akInputValue, entity: akTLEntityInput,
		msgEvents: evInputMask, legacyEvent: 1 << evContentPrompt, indexed: idxPrompt, oi: idxOIIn,
		legacyEventAttr: attrGenAIPrompt, messagesName: AttrGenAIInputMessages,
	}
	outputDir = textDir{
		input: false, messages: akOutputMessages, legacy: akLegacyCompletion, value: akOutputValue, entity: akTLEntityOutput,
		msgEvents: 1 << evChoice, legacyEvent: 1 << evContentCompletion, indexed: idxCompletion, oi: idxOIOut,
		legacyEventAttr: attrGenAICompletion, messagesName: AttrGenAIOutputMessages,
	}
)

// otlpMapper holds the per-resource and per-scope state and the scratch
// buffers reused from span to span.
type otlpMapper struct {
	res, scope, sp aslots
	resRest        []kvStr
	scopeRest      []kvStr
	consumed       [akCount]bool

	unk     []*commonpb.KeyValue
	idx     []idxEntry
	idxMask uint8
	evClass []uint8
	evUsed  []bool
	evDone  []bool
	evMask  uint64

	in, out, tmp textAcc
	warn         []byte
	attrs        map[string]string
}

func (m *otlpMapper) setResource(attrs []*commonpb.KeyValue) {
	m.res = aslots{}
	m.resRest = scanLevel(attrs, &m.res, m.resRest[:0])
}

func (m *otlpMapper) setScope(sc *commonpb.InstrumentationScope) {
	m.scope = aslots{}
	m.scopeRest = scanLevel(sc.GetAttributes(), &m.scope, m.scopeRest[:0])
	if sc.GetName() != "" {
		m.scopeRest = append(m.scopeRest, kvStr{AttrScopeName, sc.GetName()})
	}
	if sc.GetVersion() != "" {
		m.scopeRest = append(m.scopeRest, kvStr{AttrScopeVersion, sc.GetVersion()})
	}
}

// scanLevel sorts resource or scope attributes into known slots and the
// flattened rest.
func scanLevel(attrs []*commonpb.KeyValue, slots *aslots, rest []kvStr) []kvStr {
	for _, kv := range attrs {
		if kv == nil {
			continue
		}
		if k := lookupAKey(kv.Key); k != akNone {
			if kv.Value != nil {
				slots[k] = kv.Value
			}
			continue
		}
		rest = append(rest, kvStr{kv.Key, anyString(kv.Value)})
	}
	return rest
}

func (m *otlpMapper) get(k akey) *commonpb.AnyValue {
	if v := m.sp[k]; v != nil {
		return v
	}
	if v := m.scope[k]; v != nil {
		return v
	}
	return m.res[k]
}

func (m *otlpMapper) str(k akey) string { return anyString(m.get(k)) }

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
		if vals[i], ok[i] = anyCount(m.get(k)); ok[i] && !found {
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

func (m *otlpMapper) mapSpan(out *Span, sp *tracepb.Span) {
	var ids [64]byte
	hex.Encode(ids[0:32], sp.TraceId)
	hex.Encode(ids[32:48], sp.SpanId)
	n := 48
	if len(sp.ParentSpanId) == 8 && !allZero(sp.ParentSpanId) {
		hex.Encode(ids[48:64], sp.ParentSpanId)
		n = 64
	}
	s := string(ids[:n])
	out.TraceID, out.SpanID = s[0:32], s[32:48]
	if n == 64 {
		out.ParentSpanID = s[48:64]
	}
	out.Name = sp.Name
	out.StartTime = time.Unix(0, int64(sp.StartTimeUnixNano)).UTC()
	out.EndTime = time.Unix(0, int64(sp.EndTimeUnixNano)).UTC()

	// Sort the span's attributes: known keys into slots, indexed message
	// keys aside, everything else straight to the map later.
	m.sp = aslots{}
	m.consumed = [akCount]bool{}
	m.unk, m.idx, m.idxMask = m.unk[:0], m.idx[:0], 0
	for _, kv := range sp.Attributes {
		if kv == nil {
			continue
		}
		if k := lookupAKey(kv.Key); k != akNone {
			if kv.Value != nil {
				m.sp[k] = kv.Value
			}
			continue
		}
		if src, field, i, j, ok := parseIndexedKey(kv.Key); ok {
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
	for _, ev := range sp.Events {
		c := classifyEvent(ev.GetName())
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
		out.ComponentName = sp.Name
	}
	out.Operation = m.pick(akOperation)
	out.ComponentKind = m.componentKind(out.Operation)
	if out.Operation == "" {
		out.Operation = operationFromRequestType(m.str(akLLMRequestType))
	}
	out.Provider = m.pick(akProviderName, akGenAISystem, akLLMProvider, akLLMSystem)
	out.ModelRequested = m.pick(akRequestModel, akLLMModelName)
	out.ModelReturned = m.pick(akResponseModel, akLLMModelName)
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
	out.SessionID = m.pick(akCWSession, akSessionID, akConversationID)
	out.UserID = m.pick(akCWUser, akUserID, akEnduserID)

	m.in.reset(true)
	m.out.reset(false)
	m.resolveText(&inputDir, &m.in, sp)
	m.resolveText(&outputDir, &m.out, sp)
	out.InputText = m.in.text.String()
	out.OutputText = m.out.text.String()

	switch sp.Status.GetCode() {
	case tracepb.Status_STATUS_CODE_ERROR:
		out.Status = StatusError
	case tracepb.Status_STATUS_CODE_OK:
		out.Status = StatusOK
	default:
		out.Status = StatusUnset
	}
	out.ErrorMessage = sp.Status.GetMessage()
	if out.Status == StatusError && out.ErrorMessage == "" {
		out.ErrorMessage = m.exceptionMessage(sp)
		if out.ErrorMessage == "" {
			out.ErrorMessage = m.str(akErrorType)
		}
	}

	m.fillAttributes(sp)
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
	return int(a.j - b.j)
}

func fieldRank(f uint8) int {
	switch f {
	case ifRole:
		return 0
	case ifContent:
		return 1
	}
	return 2
}

var allKinds = [...]ComponentKind{KindLLM, KindRetriever, KindReranker, KindTool, KindEmbedding, KindGuardrail, KindChain, KindAgent, KindEvaluator}

// ParseComponentKind matches s case-insensitively against the component
// kinds (OpenInference's LLM, CHAIN, … included).
func ParseComponentKind(s string) (ComponentKind, bool) {
	for _, k := range allKinds {
		if strings.EqualFold(s, string(k)) {
			return k, true
		}
	}
	return KindUnknown, false
}

// KindFromOperation is the component kind a gen_ai.operation.name implies.
func KindFromOperation(op string) ComponentKind {
	switch op {
	case "chat", "text_completion", "generate_content":
		return KindLLM
	case "embeddings":
		return KindEmbedding
	case "execute_tool":
		return KindTool
	case "invoke_agent", "create_agent":
		return KindAgent
	}
	return KindUnknown
}

func kindFromTraceloop(k string) ComponentKind {
	switch k {
	case "workflow", "task":
		return KindChain
	case "agent":
		return KindAgent
	case "tool":
		return KindTool
	}
	return KindUnknown
}

func kindFromRequestType(t string) ComponentKind {
	switch t {
	case "chat", "completion":
		return KindLLM
	case "embedding":
		return KindEmbedding
	}
	return KindUnknown
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
func (m *otlpMapper) componentKind(op string) ComponentKind {
	cwRaw := m.str(akCWComponentKind)
	cw, cwOK := ParseComponentKind(cwRaw)
	oi, oiOK := ParseComponentKind(m.str(akOISpanKind))
	kind := KindUnknown
	switch {
	case cwOK:
		kind = cw
	case cwRaw != "":
		return KindUnknown
	case oiOK:
		kind = oi
	default:
		if kind = kindFromTraceloop(m.str(akTLSpanKind)); kind == KindUnknown {
			if kind = KindFromOperation(op); kind == KindUnknown {
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

func (m *otlpMapper) exceptionMessage(sp *tracepb.Span) string {
	for i, ev := range sp.Events {
		if m.evClass[i] != evException {
			continue
		}
		for _, kv := range ev.GetAttributes() {
			if kv.GetKey() == "exception.message" {
				if s := anyString(kv.Value); s != "" {
					return s
				}
			}
		}
	}
	return ""
}

func (m *otlpMapper) present(d *textDir, src int) bool {
	switch src {
	case srcMessages:
		return nonEmpty(m.get(d.messages))
	case srcEvents:
		return m.evMask&d.msgEvents != 0
	case srcLegacy:
		return nonEmpty(m.get(d.legacy)) || m.evMask&d.legacyEvent != 0
	case srcIndexed:
		return m.idxMask&(1<<d.indexed) != 0
	case srcOI:
		return m.idxMask&(1<<d.oi) != 0
	case srcValue:
		return nonEmpty(m.get(d.value))
	case srcEntity:
		return nonEmpty(m.get(d.entity))
	}
	return false
}

func nonEmpty(v *commonpb.AnyValue) bool {
	if v == nil || v.Value == nil {
		return false
	}
	if s, ok := v.Value.(*commonpb.AnyValue_StringValue); ok {
		return s.StringValue != ""
	}
	return true
}

// resolveText fills a from the highest-precedence text source that yields
// text. Sources above it that yield no text but a system prompt or non-text
// parts contribute those and are consumed; sources that yield nothing at all
// (empty content) stay in the attributes as they came. A source below the
// chosen one whose text equals the chosen text is consumed as a duplicate;
// one that disagrees stays in the attributes.
func (m *otlpMapper) resolveText(d *textDir, a *textAcc, sp *tracepb.Span) {
	won := false
	for src := 0; src < srcCount; src++ {
		if !m.present(d, src) {
			continue
		}
		if !won {
			mk := a.mark()
			m.extract(d, src, a, sp)
			switch {
			case a.text.n > 0:
				won = true
			case a.sys.n == mk.sys.n && len(a.parts) == mk.parts:
				a.rollback(mk) // yielded nothing
				a.warn = ""
				continue
			}
			m.consumeSource(d, src, sp)
			if a.warn != "" {
				m.addWarning(a.warn)
				a.warn = ""
			}
			continue
		}
		m.tmp.reset(d.input)
		m.extract(d, src, &m.tmp, sp)
		if m.tmp.text.equal(&a.text) {
			m.consumeSource(d, src, sp)
		}
	}
}

func (m *otlpMapper) addWarning(w string) {
	if len(m.warn) > 0 {
		m.warn = append(m.warn, "; "...)
	}
	m.warn = append(m.warn, w...)
}

func (m *otlpMapper) extract(d *textDir, src int, a *textAcc, sp *tracepb.Span) {
	switch src {
	case srcMessages:
		v := m.get(d.messages)
		if s, ok := v.Value.(*commonpb.AnyValue_StringValue); ok {
			if !a.messagesJSON(s.StringValue, msgCtx{}) {
				a.text.add(s.StringValue)
				a.warn = d.messagesName + ": not valid JSON, kept raw as the text"
			}
			return
		}
		if !a.messagesAny(v, msgCtx{}) {
			a.text.add(anyString(v))
			a.warn = d.messagesName + ": not an array of messages, kept raw as the text"
		}
	case srcEvents:
		for i, ev := range sp.Events {
			c := m.evClass[i]
			if d.msgEvents&(1<<c) == 0 {
				continue
			}
			a.eventMessage(ev, c)
		}
	case srcLegacy:
		if v := m.get(d.legacy); nonEmpty(v) {
			a.legacyContent(v)
		}
		for i, ev := range sp.Events {
			if d.legacyEvent&(1<<m.evClass[i]) == 0 {
				continue
			}
			for _, kv := range ev.GetAttributes() {
				if kv.GetKey() == d.legacyEventAttr {
					a.legacyContent(kv.Value)
				}
			}
		}
	case srcIndexed, srcOI:
		want := d.indexed
		if src == srcOI {
			want = d.oi
		}
		m.extractIndexed(want, a)
	case srcValue:
		a.text.add(m.str(d.value))
	case srcEntity:
		a.text.add(m.str(d.entity))
	}
}

func (m *otlpMapper) consumeSource(d *textDir, src int, sp *tracepb.Span) {
	switch src {
	case srcMessages:
		m.consumed[d.messages] = true
	case srcEvents:
		for i := range sp.Events {
			if d.msgEvents&(1<<m.evClass[i]) != 0 {
				m.evUsed[i] = true
			}
		}
	case srcLegacy:
		m.consumed[d.legacy] = true
		for i := range sp.Events {
			if d.legacyEvent&(1<<m.evClass[i]) != 0 {
				m.evUsed[i] = true
			}
		}
	case srcIndexed, srcOI:
		want := d.indexed
		if src == srcOI {
			want = d.oi
		}
		for k := range m.idx {
			e := &m.idx[k]
			if e.src != want {
				continue
			}
			// A non-text content type (an image) is not carried by the
			// text, so it stays.
			if e.field == ifCType && anyString(e.kv.Value) != "text" {
				continue
			}
			e.used = true
		}
	case srcValue:
		m.consumed[d.value] = true
	case srcEntity:
		m.consumed[d.entity] = true
	}
}

func (m *otlpMapper) extractIndexed(src uint8, a *textAcc) {
	for k := 0; k < len(m.idx); {
		if m.idx[k].src != src {
			k++
			continue
		}
		i, start := m.idx[k].i, k
		role := ""
		for ; k < len(m.idx) && m.idx[k].src == src && m.idx[k].i == i; k++ {
			if m.idx[k].field == ifRole {
				role = anyString(m.idx[k].kv.Value)
			}
		}
		ctx := msgCtx{role: role}
		for q := start; q < k; q++ {
			switch e := &m.idx[q]; e.field {
			case ifContent:
				a.indexedContent(ctx, e.kv.Value)
			case ifCText:
				a.addText(ctx, anyString(e.kv.Value))
			}
		}
	}
}

// fillAttributes builds Span.Attributes from everything no column took.
func (m *otlpMapper) fillAttributes(sp *tracepb.Span) {
	n := len(m.resRest) + len(m.scopeRest) + len(m.unk) + 4
	for k := akey(1); k < akCount; k++ {
		if !m.consumed[k] && m.get(k) != nil {
			n++
		}
	}
	for _, e := range m.idx {
		if !e.used {
			n++
		}
	}
	for i := range m.evUsed {
		if !m.evUsed[i] {
			n++
		}
	}
	attrs := make(map[string]string, n)
	for _, kv := range m.resRest {
		attrs[kv.k] = kv.v
	}
	for _, kv := range m.scopeRest {
		attrs[kv.k] = kv.v
	}
	for _, kv := range m.unk {
		attrs[kv.Key] = anyString(kv.Value)
	}
	for k := akey(1); k < akCount; k++ {
		// A mapped key holding nothing (an empty string) says nothing and
		// is dropped.
		if v := m.get(k); v != nil && !m.consumed[k] {
			if s := anyString(v); s != "" {
				attrs[akNames[k]] = s
			}
		}
	}
	for _, e := range m.idx {
		if !e.used {
			attrs[e.kv.Key] = anyString(e.kv.Value)
		}
	}
	m.attrs = attrs
	m.keepEvents(sp)

	switch sp.Kind {
	case tracepb.Span_SPAN_KIND_CLIENT:
		attrs[AttrSpanKind] = "client"
	case tracepb.Span_SPAN_KIND_SERVER:
		attrs[AttrSpanKind] = "server"
	case tracepb.Span_SPAN_KIND_PRODUCER:
		attrs[AttrSpanKind] = "producer"
	case tracepb.Span_SPAN_KIND_CONSUMER:
		attrs[AttrSpanKind] = "consumer"
	}
	if len(sp.Links) > 0 {
		attrs[AttrLinks] = string(appendLinksJSON(nil, sp.Links))
	}
	if s := m.in.sys.String(); s != "" {
		attrs[AttrInputSystem] = s
	}
	if len(m.in.parts) > 0 {
		attrs[AttrInputParts] = m.in.partsJSON()
	}
	if len(m.out.parts) > 0 {
		attrs[AttrOutputParts] = m.out.partsJSON()
	}
	if len(m.out.finish) > 0 {
		if _, ok := attrs[AttrGenAIFinishReasons]; !ok {
			attrs[AttrGenAIFinishReasons] = "[" + string(m.out.finish) + "]"
		}
	}
	if len(m.warn) > 0 {
		attrs[AttrMappingWarning] = string(m.warn)
	}
	if len(attrs) == 0 {
		m.attrs = nil
	}
}

// keepEvents stores the events no text source took as "event.<name>"
// attributes: the JSON object of their attributes, or an array of them when
// several events share a name.
func (m *otlpMapper) keepEvents(sp *tracepb.Span) {
	var b []byte
	for i, ev := range sp.Events {
		if m.evUsed[i] || m.evDone[i] {
			continue
		}
		name := ev.GetName()
		count := 0
		for j := i; j < len(sp.Events); j++ {
			if !m.evUsed[j] && sp.Events[j].GetName() == name {
				count++
			}
		}
		b = b[:0]
		if count > 1 {
			b = append(b, '[')
		}
		sep := false
		for j := i; j < len(sp.Events); j++ {
			if m.evUsed[j] || sp.Events[j].GetName() != name {
				continue
			}
			m.evDone[j] = true
			if sep {
				b = append(b, ',')
			}
			sep = true
			b = appendKVListJSON(b, sp.Events[j].GetAttributes())
		}
		if count > 1 {
			b = append(b, ']')
		}
		m.attrs[AttrEventPrefix+name] = string(b)
	}
}

func appendLinksJSON(b []byte, links []*tracepb.Span_Link) []byte {
	b = append(b, '[')
	for i, l := range links {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"trace_id":"`...)
		b = hex.AppendEncode(b, l.GetTraceId())
		b = append(b, `","span_id":"`...)
		b = hex.AppendEncode(b, l.GetSpanId())
		b = append(b, `","attributes":`...)
		b = appendKVListJSON(b, l.GetAttributes())
		b = append(b, '}')
	}
	return append(b, ']')
}

// anyString flattens an attribute value: strings as they are, numbers and
// booleans formatted, bytes in base64, arrays and kvlists as JSON.
func anyString(v *commonpb.AnyValue) string {
	switch x := v.GetValue().(type) {
	case *commonpb.AnyValue_StringValue:
		return x.StringValue
	case *commonpb.AnyValue_IntValue:
		return strconv.FormatInt(x.IntValue, 10)
	case *commonpb.AnyValue_DoubleValue:
		return strconv.FormatFloat(x.DoubleValue, 'g', -1, 64)
	case *commonpb.AnyValue_BoolValue:
		if x.BoolValue {
			return "true"
		}
		return "false"
	case *commonpb.AnyValue_BytesValue:
		return base64.StdEncoding.EncodeToString(x.BytesValue)
	case *commonpb.AnyValue_ArrayValue, *commonpb.AnyValue_KvlistValue:
		return string(appendAnyJSON(nil, v))
	}
	return ""
}

// anyCount reads a token count given as an int, a double or a numeric
// string; negative and non-finite values are not counts.
func anyCount(v *commonpb.AnyValue) (int64, bool) {
	switch x := v.GetValue().(type) {
	case *commonpb.AnyValue_IntValue:
		return x.IntValue, x.IntValue >= 0
	case *commonpb.AnyValue_DoubleValue:
		return floatCount(x.DoubleValue)
	case *commonpb.AnyValue_StringValue:
		s := strings.TrimSpace(x.StringValue)
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return n, n >= 0
		}
		if f, err := strconv.ParseFloat(s, 64); err == nil {
			return floatCount(f)
		}
	}
	return 0, false
}

func floatCount(f float64) (int64, bool) {
	if !(f >= 0 && f < 1<<62) { // also false for NaN
		return 0, false
	}
	return int64(math.Round(f)), true
}

// appendAnyJSON writes v as JSON: kvlists as objects, arrays as arrays,
// bytes as base64 strings, non-finite doubles as strings.
func appendAnyJSON(b []byte, v *commonpb.AnyValue) []byte {
	switch x := v.GetValue().(type) {
	case *commonpb.AnyValue_StringValue:
		return AppendJSONString(b, x.StringValue)
	case *commonpb.AnyValue_IntValue:
		return strconv.AppendInt(b, x.IntValue, 10)
	case *commonpb.AnyValue_DoubleValue:
		if math.IsNaN(x.DoubleValue) || math.IsInf(x.DoubleValue, 0) {
			return AppendJSONString(b, strconv.FormatFloat(x.DoubleValue, 'g', -1, 64))
		}
		return strconv.AppendFloat(b, x.DoubleValue, 'g', -1, 64)
	case *commonpb.AnyValue_BoolValue:
		return strconv.AppendBool(b, x.BoolValue)
	case *commonpb.AnyValue_BytesValue:
		b = append(b, '"')
		b = base64.StdEncoding.AppendEncode(b, x.BytesValue)
		return append(b, '"')
	case *commonpb.AnyValue_ArrayValue:
		b = append(b, '[')
		for i, e := range x.ArrayValue.GetValues() {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendAnyJSON(b, e)
		}
		return append(b, ']')
	case *commonpb.AnyValue_KvlistValue:
		return appendKVListJSON(b, x.KvlistValue.GetValues())
	}
	return append(b, "null"...)
}

func appendKVListJSON(b []byte, kvs []*commonpb.KeyValue) []byte {
	b = append(b, '{')
	for i, kv := range kvs {
		if i > 0 {
			b = append(b, ',')
		}
		b = AppendJSONString(b, kv.GetKey())
		b = append(b, ':')
		b = appendAnyJSON(b, kv.GetValue())
	}
	return append(b, '}')
}

const hexDigits = "0123456789abcdef"

// appendJSONString writes s as a JSON string; invalid UTF-8 becomes U+FFFD.
func AppendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < 0x80 {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// piecewise joins text pieces with "\n", keeping a lone piece as the
// substring it came as.
type piecewise struct {
	first string
	buf   []byte
	n     int
}

func (p *piecewise) reset() { p.first, p.buf, p.n = "", p.buf[:0], 0 }

func (p *piecewise) add(s string) {
	if s == "" {
		return
	}
	switch p.n {
	case 0:
		p.first = s
	case 1:
		p.buf = append(p.buf[:0], p.first...)
		p.buf = append(p.buf, '\n')
		p.buf = append(p.buf, s...)
	default:
		p.buf = append(p.buf, '\n')
		p.buf = append(p.buf, s...)
	}
	p.n++
}

func (p *piecewise) String() string {
	if p.n <= 1 {
		return p.first
	}
	return string(p.buf)
}

func (p *piecewise) equal(q *piecewise) bool {
	switch {
	case p.n <= 1 && q.n <= 1:
		return p.first == q.first
	case p.n > 1 && q.n > 1:
		return string(p.buf) == string(q.buf)
	case p.n <= 1:
		return p.first == string(q.buf)
	default:
		return string(p.buf) == q.first
	}
}

// textAcc accumulates one direction's text from one source: the text
// column, system-role text, the non-text parts and the finish reasons.
type textAcc struct {
	input     bool
	text, sys piecewise
	parts     []byte // JSON values separated by commas
	finish    []byte // JSON strings separated by commas
	warn      string
}

type accMark struct {
	text, sys     piecewise
	parts, finish int
}

func (a *textAcc) reset(input bool) {
	a.input = input
	a.text.reset()
	a.sys.reset()
	a.parts, a.finish, a.warn = a.parts[:0], a.finish[:0], ""
}

func (a *textAcc) mark() accMark {
	return accMark{text: a.text, sys: a.sys, parts: len(a.parts), finish: len(a.finish)}
}

func (a *textAcc) rollback(mk accMark) {
	tb, sb := a.text.buf, a.sys.buf
	a.text, a.sys = mk.text, mk.sys
	a.text.buf, a.sys.buf = tb[:len(mk.text.buf)], sb[:len(mk.sys.buf)]
	a.parts, a.finish = a.parts[:mk.parts], a.finish[:mk.finish]
}

func (a *textAcc) partsJSON() string {
	b := make([]byte, 0, len(a.parts)+2)
	b = append(b, '[')
	b = append(b, a.parts...)
	return string(append(b, ']'))
}

// msgCtx is what is known about the message a piece of text belongs to.
type msgCtx struct{ role, id string }

// addText routes one text piece: on the input side system-role text goes to
// the system text and tool-role text (a tool's result) to the parts, as
// semconv's tool_call_response would; everything else is text.
func (a *textAcc) addText(ctx msgCtx, s string) {
	if s == "" {
		return
	}
	if a.input {
		switch ctx.role {
		case "system", "developer":
			a.sys.add(s)
			return
		case "tool", "function", "ipython":
			a.addToolResponse(ctx.id, s)
			return
		}
	}
	a.text.add(s)
}

func (a *textAcc) partSep() {
	if len(a.parts) > 0 {
		a.parts = append(a.parts, ',')
	}
}

// addPartRaw adds a JSON value copied from the input. The reader lets raw
// control characters pass inside strings; they are escaped here so that the
// parts are strict JSON.
func (a *textAcc) addPartRaw(raw string) {
	a.partSep()
	clean := true
	for i := 0; i < len(raw); i++ {
		if raw[i] < 0x20 {
			clean = false
			break
		}
	}
	if clean {
		a.parts = append(a.parts, raw...)
		return
	}
	inStr, esc := false, false
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		switch {
		case esc:
			esc = false
		case inStr && c == '\\':
			esc = true
		case c == '"':
			inStr = !inStr
		case inStr && c < 0x20:
			a.parts = append(a.parts, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			continue
		}
		a.parts = append(a.parts, c)
	}
}

func (a *textAcc) addPartAny(v *commonpb.AnyValue) {
	a.partSep()
	a.parts = appendAnyJSON(a.parts, v)
}

func (a *textAcc) addToolResponse(id, s string) {
	a.partSep()
	a.parts = append(a.parts, `{"type":"tool_call_response",`...)
	if id != "" {
		a.parts = append(a.parts, `"id":`...)
		a.parts = AppendJSONString(a.parts, id)
		a.parts = append(a.parts, ',')
	}
	a.parts = append(a.parts, `"response":`...)
	a.parts = AppendJSONString(a.parts, s)
	a.parts = append(a.parts, '}')
}

func (a *textAcc) addFinish(s string) {
	if a.input || s == "" {
		return
	}
	if len(a.finish) > 0 {
		a.finish = append(a.finish, ',')
	}
	a.finish = AppendJSONString(a.finish, s)
}

func isTextPartType(t string) bool {
	switch t {
	case "text", "", "input_text", "output_text":
		return true
	}
	return false
}

// messagesAny reads messages given as a structured AnyValue: an array of
// message kvlists, one message kvlist, or a JSON string.
func (a *textAcc) messagesAny(v *commonpb.AnyValue, ctx msgCtx) bool {
	switch x := v.GetValue().(type) {
	case *commonpb.AnyValue_ArrayValue:
		for _, e := range x.ArrayValue.GetValues() {
			switch y := e.GetValue().(type) {
			case *commonpb.AnyValue_KvlistValue:
				a.messageAny(y.KvlistValue.GetValues(), ctx)
			case *commonpb.AnyValue_StringValue:
				a.addText(ctx, y.StringValue)
			default:
				a.addPartAny(e)
			}
		}
		return true
	case *commonpb.AnyValue_KvlistValue:
		a.messageAny(x.KvlistValue.GetValues(), ctx)
		return true
	case *commonpb.AnyValue_StringValue:
		return a.messagesJSON(x.StringValue, ctx)
	}
	return false
}

func (a *textAcc) messageAny(kvs []*commonpb.KeyValue, ctx msgCtx) {
	var parts, content, toolCalls *commonpb.AnyValue
	for _, kv := range kvs {
		switch kv.GetKey() {
		case "role":
			ctx.role = anyString(kv.Value)
		case "parts":
			parts = kv.Value
		case "content":
			content = kv.Value
		case "tool_calls":
			toolCalls = kv.Value
		case "tool_call_id", "id":
			ctx.id = anyString(kv.Value)
		case "finish_reason":
			a.addFinish(anyString(kv.Value))
		}
	}
	if parts != nil {
		a.contentAny(ctx, parts)
	}
	if content != nil {
		a.contentAny(ctx, content)
	}
	if toolCalls != nil {
		a.toolCallsAny(toolCalls)
	}
}

// contentAny reads a message's content or parts: a string, one part, or an
// array of parts and strings.
func (a *textAcc) contentAny(ctx msgCtx, v *commonpb.AnyValue) {
	switch x := v.GetValue().(type) {
	case nil:
	case *commonpb.AnyValue_StringValue:
		a.addText(ctx, x.StringValue)
	case *commonpb.AnyValue_ArrayValue:
		for _, e := range x.ArrayValue.GetValues() {
			switch y := e.GetValue().(type) {
			case *commonpb.AnyValue_KvlistValue:
				a.partAny(ctx, y.KvlistValue.GetValues(), e)
			case *commonpb.AnyValue_StringValue:
				a.addText(ctx, y.StringValue)
			default:
				a.addPartAny(e)
			}
		}
	case *commonpb.AnyValue_KvlistValue:
		a.partAny(ctx, x.KvlistValue.GetValues(), v)
	default:
		a.addText(ctx, anyString(v))
	}
}

func (a *textAcc) partAny(ctx msgCtx, kvs []*commonpb.KeyValue, whole *commonpb.AnyValue) {
	typ, text, hasText := "", "", false
	for _, kv := range kvs {
		switch kv.GetKey() {
		case "type":
			typ = anyString(kv.Value)
		case "content", "text":
			if s, ok := kv.GetValue().GetValue().(*commonpb.AnyValue_StringValue); ok {
				text, hasText = s.StringValue, true
			}
		}
	}
	if hasText && isTextPartType(typ) {
		a.addText(ctx, text)
		return
	}
	a.addPartAny(whole)
}

func (a *textAcc) toolCallsAny(v *commonpb.AnyValue) {
	switch x := v.GetValue().(type) {
	case *commonpb.AnyValue_ArrayValue:
		for _, e := range x.ArrayValue.GetValues() {
			a.addPartAny(e)
		}
	case *commonpb.AnyValue_StringValue:
		if !a.toolCallsJSON(x.StringValue) {
			a.addPartAny(v)
		}
	default:
		a.addPartAny(v)
	}
}

// eventMessage reads one older-semconv message event (gen_ai.user.message,
// …, gen_ai.choice): the content attribute, a message attribute holding the
// message as JSON or kvlist, or the event body carried as an attribute.
func (a *textAcc) eventMessage(ev *tracepb.Span_Event, class uint8) {
	ctx := msgCtx{}
	switch class {
	case evSystem:
		ctx.role = "system"
	case evUser:
		ctx.role = "user"
	case evAssistant, evChoice:
		ctx.role = "assistant"
	case evTool:
		ctx.role = "tool"
	}
	var content, message, toolCalls *commonpb.AnyValue
	for _, kv := range ev.GetAttributes() {
		switch kv.GetKey() {
		case "content":
			content = kv.Value
		case "message", "body", "event.body":
			message = kv.Value
		case "tool_calls":
			toolCalls = kv.Value
		case "id", "tool_call_id":
			ctx.id = anyString(kv.Value)
		case "role":
			if s := anyString(kv.Value); s != "" {
				ctx.role = s
			}
		case "finish_reason":
			a.addFinish(anyString(kv.Value))
		}
	}
	switch {
	case content != nil:
		a.contentAny(ctx, content)
	case message != nil:
		if !a.messagesAny(message, ctx) {
			a.addText(ctx, anyString(message))
		}
	}
	if toolCalls != nil {
		a.toolCallsAny(toolCalls)
	}
}

// legacyContent reads gen_ai.prompt / gen_ai.completion (semconv before
// 1.28, OpenLIT): messages as JSON, or plain text.
func (a *textAcc) legacyContent(v *commonpb.AnyValue) {
	if s, ok := v.GetValue().(*commonpb.AnyValue_StringValue); ok {
		t := strings.TrimLeft(s.StringValue, " \t\r\n")
		if t != "" && (t[0] == '[' || t[0] == '{') && a.messagesJSON(s.StringValue, msgCtx{}) {
			return
		}
		a.text.add(s.StringValue)
		return
	}
	if !a.messagesAny(v, msgCtx{}) {
		a.text.add(anyString(v))
	}
}

// indexedContent reads one gen_ai.prompt.{i}.content style value. OpenLLMetry
// writes multimodal content as a JSON array of typed parts; such a value is
// read as parts, any other string as text.
func (a *textAcc) indexedContent(ctx msgCtx, v *commonpb.AnyValue) {
	s, ok := v.GetValue().(*commonpb.AnyValue_StringValue)
	if !ok {
		a.contentAny(ctx, v)
		return
	}
	t := strings.TrimLeft(s.StringValue, " \t\r\n")
	if strings.HasPrefix(t, "[{") && a.strictPartsJSON(ctx, s.StringValue) {
		return
	}
	a.addText(ctx, s.StringValue)
}

// messagesJSON reads s, a JSON array of messages or one message object. It
// leaves a as it was and returns false when s is not valid JSON.
func (a *textAcc) messagesJSON(s string, ctx msgCtx) bool {
	mk := a.mark()
	p := jscan{s: s}
	ok := false
	switch p.peek() {
	case '[':
		p.i++
		ok = true
		for first := true; ; first = false {
			done, good := p.arrNext(first)
			if !good {
				ok = false
				break
			}
			if done {
				break
			}
			if !a.messageElemJSON(&p, ctx) {
				ok = false
				break
			}
		}
	case '{':
		ok = a.messageJSON(&p, ctx)
	}
	if ok {
		ok = p.peek() == 0 && p.i == len(p.s)
	}
	if !ok {
		a.rollback(mk)
	}
	return ok
}

func (a *textAcc) messageElemJSON(p *jscan, ctx msgCtx) bool {
	switch p.peek() {
	case '{':
		return a.messageJSON(p, ctx)
	case '"':
		s, ok := p.str()
		a.addText(ctx, s)
		return ok
	}
	start := p.i
	if !p.skip() {
		return false
	}
	a.addPartRaw(p.s[start:p.i])
	return true
}

// messageJSON reads one message object at p: semconv's {role, parts,
// finish_reason} or the OpenAI shape {role, content, tool_calls}. Content
// met before the role is read after the object ends.
func (a *textAcc) messageJSON(p *jscan, ctx msgCtx) bool {
	p.i++ // '{'
	var parts, content, toolCalls string
	roleSeen := false
	for first := true; ; first = false {
		key, done, ok := p.objNext(first)
		if !ok {
			return false
		}
		if done {
			break
		}
		switch key {
		case "role":
			s, ok := p.strOrSkip()
			if !ok {
				return false
			}
			ctx.role, roleSeen = s, true
		case "parts", "content":
			if (roleSeen && ctx.role != "tool") || !a.input {
				if !a.contentJSON(p, ctx) {
					return false
				}
				continue
			}
			start := p.peekPos()
			if !p.skip() {
				return false
			}
			if key == "parts" {
				parts = p.s[start:p.i]
			} else {
				content = p.s[start:p.i]
			}
		case "tool_calls":
			start := p.peekPos()
			if !p.skip() {
				return false
			}
			toolCalls = p.s[start:p.i]
		case "tool_call_id":
			s, ok := p.strOrSkip()
			if !ok {
				return false
			}
			ctx.id = s
		case "finish_reason":
			s, ok := p.strOrSkip()
			if !ok {
				return false
			}
			a.addFinish(s)
		default:
			if !p.skip() {
				return false
			}
		}
	}
	// The deferred values were validated by skip.
	if parts != "" {
		q := jscan{s: parts}
		a.contentJSON(&q, ctx)
	}
	if content != "" {
		q := jscan{s: content}
		a.contentJSON(&q, ctx)
	}
	if toolCalls != "" {
		a.toolCallsJSON(toolCalls)
	}
	return true
}

// contentJSON reads a content or parts value at p: a string, a part object,
// or an array of parts and strings.
func (a *textAcc) contentJSON(p *jscan, ctx msgCtx) bool {
	switch p.peek() {
	case '"':
		s, ok := p.str()
		a.addText(ctx, s)
		return ok
	case '{':
		return a.partJSON(p, ctx, false)
	case '[':
		p.i++
		for first := true; ; first = false {
			done, ok := p.arrNext(first)
			if !ok {
				return false
			}
			if done {
				return true
			}
			switch p.peek() {
			case '{':
				if !a.partJSON(p, ctx, false) {
					return false
				}
			case '"':
				s, ok := p.str()
				if !ok {
					return false
				}
				a.addText(ctx, s)
			default:
				start := p.i
				if !p.skip() {
					return false
				}
				a.addPartRaw(p.s[start:p.i])
			}
		}
	case 'n':
		return p.skip()
	}
	start := p.peekPos()
	if !p.skip() {
		return false
	}
	a.addPartRaw(p.s[start:p.i])
	return true
}

// partJSON reads one part object at p; text parts feed the text, others are
// kept whole. In strict mode a part without a type fails.
func (a *textAcc) partJSON(p *jscan, ctx msgCtx, strict bool) bool {
	start := p.i
	p.i++ // '{'
	typ, text := "", ""
	hasType, hasText := false, false
	for first := true; ; first = false {
		key, done, ok := p.objNext(first)
		if !ok {
			return false
		}
		if done {
			break
		}
		switch key {
		case "type":
			if typ, ok = p.strOrSkip(); !ok {
				return false
			}
			hasType = true
		case "content", "text":
			if p.peek() == '"' {
				if text, ok = p.str(); !ok {
					return false
				}
				hasText = true
				continue
			}
			if !p.skip() {
				return false
			}
		default:
			if !p.skip() {
				return false
			}
		}
	}
	if strict && !hasType {
		return false
	}
	if hasText && isTextPartType(typ) {
		a.addText(ctx, text)
		return true
	}
	a.addPartRaw(p.s[start:p.i])
	return true
}

// strictPartsJSON reads s as a JSON array of typed part objects, or leaves
// a as it was and returns false.
func (a *textAcc) strictPartsJSON(ctx msgCtx, s string) bool {
	mk := a.mark()
	p := jscan{s: s}
	ok := p.peek() == '['
	if ok {
		p.i++
		for first := true; ; first = false {
			done, good := p.arrNext(first)
			if !good || (!done && p.peek() != '{') {
				ok = false
				break
			}
			if done {
				break
			}
			if !a.partJSON(&p, ctx, true) {
				ok = false
				break
			}
		}
	}
	if ok {
		ok = p.peek() == 0 && p.i == len(p.s)
	}
	if !ok {
		a.rollback(mk)
	}
	return ok
}

// toolCallsJSON adds each element of a JSON array of tool calls as a part,
// or the whole value when it is not an array. It returns false, adding
// nothing, when raw is not valid JSON.
func (a *textAcc) toolCallsJSON(raw string) bool {
	mk := a.mark()
	p := jscan{s: raw}
	ok := true
	if p.peek() == '[' {
		p.i++
		for first := true; ; first = false {
			done, good := p.arrNext(first)
			if !good {
				ok = false
				break
			}
			if done {
				break
			}
			start := p.i
			if !p.skip() {
				ok = false
				break
			}
			a.addPartRaw(p.s[start:p.i])
		}
	} else {
		start := p.peekPos()
		if ok = p.skip(); ok {
			a.addPartRaw(p.s[start:p.i])
		}
	}
	if ok {
		ok = p.peek() == 0 && p.i == len(p.s)
	}
	if !ok {
		a.rollback(mk)
	}
	return ok
}

// jscan is a small validating JSON reader over a string: enough to walk
// message arrays without reflection, returning string values as substrings
// of the input wherever they hold no escapes.
type jscan struct {
	s     string
	i     int
	depth int
}

const maxJSONDepth = 200

func (p *jscan) ws() {
	for p.i < len(p.s) {
		switch p.s[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

// peek skips white space and returns the next byte, or 0 at the end.
func (p *jscan) peek() byte {
	p.ws()
	if p.i < len(p.s) {
		return p.s[p.i]
	}
	return 0
}

func (p *jscan) peekPos() int {
	p.ws()
	return p.i
}

// arrNext moves to the next array element (after '[' was consumed); done
// reports the closing ']'.
func (p *jscan) arrNext(first bool) (done, ok bool) {
	c := p.peek()
	if c == ']' {
		p.i++
		return true, true
	}
	if !first {
		if c != ',' {
			return false, false
		}
		p.i++
		c = p.peek()
	}
	return false, c != 0
}

// objNext reads the next key and its colon (after '{' was consumed); done
// reports the closing '}'.
func (p *jscan) objNext(first bool) (key string, done, ok bool) {
	c := p.peek()
	if c == '}' {
		p.i++
		return "", true, true
	}
	if !first {
		if c != ',' {
			return "", false, false
		}
		p.i++
	}
	if key, ok = p.str(); !ok {
		return "", false, false
	}
	if p.peek() != ':' {
		return "", false, false
	}
	p.i++
	return key, false, true
}

// strOrSkip reads a string value, or skips a value of another type and
// returns "".
func (p *jscan) strOrSkip() (string, bool) {
	if p.peek() == '"' {
		return p.str()
	}
	return "", p.skip()
}

// str reads a string at p: a substring of the input when it holds no
// escapes, else one allocation of the unescaped text.
func (p *jscan) str() (string, bool) {
	if p.peek() != '"' {
		return "", false
	}
	start := p.i + 1
	if !p.skipStr() {
		return "", false
	}
	end := p.i - 1 // the closing quote
	i := start
	k := strings.IndexByte(p.s[i:end], '\\')
	if k < 0 {
		return p.s[start:end], true
	}
	var b strings.Builder
	b.Grow(end - start)
	for {
		b.WriteString(p.s[i : i+k])
		i += k
		// The closing quote is not escaped, so the escape ends before it.
		switch c := p.s[i+1]; c {
		case '"', '\\', '/':
			b.WriteByte(c)
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'u':
			r, ok := hex4(p.s[:end], i+2)
			if !ok {
				return "", false
			}
			i += 6
			if utf16.IsSurrogate(r) {
				if r2, ok := hex4(p.s[:end], i+2); ok && p.s[i] == '\\' && p.s[i+1] == 'u' {
					if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
						b.WriteRune(d)
						i += 6
						goto next
					}
				}
				r = utf8.RuneError
			}
			b.WriteRune(r)
			goto next
		default:
			return "", false
		}
		i += 2
	next:
		if k = strings.IndexByte(p.s[i:end], '\\'); k < 0 {
			b.WriteString(p.s[i:end])
			return b.String(), true
		}
	}
}

func hex4(s string, i int) (rune, bool) {
	if i+4 > len(s) {
		return 0, false
	}
	var r rune
	for _, c := range []byte(s[i : i+4]) {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}

// skipStr passes over a string, checking its escapes.
func (p *jscan) skipStr() bool {
	start := p.i + 1
	p.i = start
	for {
		k := strings.IndexByte(p.s[p.i:], '"')
		if k < 0 {
			return false
		}
		end := p.i + k
		bs := 0
		for q := end - 1; q >= p.i && p.s[q] == '\\'; q-- {
			bs++
		}
		p.i = end + 1
		if bs%2 == 0 {
			return validEscapes(p.s[start:end])
		}
	}
}

// validEscapes reports whether every backslash in s (a string's content)
// starts a JSON escape.
func validEscapes(s string) bool {
	for {
		k := strings.IndexByte(s, '\\')
		if k < 0 {
			return true
		}
		if k+1 >= len(s) {
			return false
		}
		switch s[k+1] {
		case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			s = s[k+2:]
		case 'u':
			if _, ok := hex4(s, k+2); !ok {
				return false
			}
			s = s[k+6:]
		default:
			return false
		}
	}
}

// skip validates and passes over one value.
func (p *jscan) skip() bool {
	switch c := p.peek(); c {
	case '"':
		return p.skipStr()
	case '{', '[':
		if p.depth++; p.depth > maxJSONDepth {
			return false
		}
		p.i++
		for first := true; ; first = false {
			var done, ok bool
			if c == '{' {
				_, done, ok = p.objNext(first)
			} else {
				done, ok = p.arrNext(first)
			}
			if !ok {
				return false
			}
			if done {
				break
			}
			if !p.skip() {
				return false
			}
		}
		p.depth--
		return true
	case 't':
		return p.lit("true")
	case 'f':
		return p.lit("false")
	case 'n':
		return p.lit("null")
	case 0:
		return false
	}
	return p.number()
}

// number reads a number as JSON's grammar has it:
// -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
func (p *jscan) number() bool {
	s, i := p.s, p.i
	if i < len(s) && s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && s[i] >= '1' && s[i] <= '9':
		i = digitsEnd(s, i)
	default:
		return false
	}
	if i < len(s) && s[i] == '.' {
		j := digitsEnd(s, i+1)
		if j == i+1 {
			return false
		}
		i = j
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		j := digitsEnd(s, i)
		if j == i {
			return false
		}
		i = j
	}
	p.i = i
	return true
}

func digitsEnd(s string, i int) int {
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return i
}

func (p *jscan) lit(l string) bool {
	if strings.HasPrefix(p.s[p.i:], l) {
		p.i += len(l)
		return true
	}
	return false
}
