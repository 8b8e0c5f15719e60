// The text accumulator of the OTLP mapping: one direction's text, system
// text, non-text parts and finish reasons, read from OTLP values.

package genai

import (
	"strings"

	"github.com/chainwatch/chainwatch/schemas"
)

// hexDigits writes control characters as \u00XX escapes.
const hexDigits = "0123456789abcdef"

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
	parts     []byte   // JSON values separated by commas
	finish    []byte   // JSON strings separated by commas
	calls     []string // tool calls rendered as text (renderToolCall)
	warn      string
}

type accMark struct {
	text, sys            piecewise
	parts, finish, calls int
}

func (a *textAcc) reset(input bool) {
	a.input = input
	a.text.reset()
	a.sys.reset()
	a.parts, a.finish, a.calls, a.warn = a.parts[:0], a.finish[:0], a.calls[:0], ""
}

func (a *textAcc) mark() accMark {
	return accMark{text: a.text, sys: a.sys, parts: len(a.parts), finish: len(a.finish), calls: len(a.calls)}
}

func (a *textAcc) rollback(mk accMark) {
	tb, sb := a.text.buf, a.sys.buf
	a.text, a.sys = mk.text, mk.sys
	a.text.buf, a.sys.buf = tb[:len(mk.text.buf)], sb[:len(mk.sys.buf)]
	a.parts, a.finish, a.calls = a.parts[:mk.parts], a.finish[:mk.finish], a.calls[:mk.calls]
}

// promoteCalls makes the tool calls read since mk the text when nothing
// since mk was text: an answer that is only a tool call reads as
// "tool_call name(arguments)", not as nothing (or as a lower source's raw
// provider JSON).
func (a *textAcc) promoteCalls(mk accMark) {
	if a.text.n != mk.text.n {
		return
	}
	for _, c := range a.calls[mk.calls:] {
		a.text.add(c)
	}
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
	a.parts = appendCleanJSON(a.parts, raw)
}

// appendCleanJSON appends the JSON value raw, escaping raw control
// characters inside its strings.
func appendCleanJSON(b []byte, raw string) []byte {
	clean := true
	for i := 0; i < len(raw); i++ {
		if raw[i] < 0x20 {
			clean = false
			break
		}
	}
	if clean {
		return append(b, raw...)
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
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			continue
		}
		b = append(b, c)
	}
	return b
}

func (a *textAcc) addPartAny(v wVal) {
	a.partSep()
	a.parts = appendAnyJSON(a.parts, v)
}

func (a *textAcc) addToolResponse(id, s string) {
	a.partSep()
	a.parts = append(a.parts, `{"type":"tool_call_response",`...)
	if id != "" {
		a.parts = append(a.parts, `"id":`...)
		a.parts = schemas.AppendJSONString(a.parts, id)
		a.parts = append(a.parts, ',')
	}
	a.parts = append(a.parts, `"response":`...)
	a.parts = schemas.AppendJSONString(a.parts, s)
	a.parts = append(a.parts, '}')
}

