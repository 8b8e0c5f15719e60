package simulate

import (
	"encoding/hex"
	"math"
	"strconv"
	"time"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/chainwatch/chainwatch/schemas"
)

// Span positions in a trace's id array.
const (
	spanRoot = iota
	spanRetriever
	spanTool
	spanLLM
	spanGuardrail
)

// spanBuilder writes one trace's spans in its app's dialect.
type spanBuilder struct {
	tr   *Trace
	def  *appDef
	ver  chainVersion
	tool *toolDef
	tx   texts
	env  string
	// callID is the tool call's id, shared by the tool span and the
	// model's messages.
	callID string
	a      *attrs
}

func ms(x float64) time.Duration { return time.Duration(x * float64(time.Millisecond)) }

// buildSpans lays the chain's steps out in time so that the trace ends at
// now, and writes its spans: root chain → retriever → tool (when the intent
// calls one) → llm → guardrail, all children of the root. A failing step
// ends the chain: after a tool or model error no later step runs.
func (g *Generator) buildSpans(tr *Trace, st *appState, ver chainVersion, tool *toolDef, tx texts, ids [5][8]byte, respID uint64, now time.Time) {
	t := g.timing
	// Timings: always the same number of draws.
	var gap [5]time.Duration
	for i := range gap {
		gap[i] = ms(1 + 4*t.Float64())
	}
	retrU, toolU, ttftU, llmErrU, guardU := t.Float64(), t.Float64(), t.Float64(), t.Float64(), t.Float64()
	noise := t.NormFloat64()

	retr := ms(30 + 120*retrU)
	toolD := ms(80 + 700*toolU)
	// Latency grows with the answer: time to first token plus a per-token
	// decode time with log-normal noise.
	perToken := ver.msPerToken * math.Exp(0.25*noise)
	llm := ms(250 + 450*ttftU + float64(tr.OutputTokens)*perToken)
	switch tr.Error {
	case ErrRateLimit:
		llm = ms(40 + 160*llmErrU)
	case ErrTimeout:
		llm = 30*time.Second + ms(50*llmErrU)
	case ErrProvider:
		llm = ms(300 + 1700*llmErrU)
	}
	guard := ms(8 + 40*guardU)

	runTool := tool != nil
	runLLM := tr.Error != ErrTool
	runGuard := runLLM && (tr.Error == ErrNone || tr.Error == ErrContentFilter)

	type step struct{ start, end time.Duration }
	var steps [5]step
	off := gap[0]
	steps[spanRetriever] = step{off, off + retr}
	off += retr + gap[1]
	if runTool {
		steps[spanTool] = step{off, off + toolD}
		off += toolD + gap[2]
	}
	if runLLM {
		steps[spanLLM] = step{off, off + llm}
		off += llm + gap[3]
	}
	if runGuard {
		steps[spanGuardrail] = step{off, off + guard}
		off += guard
	}
	total := off + gap[4]
	steps[spanRoot] = step{0, total}
	base := now.Add(-total)
	tr.Start, tr.End = base, now

	b := &spanBuilder{tr: tr, def: st.def, ver: ver, tool: tool, tx: tx, env: g.traffic.Environment,
		callID: hex.EncodeToString(ids[spanTool][:]), a: &g.attrs}
	mk := func(i int, name string, kind tracepb.Span_SpanKind) *tracepb.Span {
		s := &tracepb.Span{
			TraceId:           tr.TraceID[:],
			SpanId:            ids[i][:],
			Name:              name,
			Kind:              kind,
			StartTimeUnixNano: uint64(base.Add(steps[i].start).UnixNano()),
			EndTimeUnixNano:   uint64(base.Add(steps[i].end).UnixNano()),
		}
		if i != spanRoot {
			s.ParentSpanId = ids[spanRoot][:]
		}
		return s
	}

	n := 3
	if runTool {
		n++
	}
	if runGuard {
		n++
	}
	spans := make([]*tracepb.Span, 0, n)
	root := b.root(mk)
	spans = append(spans, root, b.retriever(mk))
	failed := root
	if runTool {
		s := b.toolCall(mk)
		spans = append(spans, s)
		if tr.Error == ErrTool {
			failed = s
		}
	}
	if runLLM {
		s := b.llm(mk, respID)
		spans = append(spans, s)
		if tr.Error == ErrRateLimit || tr.Error == ErrTimeout || tr.Error == ErrProvider {
			failed = s
		}
	}
	if runGuard {
		s := b.guardrail(mk)
		spans = append(spans, s)
		if tr.Error == ErrContentFilter {
			failed = s
		}
	}
	ok := tracepb.Status_STATUS_CODE_OK
	if st.def.dialect == dialectSemconv {
		ok = tracepb.Status_STATUS_CODE_UNSET // semconv instrumentations leave success unset
	}
	for _, s := range spans {
		s.Status = &tracepb.Status{Code: ok}
	}
	if tr.Error != ErrNone {
		et := errorType(tr.Error, tr.ErrorMessage)
		for _, s := range []*tracepb.Span{failed, root} {
			s.Status = &tracepb.Status{Code: tracepb.Status_STATUS_CODE_ERROR, Message: tr.ErrorMessage}
			if st.def.dialect == dialectSemconv {
				s.Attributes = append(s.Attributes, strKV("error.type", et))
			}
			if s == failed {
				s.Events = append(s.Events, &tracepb.Span_Event{
					TimeUnixNano: s.EndTimeUnixNano,
					Name:         "exception",
					Attributes: []*commonpb.KeyValue{
						strKV("exception.type", et),
						strKV("exception.message", tr.ErrorMessage),
					},
				})
			}
			if failed == root {
				break
			}
		}
	}
	tr.Spans = spans
}

