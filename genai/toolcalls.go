// Tool calls in every dialect: one part shape and one text rendering.

package genai

import (
	"strings"

	"github.com/chainwatch/chainwatch/schemas"
)

// Every dialect's tool call becomes the semconv part
// {"type":"tool_call","id":…,"name":…,"arguments":…} in the parts, and the
// line "tool_call name(arguments)" that renderToolCall writes. The line
// becomes a side's text only when that side has no other text (an answer
// that is only a tool call); see resolveText.

// renderToolCall is the text form of one tool call: "tool_call
// name(arguments)", the arguments as they were sent (the JSON text, or the
// string's content).
func renderToolCall(name, args string) string {
	return "tool_call " + name + "(" + args + ")"
}

// addToolCall adds a tool call given as its id, name and arguments: args is
// JSON text when argsJSON, else a string value. A string that holds a JSON
// object or array (OpenAI's "arguments") is embedded as that JSON, so the
// part has the same shape whichever dialect sent it.
func (a *textAcc) addToolCall(id, name, args string, argsJSON bool) {
	if !argsJSON && isJSONContainer(args) {
		argsJSON = true
	}
	a.partSep()
	a.parts = append(a.parts, `{"type":"tool_call",`...)
	if id != "" {
		a.parts = append(a.parts, `"id":`...)
		a.parts = schemas.AppendJSONString(a.parts, id)
		a.parts = append(a.parts, ',')
	}
	a.parts = append(a.parts, `"name":`...)
	a.parts = schemas.AppendJSONString(a.parts, name)
	switch {
	case argsJSON:
		a.parts = append(a.parts, `,"arguments":`...)
		a.parts = appendCleanJSON(a.parts, args)
	case args != "":
		a.parts = append(a.parts, `,"arguments":`...)
		a.parts = schemas.AppendJSONString(a.parts, args)
	}
	a.parts = append(a.parts, '}')
	a.calls = append(a.calls, renderToolCall(name, args))
}

// isJSONContainer reports whether s is one valid JSON object or array.
func isJSONContainer(s string) bool {
	t := strings.TrimSpace(s)
	if t == "" || (t[0] != '{' && t[0] != '[') {
		return false
	}
	p := jscan{s: t}
	return p.skip() && p.peek() == 0 && p.i == len(p.s)
}

// toolCallJSON reads one tool call object, OpenAI's {"id","type":"function",
// "function":{"name","arguments"}} or semconv's {"type":"tool_call","id",
// "name","arguments"}, and adds it. It adds nothing and returns false when
// raw is not such an object (no name).
func (a *textAcc) toolCallJSON(raw string) bool {
	p := jscan{s: raw}
	if p.peek() != '{' {
		return false
	}
	id, name, args, argsJSON, ok := readToolCallObj(&p, 0)
	if !ok || name == "" {
		return false
	}
	a.addToolCall(id, name, args, argsJSON)
	return true
}

// readToolCallObj reads the object at p (at '{'), looking into "function"
// one level down.
func readToolCallObj(p *jscan, depth int) (id, name, args string, argsJSON, ok bool) {
	p.i++ // '{'
	for first := true; ; first = false {
		key, done, good := p.objNext(first)
		if !good {
			return "", "", "", false, false
		}
		if done {
			return id, name, args, argsJSON, true
		}
		switch {
		case key == "id" && depth == 0:
			if id, good = p.strOrSkip(); !good {
				return "", "", "", false, false
			}
		case key == "name":
			if name, good = p.strOrSkip(); !good {
				return "", "", "", false, false
			}
		case key == "arguments":
			if p.peek() == '"' {
				if args, good = p.str(); !good {
					return "", "", "", false, false
				}
				argsJSON = false
				continue
			}
			start := p.peekPos()
			if !p.skip() {
				return "", "", "", false, false
			}
			args, argsJSON = p.s[start:p.i], true
		case key == "function" && depth == 0 && p.peek() == '{':
			_, n, ar, aj, good := readToolCallObj(p, 1)
			if !good {
				return "", "", "", false, false
			}
			if n != "" {
				name = n
			}
			if ar != "" {
				args, argsJSON = ar, aj
			}
		default:
			if !p.skip() {
				return "", "", "", false, false
			}
		}
	}
}

// toolCallAny is toolCallJSON for a structured (kvlist) tool call.
func (a *textAcc) toolCallAny(kvs kvIter) bool {
	id, name, args, argsJSON := readToolCallKVs(kvs, 0)
	if name == "" {
		return false
	}
	a.addToolCall(id, name, args, argsJSON)
	return true
}

func readToolCallKVs(kvs kvIter, depth int) (id, name, args string, argsJSON bool) {
	for kv := range kvs.all() {
		switch k := kv.key; {
		case k == "id" && depth == 0:
			id = anyString(kv.v)
		case k == "name":
			name = anyString(kv.v)
		case k == "arguments":
			switch kv.v.typ {
			case vString:
				args, argsJSON = kv.v.s, false
			case vAbsent, vEmpty:
			default:
				args, argsJSON = string(appendAnyJSON(nil, kv.v)), true
			}
		case k == "function" && depth == 0:
			if kv.v.typ == vKvlist {
				_, n, ar, aj := readToolCallKVs(kvRaw(kv.v.s), 1)
				if n != "" {
					name = n
				}
				if ar != "" {
					args, argsJSON = ar, aj
				}
			}
		}
	}
	return id, name, args, argsJSON
}
