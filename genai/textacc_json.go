// The text accumulator's JSON side: messages, contents, parts and tool
// calls read from JSON-encoded attribute values.

package genai

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
	if typ == "tool_call" {
		q := jscan{s: p.s[start:p.i]}
		if _, name, args, _, ok := readToolCallObj(&q, 0); ok && name != "" {
			a.calls = append(a.calls, renderToolCall(name, args))
		}
	}
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

// toolCallsJSON adds each element of a JSON array of tool calls as a part
// (a tool call in the common shape, see addToolCall; an element that is no
// tool call as it came), or the whole value when it is not an array. It returns false, adding
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
			if !a.toolCallJSON(p.s[start:p.i]) {
				a.addPartRaw(p.s[start:p.i])
			}
		}
	} else {
		start := p.peekPos()
		if ok = p.skip(); ok && !a.toolCallJSON(p.s[start:p.i]) {
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