type mkSpan func(i int, name string, kind tracepb.Span_SpanKind) *tracepb.Span

// lineage writes the chainwatch attributes every span carries.
func (b *spanBuilder) lineage(n int, component string, kind schemas.ComponentKind) {
	b.a.begin(n + 10)
	b.a.str1(attrApp, b.def.name)
	b.a.str1(attrEnvironment, b.env)
	b.a.str1(attrChainName, b.def.chain)
	b.a.str1(attrChainVersion, b.ver.chain)
	b.a.str1(attrComponentName, component)
	b.a.str1(attrComponentKind, string(kind))
	b.a.str1(attrTemplateID, b.def.templateID)
	b.a.str1(attrTemplateVersion, b.ver.template)
	b.a.str1(attrSessionID, b.tr.SessionID)
	b.a.str1(attrUserID, b.tr.UserID)
}

func (b *spanBuilder) ok() bool { return b.tr.Answer != "" }

func kwargsJSON(key, value string) string {
	buf := append([]byte(`{"args":[],"kwargs":{`), schemas.AppendJSONString(nil, key)...)
	buf = append(buf, ':')
	buf = schemas.AppendJSONString(buf, value)
	return string(append(buf, "}}"...))
}

func (b *spanBuilder) root(mk mkSpan) *tracepb.Span {
	def, a := b.def, b.a
	var s *tracepb.Span
	switch def.dialect {
	case dialectSemconv:
		s = mk(spanRoot, "invoke_agent "+def.chain, tracepb.Span_SPAN_KIND_SERVER)
		b.lineage(5, def.chain, schemas.KindChain)
		a.str1("gen_ai.operation.name", "invoke_agent")
		a.str1("gen_ai.agent.name", def.chain)
		a.str1("gen_ai.provider.name", def.provider)
		a.str1("gen_ai.request.model", b.ver.model)
		a.str1("gen_ai.conversation.id", b.tr.SessionID)
	case dialectOpenLLMetry:
		s = mk(spanRoot, def.chain+".workflow", tracepb.Span_SPAN_KIND_INTERNAL)
		b.lineage(7, def.chain, schemas.KindChain)
		a.str1("traceloop.span.kind", "workflow")
		a.str1("traceloop.workflow.name", def.chain)
		a.str1("traceloop.entity.name", def.chain)
		a.str1("traceloop.entity.input", kwargsJSON("message", b.tx.prompt))
		if b.ok() && b.tr.Error == ErrNone {
			a.str1("traceloop.entity.output", string(schemas.AppendJSONString(nil, b.tr.Answer)))
		}
		a.str1("traceloop.association.properties.session_id", b.tr.SessionID)
		a.str1("traceloop.association.properties.user_id", b.tr.UserID)
	case dialectOpenInference:
		s = mk(spanRoot, "query", tracepb.Span_SPAN_KIND_INTERNAL)
		b.lineage(7, def.chain, schemas.KindChain)
		a.str1("openinference.span.kind", "CHAIN")
		a.str1("input.value", b.tx.prompt)
		a.str1("input.mime_type", "text/plain")
		if b.ok() && b.tr.Error == ErrNone {
			a.str1("output.value", b.tr.Answer)
			a.str1("output.mime_type", "text/plain")
		}
		a.str1("session.id", b.tr.SessionID)
		a.str1("user.id", b.tr.UserID)
	}
	s.Attributes = a.end()
	return s
}

