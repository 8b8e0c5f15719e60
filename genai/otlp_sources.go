// Text-source selection of the OTLP mapping (which dialect supplies the
// input and output text), the leftover attributes and the kept events.

package genai

import (
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/chainwatch/chainwatch/schemas"
)

func (m *otlpMapper) exceptionMessage(sp *wSpan) string {
	for i := range sp.events {
		if m.evClass[i] != evException {
			continue
		}
		for _, kv := range sp.events[i].attrs {
			if kv.key == "exception.message" {
				if s := anyString(kv.v); s != "" {
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

func nonEmpty(v *wVal) bool {
	if v == nil || v.typ <= vEmpty {
		return false
	}
	if v.typ == vString {
		return v.s != ""
	}
	return true
}

// resolveText fills a from the highest-precedence text source that yields
// text. Sources above it that yield no text but a system prompt or non-text
// parts contribute those and are consumed; sources that yield nothing at all
// (empty content) stay in the attributes as they came. A source below the
// chosen one whose text equals the chosen text is consumed as a duplicate;
// one that disagrees stays in the attributes.
func (m *otlpMapper) resolveText(d *textDir, a *textAcc, sp *wSpan) {
	won := false
	for src := 0; src < srcCount; src++ {
		if !m.present(d, src) {
			continue
		}
		if !won {
			mk := a.mark()
			m.extract(d, src, a, sp)
			if !(d.input && m.oneEvent) {
				a.promoteCalls(mk)
			}
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
		if !(d.input && m.oneEvent) {
			m.tmp.promoteCalls(accMark{})
		}
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

func (m *otlpMapper) extract(d *textDir, src int, a *textAcc, sp *wSpan) {
	switch src {
	case srcMessages:
		v := *m.get(d.messages)
		if v.typ == vString {
			if !a.messagesJSON(v.s, msgCtx{}) {
				a.text.add(v.s)
				a.warn = d.messagesName + ": not valid JSON, kept raw as the text"
			}
			return
		}
		if !a.messagesAny(v, msgCtx{}) {
			a.text.add(anyString(v))
			a.warn = d.messagesName + ": not an array of messages, kept raw as the text"
		}
	case srcEvents:
		for i := range sp.events {
			c := m.evClass[i]
			if d.msgEvents&(1<<c) == 0 {
				continue
			}
			a.eventMessage(sp.events[i].attrs, c)
		}
	case srcLegacy:
		if v := m.get(d.legacy); nonEmpty(v) {
			a.legacyContent(*v)
		}
		for i := range sp.events {
			if d.legacyEvent&(1<<m.evClass[i]) == 0 {
				continue
			}
			for _, kv := range sp.events[i].attrs {
				if kv.key == d.legacyEventAttr {
					a.legacyContent(kv.v)
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

func (m *otlpMapper) consumeSource(d *textDir, src int, sp *wSpan) {
	switch src {
	case srcMessages:
		m.consumed[d.messages] = true
	case srcEvents:
		for i := range sp.events {
			if d.msgEvents&(1<<m.evClass[i]) != 0 {
				m.evUsed[i] = true
			}
		}
	case srcLegacy:
		m.consumed[d.legacy] = true
		for i := range sp.events {
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
			if e.field == ifCType && anyString(e.kv.v) != "text" {
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
		ctx := msgCtx{}
		for ; k < len(m.idx) && m.idx[k].src == src && m.idx[k].i == i; k++ {
			switch m.idx[k].field {
			case ifRole:
				ctx.role = anyString(m.idx[k].kv.v)
			case ifToolCallID:
				ctx.id = anyString(m.idx[k].kv.v)
			}
		}
		for q := start; q < k; q++ {
			switch e := &m.idx[q]; e.field {
			case ifContent:
				a.indexedContent(ctx, e.kv.v)
			case ifCText:
				a.addText(ctx, anyString(e.kv.v))
			case ifTCID, ifTCName, ifTCArgs:
				// The keys of tool call j are adjacent (sorted by j).
				j := e.j
				var id, name, args string
				for ; q < k && m.idx[q].j == j && m.idx[q].field >= ifTCID; q++ {
					switch f := &m.idx[q]; f.field {
					case ifTCID:
						id = anyString(f.kv.v)
					case ifTCName:
						name = anyString(f.kv.v)
					case ifTCArgs:
						args = anyString(f.kv.v)
					}
				}
				q--
				if name != "" || args != "" {
					a.addToolCall(id, name, args, false)
				}
			}
		}
	}
}

// fillAttributes builds Span.Attributes from everything no column took.
func (m *otlpMapper) fillAttributes(sp *wSpan) {
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
		attrs[kv.key] = anyString(kv.v)
	}
	for k := akey(1); k < akCount; k++ {
		// A mapped key holding nothing (an empty string) says nothing and
		// is dropped.
		if v := m.get(k); v != nil && !m.consumed[k] {
			if s := anyString(*v); s != "" {
				attrs[akNames[k]] = s
			}
		}
	}
	for _, e := range m.idx {
		if !e.used {
			attrs[e.kv.key] = anyString(e.kv.v)
		}
	}
	m.attrs = attrs
	m.keepEvents(sp)

	switch tracepb.Span_SpanKind(sp.kind) {
	case tracepb.Span_SPAN_KIND_CLIENT:
		attrs[schemas.AttrSpanKind] = "client"
	case tracepb.Span_SPAN_KIND_SERVER:
		attrs[schemas.AttrSpanKind] = "server"
	case tracepb.Span_SPAN_KIND_PRODUCER:
		attrs[schemas.AttrSpanKind] = "producer"
	case tracepb.Span_SPAN_KIND_CONSUMER:
		attrs[schemas.AttrSpanKind] = "consumer"
	}
	if len(sp.links) > 0 {
		attrs[schemas.AttrLinks] = string(appendLinksJSON(nil, sp.links))
	}
	if len(m.in.parts) > 0 {
		attrs[schemas.AttrInputParts] = m.in.partsJSON()
	}
	if len(m.out.parts) > 0 {
		attrs[schemas.AttrOutputParts] = m.out.partsJSON()
	}
	if len(m.out.finish) > 0 {
		if _, ok := attrs[schemas.AttrGenAIFinishReasons]; !ok {
			attrs[schemas.AttrGenAIFinishReasons] = "[" + string(m.out.finish) + "]"
		}
	}
	if len(m.warn) > 0 {
		attrs[schemas.AttrMappingWarning] = string(m.warn)
	}
	if len(attrs) == 0 {
		m.attrs = nil
	}
}

// keepEvents stores the events no text source took as "event.<name>"
// attributes: the JSON object of their attributes, or an array of them when
// several events share a name.
func (m *otlpMapper) keepEvents(sp *wSpan) {
	var b []byte
	for i := range sp.events {
		if m.evUsed[i] || m.evDone[i] {
			continue
		}
		name := sp.events[i].name
		count := 0
		for j := i; j < len(sp.events); j++ {
			if !m.evUsed[j] && sp.events[j].name == name {
				count++
			}
		}
		b = b[:0]
		if count > 1 {
			b = append(b, '[')
		}
		sep := false
		for j := i; j < len(sp.events); j++ {
			if m.evUsed[j] || sp.events[j].name != name {
				continue
			}
			m.evDone[j] = true
			if sep {
				b = append(b, ',')
			}
			sep = true
			b = appendKVListJSON(b, kvSlice(sp.events[j].attrs))
		}
		if count > 1 {
			b = append(b, ']')
		}
		m.attrs[schemas.AttrEventPrefix+name] = string(b)
	}
}