func (a *textAcc) addFinish(s string) {
	if a.input || s == "" {
		return
	}
	if len(a.finish) > 0 {
		a.finish = append(a.finish, ',')
	}
	a.finish = schemas.AppendJSONString(a.finish, s)
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
func (a *textAcc) messagesAny(v wVal, ctx msgCtx) bool {
	switch v.typ {
	case vArray:
		for e := range valRaw(v.s).all() {
			switch e.typ {
			case vKvlist:
				a.messageAny(kvRaw(e.s), ctx)
			case vString:
				a.addText(ctx, e.s)
			default:
				a.addPartAny(e)
			}
		}
		return true
	case vKvlist:
		a.messageAny(kvRaw(v.s), ctx)
		return true
	case vString:
		return a.messagesJSON(v.s, ctx)
	}
	return false
}

func (a *textAcc) messageAny(kvs kvIter, ctx msgCtx) {
	var parts, content, toolCalls wVal // vAbsent: not given
	for kv := range kvs.all() {
		switch kv.key {
		case "role":
			ctx.role = anyString(kv.v)
		case "parts":
			parts = kv.v
		case "content":
			content = kv.v
		case "tool_calls":
			toolCalls = kv.v
		case "tool_call_id", "id":
			ctx.id = anyString(kv.v)
		case "finish_reason":
			a.addFinish(anyString(kv.v))
		}
	}
	if parts.typ != vAbsent {
		a.contentAny(ctx, parts)
	}
	if content.typ != vAbsent {
		a.contentAny(ctx, content)
	}
	if toolCalls.typ != vAbsent {
		a.toolCallsAny(toolCalls)
	}
}

// contentAny reads a message's content or parts: a string, one part, or an
// array of parts and strings.
func (a *textAcc) contentAny(ctx msgCtx, v wVal) {
	switch v.typ {
	case vAbsent, vEmpty:
	case vString:
		a.addText(ctx, v.s)
	case vArray:
		for e := range valRaw(v.s).all() {
			switch e.typ {
			case vKvlist:
				a.partAny(ctx, kvRaw(e.s), e)
			case vString:
				a.addText(ctx, e.s)
			default:
				a.addPartAny(e)
			}
		}
	case vKvlist:
		a.partAny(ctx, kvRaw(v.s), v)
	default:
		a.addText(ctx, anyString(v))
	}
}

func (a *textAcc) partAny(ctx msgCtx, kvs kvIter, whole wVal) {
	typ, text, hasText := "", "", false
	for kv := range kvs.all() {
		switch kv.key {
		case "type":
			typ = anyString(kv.v)
		case "content", "text":
			if kv.v.typ == vString {
				text, hasText = kv.v.s, true
			}
		}
	}
	if hasText && isTextPartType(typ) {
		a.addText(ctx, text)
		return
	}
	a.addPartAny(whole)
	if typ == "tool_call" {
		if _, name, args, _ := readToolCallKVs(kvs, 0); name != "" {
			a.calls = append(a.calls, renderToolCall(name, args))
		}
	}
}

func (a *textAcc) toolCallsAny(v wVal) {
	switch v.typ {
	case vArray:
		for e := range valRaw(v.s).all() {
			if e.typ == vKvlist && a.toolCallAny(kvRaw(e.s)) {
				continue
			}
			a.addPartAny(e)
		}
	case vKvlist:
		if !a.toolCallAny(kvRaw(v.s)) {
			a.addPartAny(v)
		}
	case vString:
		if !a.toolCallsJSON(v.s) {
			a.addPartAny(v)
		}
	default:
		a.addPartAny(v)
	}
}

// eventMessage reads one older-semconv message event (gen_ai.user.message,
// …, gen_ai.choice) from its attributes: the content attribute, a message
// attribute holding the message as JSON or kvlist, or the event body
// carried as an attribute.
func (a *textAcc) eventMessage(attrs []wKV, class uint8) {
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
	var content, message, toolCalls wVal // vAbsent: not given
	for _, kv := range attrs {
		switch kv.key {
		case "content":
			content = kv.v
		case "message", "body", "event.body":
			message = kv.v
		case "tool_calls":
			toolCalls = kv.v
		case "id", "tool_call_id":
			ctx.id = anyString(kv.v)
		case "role":
			if s := anyString(kv.v); s != "" {
				ctx.role = s
			}
		case "finish_reason":
			a.addFinish(anyString(kv.v))
		}
	}
	switch {
	case content.typ != vAbsent:
		a.contentAny(ctx, content)
	case message.typ != vAbsent:
		if !a.messagesAny(message, ctx) {
			a.addText(ctx, anyString(message))
		}
	}
	if toolCalls.typ != vAbsent {
		a.toolCallsAny(toolCalls)
	}
}

// legacyContent reads gen_ai.prompt / gen_ai.completion (semconv before
// 1.28, OpenLIT): messages as JSON, or plain text.
func (a *textAcc) legacyContent(v wVal) {
	if v.typ == vString {
		t := strings.TrimLeft(v.s, " \t\r\n")
		if t != "" && (t[0] == '[' || t[0] == '{') && a.messagesJSON(v.s, msgCtx{}) {
			return
		}
		a.text.add(v.s)
		return
	}
	if !a.messagesAny(v, msgCtx{}) {
		a.text.add(anyString(v))
	}
}

// indexedContent reads one gen_ai.prompt.{i}.content style value. OpenLLMetry
// writes multimodal content as a JSON array of typed parts; such a value is
// read as parts, any other string as text.
func (a *textAcc) indexedContent(ctx msgCtx, v wVal) {
	if v.typ != vString {
		a.contentAny(ctx, v)
		return
	}
	t := strings.TrimLeft(v.s, " \t\r\n")
	if strings.HasPrefix(t, "[{") && a.strictPartsJSON(ctx, v.s) {
		return
	}
	// OpenLLMetry writes the content of an assistant message that only
	// called a tool as the JSON text null: no content, not the word.
	if strings.TrimRight(t, " \t\r\n") == "null" {
		return
	}
	a.addText(ctx, v.s)
}