func (b *spanBuilder) retriever(mk mkSpan) *tracepb.Span {
	def, a, docs := b.def, b.a, b.tx.docs
	var s *tracepb.Span
	switch def.dialect {
	case dialectSemconv:
		s = mk(spanRetriever, "retrieval "+def.dataSource, tracepb.Span_SPAN_KIND_CLIENT)
		b.lineage(5, def.retriever, schemas.KindRetriever)
		a.str1("gen_ai.operation.name", "retrieval")
		a.str1("gen_ai.data_source.id", def.dataSource)
		a.int1("gen_ai.retrieval.top_k", int64(len(docs)))
		a.str1("gen_ai.retrieval.query.text", b.tx.prompt)
		a.str1("gen_ai.retrieval.documents", docsJSON(docs, true))
	case dialectOpenLLMetry:
		s = mk(spanRetriever, def.retriever+".task", tracepb.Span_SPAN_KIND_INTERNAL)
		b.lineage(5, def.retriever, schemas.KindRetriever)
		a.str1("traceloop.span.kind", "task")
		a.str1("traceloop.workflow.name", def.chain)
		a.str1("traceloop.entity.name", def.retriever)
		a.str1("traceloop.entity.input", kwargsJSON("query", b.tx.prompt))
		a.str1("traceloop.entity.output", docsJSON(docs, false))
	case dialectOpenInference:
		s = mk(spanRetriever, "retrieve", tracepb.Span_SPAN_KIND_INTERNAL)
		b.lineage(2+3*len(docs), def.retriever, schemas.KindRetriever)
		a.str1("openinference.span.kind", "RETRIEVER")
		a.str1("input.value", b.tx.prompt)
		for i, d := range docs {
			p := "retrieval.documents." + strconv.Itoa(i) + ".document."
			a.str1(p+"id", d.id)
			a.str1(p+"content", d.content)
			a.float1(p+"score", d.score)
		}
	}
	s.Attributes = a.end()
	return s
}

func (b *spanBuilder) toolCall(mk mkSpan) *tracepb.Span {
	def, a, tool := b.def, b.a, b.tool
	failed := b.tr.Error == ErrTool
	var s *tracepb.Span
	switch def.dialect {
	case dialectSemconv:
		s = mk(spanTool, "execute_tool "+tool.name, tracepb.Span_SPAN_KIND_INTERNAL)
		b.lineage(7, tool.name, schemas.KindTool)
		a.str1("gen_ai.operation.name", "execute_tool")
		a.str1("gen_ai.tool.name", tool.name)
		a.str1("gen_ai.tool.type", "function")
		a.str1("gen_ai.tool.description", tool.description)
		a.str1("gen_ai.tool.call.id", "call_"+b.callID)
		a.str1("gen_ai.tool.call.arguments", b.tx.toolArgs)
		if !failed {
			a.str1("gen_ai.tool.call.result", b.tx.toolResult)
		}
	case dialectOpenLLMetry:
		s = mk(spanTool, tool.name+".tool", tracepb.Span_SPAN_KIND_INTERNAL)
		b.lineage(5, tool.name, schemas.KindTool)
		a.str1("traceloop.span.kind", "tool")
		a.str1("traceloop.workflow.name", def.chain)
		a.str1("traceloop.entity.name", tool.name)
		a.str1("traceloop.entity.input", `{"args":[],"kwargs":`+b.tx.toolArgs+`}`)
		if !failed {
			a.str1("traceloop.entity.output", b.tx.toolResult)
		}
	case dialectOpenInference:
		s = mk(spanTool, tool.name, tracepb.Span_SPAN_KIND_INTERNAL)
		b.lineage(5, tool.name, schemas.KindTool)
		a.str1("openinference.span.kind", "TOOL")
		a.str1("tool.name", tool.name)
		a.str1("tool.description", tool.description)
		a.str1("input.value", b.tx.toolArgs)
		if !failed {
			a.str1("output.value", b.tx.toolResult)
		}
	}
	s.Attributes = a.end()
	return s
}

const (
	temperature = 0.2
	maxTokens   = 1024
)

func (b *spanBuilder) llm(mk mkSpan, respID uint64) *tracepb.Span {
	def, a, tr, ver := b.def, b.a, b.tr, b.ver
	ok := b.ok()
	component := def.chain + "-llm"
	withTool := b.tool != nil
	var s *tracepb.Span
	switch def.dialect {
	case dialectSemconv:
		s = mk(spanLLM, "chat "+ver.model, tracepb.Span_SPAN_KIND_CLIENT)
		b.lineage(16, component, schemas.KindLLM)
		a.str1("gen_ai.operation.name", "chat")
		a.str1("gen_ai.provider.name", def.provider)
		a.str1("gen_ai.request.model", ver.model)
		a.float1("gen_ai.request.temperature", temperature)
		a.int1("gen_ai.request.max_tokens", maxTokens)
		a.str1("server.address", def.server)
		a.int1("server.port", 443)
		a.str1("gen_ai.conversation.id", tr.SessionID)
		a.str1("gen_ai.system_instructions", textPartsJSON(def.system))
		a.str1("gen_ai.input.messages", b.semconvInput())
		if ok {
			a.str1("gen_ai.response.model", ver.responseModel)
			a.str1("gen_ai.response.id", "chatcmpl-"+strconv.FormatUint(respID, 36))
			a.strArray("gen_ai.response.finish_reasons", "stop")
			a.int1("gen_ai.usage.input_tokens", tr.InputTokens)
			a.int1("gen_ai.usage.output_tokens", tr.OutputTokens)
			a.str1("gen_ai.output.messages", textMessagesJSON("assistant", tr.Answer, "stop"))
		}
	case dialectOpenLLMetry:
		s = mk(spanLLM, def.provider+".chat", tracepb.Span_SPAN_KIND_CLIENT)
		b.lineage(20, component, schemas.KindLLM)
		a.str1("llm.request.type", "chat")
		a.str1("gen_ai.system", def.provider)
		a.str1("gen_ai.request.model", ver.model)
		a.float1("gen_ai.request.temperature", temperature)
		a.int1("gen_ai.request.max_tokens", maxTokens)
		a.str1("traceloop.workflow.name", def.chain)
		a.str1("gen_ai.prompt.0.role", "system")
		a.str1("gen_ai.prompt.0.content", def.system)
		a.str1("gen_ai.prompt.1.role", "user")
		a.str1("gen_ai.prompt.1.content", b.tx.prompt)
		if withTool {
			a.str1("gen_ai.prompt.2.role", "tool")
			a.str1("gen_ai.prompt.2.content", b.tx.toolResult)
		}
		if ok {
			a.str1("gen_ai.response.model", ver.responseModel)
			a.str1("gen_ai.response.id", "chatcmpl-"+strconv.FormatUint(respID, 36))
			a.str1("gen_ai.completion.0.role", "assistant")
			a.str1("gen_ai.completion.0.content", tr.Answer)
			a.str1("gen_ai.completion.0.finish_reason", "stop")
			a.int1("gen_ai.usage.prompt_tokens", tr.InputTokens)
			a.int1("gen_ai.usage.completion_tokens", tr.OutputTokens)
			a.int1("llm.usage.total_tokens", tr.InputTokens+tr.OutputTokens)
		}
	case dialectOpenInference:
		s = mk(spanLLM, "llm", tracepb.Span_SPAN_KIND_INTERNAL)
		b.lineage(22, component, schemas.KindLLM)
		a.str1("openinference.span.kind", "LLM")
		a.str1("llm.provider", def.provider)
		a.str1("llm.system", def.provider)
		a.str1("llm.invocation_parameters", `{"temperature":0.2,"max_tokens":1024}`)
		a.str1("llm.prompt_template.template", def.promptTemplate)
		a.str1("llm.prompt_template.version", ver.template)
		a.str1("llm.prompt_template.variables", `{"question":`+string(schemas.AppendJSONString(nil, b.tx.prompt))+`}`)
		a.str1("input.value", b.tx.prompt)
		a.str1("input.mime_type", "text/plain")
		a.str1("llm.input_messages.0.message.role", "system")
		a.str1("llm.input_messages.0.message.content", def.system)
		a.str1("llm.input_messages.1.message.role", "user")
		a.str1("llm.input_messages.1.message.content", b.tx.prompt)
		a.str1("session.id", tr.SessionID)
		a.str1("user.id", tr.UserID)
		if ok {
			a.str1("llm.model_name", ver.responseModel)
			a.str1("output.value", tr.Answer)
			a.str1("output.mime_type", "text/plain")
			a.str1("llm.output_messages.0.message.role", "assistant")
			a.str1("llm.output_messages.0.message.content", tr.Answer)
			a.int1("llm.token_count.prompt", tr.InputTokens)
			a.int1("llm.token_count.completion", tr.OutputTokens)
			a.int1("llm.token_count.total", tr.InputTokens+tr.OutputTokens)
		} else {
			a.str1("llm.model_name", ver.model)
		}
	}
	s.Attributes = a.end()
	return s
}

// semconvInput is gen_ai.input.messages: the user's message and, when the
// chain called a tool, the model's tool call and the tool's response.
func (b *spanBuilder) semconvInput() string {
	if b.tool == nil {
		return textMessagesJSON("user", b.tx.prompt, "")
	}
	buf := make([]byte, 0, len(b.tx.prompt)+len(b.tx.toolArgs)+len(b.tx.toolResult)+256)
	buf = append(buf, `[{"role":"user","parts":[{"type":"text","content":`...)
	buf = schemas.AppendJSONString(buf, b.tx.prompt)
	buf = append(buf, `}]},{"role":"assistant","parts":[{"type":"tool_call","id":"call_`...)
	buf = append(buf, b.callID...)
	buf = append(buf, `","name":`...)
	buf = schemas.AppendJSONString(buf, b.tool.name)
	buf = append(buf, `,"arguments":`...)
	buf = append(buf, b.tx.toolArgs...)
	buf = append(buf, `}]},{"role":"tool","parts":[{"type":"tool_call_response","id":"call_`...)
	buf = append(buf, b.callID...)
	buf = append(buf, `","response":`...)
	buf = schemas.AppendJSONString(buf, b.tx.toolResult)
	buf = append(buf, `}]}]`...)
	return string(buf)
}

func (b *spanBuilder) guardrail(mk mkSpan) *tracepb.Span {
	def, a := b.def, b.a
	blocked := b.tr.Error == ErrContentFilter
	var s *tracepb.Span
	switch def.dialect {
	case dialectSemconv:
		s = mk(spanGuardrail, "guardrail "+def.guardrail, tracepb.Span_SPAN_KIND_INTERNAL)
		b.lineage(0, def.guardrail, schemas.KindGuardrail)
	case dialectOpenLLMetry:
		s = mk(spanGuardrail, def.guardrail+".task", tracepb.Span_SPAN_KIND_INTERNAL)
		b.lineage(5, def.guardrail, schemas.KindGuardrail)
		a.str1("traceloop.span.kind", "task")
		a.str1("traceloop.workflow.name", def.chain)
		a.str1("traceloop.entity.name", def.guardrail)
		a.str1("traceloop.entity.input", kwargsJSON("answer", b.tr.Answer))
		a.str1("traceloop.entity.output", `{"passed":`+strconv.FormatBool(!blocked)+`}`)
	case dialectOpenInference:
		s = mk(spanGuardrail, def.guardrail, tracepb.Span_SPAN_KIND_INTERNAL)
		b.lineage(3, def.guardrail, schemas.KindGuardrail)
		a.str1("openinference.span.kind", "GUARDRAIL")
		a.str1("input.value", b.tr.Answer)
		out := "pass"
		if blocked {
			out = "blocked"
		}
		a.str1("output.value", out)
	}
	s.Attributes = a.end()
	return s
}
