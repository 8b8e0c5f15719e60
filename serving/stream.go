package serving

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/chainwatch/chainwatch/schemas"
	"github.com/chainwatch/chainwatch/serving/chains"
)

// readEvent reads one server-sent event into buf[:0] (reused by the
// caller from event to event): its lines up to and including the blank
// line that ends it, bytes as received. Comment-only events
// (": keep-alive") are events too.
func readEvent(br *bufio.Reader, buf []byte) ([]byte, error) {
	ev := buf[:0]
	for {
		line, err := br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			ev = append(ev, line...)
			continue
		}
		if err != nil {
			if err == io.EOF && len(ev)+len(line) > 0 && len(bytes.TrimSpace(append(ev, line...))) > 0 {
				return nil, io.ErrUnexpectedEOF
			}
			return nil, err
		}
		ev = append(ev, line...)
		if len(bytes.TrimRight(line, "\r\n")) == 0 {
			if len(bytes.TrimSpace(ev)) == 0 {
				ev = ev[:0] // stray blank line between events
				continue
			}
			return ev, nil
		}
	}
}

// eventData is the data of an event (its data: lines joined by "\n"):
// for the usual event of one data line, a slice of ev.
func eventData(ev []byte) []byte {
	var out []byte
	n := 0
	for len(ev) > 0 {
		line := ev
		if i := bytes.IndexByte(ev, '\n'); i >= 0 {
			line, ev = ev[:i], ev[i+1:]
		} else {
			ev = nil
		}
		line = bytes.TrimRight(line, "\r")
		if d, ok := bytes.CutPrefix(line, []byte("data:")); ok {
			d = bytes.TrimPrefix(d, []byte(" "))
			switch n {
			case 0:
				out = d
			case 1:
				out = append(append(append([]byte(nil), out...), '\n'), d...)
			default:
				out = append(append(out, '\n'), d...)
			}
			n++
		}
	}
	return out
}

// hasUsageObject says whether a chunk's JSON has "usage": {…} (not null):
// a scan, not a decode.
func hasUsageObject(data []byte) bool {
	i := bytes.Index(data, []byte(`"usage"`))
	if i < 0 {
		return false
	}
	rest := bytes.TrimLeft(data[i+len(`"usage"`):], " \t\r\n")
	if len(rest) == 0 || rest[0] != ':' {
		return false
	}
	rest = bytes.TrimLeft(rest[1:], " \t\r\n")
	return len(rest) > 0 && rest[0] == '{'
}

// streamChunk is what the gateway reads of a chunk.
type streamChunk struct {
	ID      string `json:"id"`
	Model   string `json:"model"`
	Created int64  `json:"created"`
	Choices []struct {
		Delta struct {
			Content string `json:"content"`
		} `json:"delta"`
		FinishReason *string `json:"finish_reason"`
	} `json:"choices"`
	Usage *struct {
		PromptTokens     int `json:"prompt_tokens"`
		CompletionTokens int `json:"completion_tokens"`
	} `json:"usage"`
}

// sseHeaders are a stream's response header values (shared, never
// written: net/http only reads them).
var sseHeaders = []string{"text/event-stream", "no-cache", "no"}

// streamChat forwards a streamed answer event by event. Nothing is sent to
// the client before the upstream's first event: until then a failure is
// retried or falls back. After it, a failure is an SSE error event.
func (g *Gateway) streamChat(w http.ResponseWriter, r *http.Request, c *call, st *state, rt *route, req *chatRequest, ch *chains.Chain) {
	a, apiErr := g.try(r.Context(), c, st, rt, req, "/chat/completions", true)
	if apiErr != nil {
		g.fail(w, c, apiErr)
		return
	}
	c.replica = a.replica
	root := c.tr.root
	if a.resp.StatusCode != http.StatusOK {
		g.passError(w, c, a)
		return
	}
	fl, _ := w.(http.Flusher)
	h := w.Header()
	h["Content-Type"], h["Cache-Control"], h["X-Accel-Buffering"] = sseHeaders[0:1:1], sseHeaders[1:2:2], sseHeaders[2:3:3]
	g.headers(w, c, a, ch)
	ttfc := time.Since(c.start)
	g.m.ttft.WithLabelValues(a.route.cfg.Name).Observe(ttfc.Seconds())
	a.span.float(attrTTFC, ttfc.Seconds())
	w.WriteHeader(http.StatusOK)

	// Content chunks are kept as received (one buffer for all) and their
	// text read only when it is needed (content on the spans, no upstream
	// usage to count, output guards): most events cost the gateway a scan
	// for "usage", not a JSON decode.
	payloads := make([]byte, 0, 4<<10)
	ends := make([]int, 0, 32)
	var textDone bool
	var textStr string
	text := func() string {
		if !textDone {
			textDone = true
			var out []byte
			start := 0
			for _, end := range ends {
				out = appendChunkText(out, payloads[start:end])
				start = end
			}
			textStr = string(out)
		}
		return textStr
	}
	keep := func(data []byte) {
		payloads = append(payloads, data...)
		ends = append(ends, len(payloads))
	}
	var upstreamUsage bool
	var model, id string
	var created int64
	chunks := 0
	// write sends an event; it flushes unless the next event is already
	// in hand (then the two go out together, never held back).
	write := func(ev []byte, flush bool) bool {
		if _, err := w.Write(ev); err != nil {
			return false
		}
		if flush && fl != nil {
			fl.Flush()
		}
		return true
	}
	ev := a.first
	var streamErr error
	var idled atomic.Bool
	idle := time.AfterFunc(a.route.cfg.IdleTimeout, func() { idled.Store(true); a.cancel() })
	defer idle.Stop()
	for {
		data := eventData(ev)
		forward := true
		if bytes.Equal(bytes.TrimSpace(data), []byte("[DONE]")) {
			if !upstreamUsage {
				c.usage = usage{prompt: g.promptTokens(req.messages), completion: g.tok.Count(text()), source: "bpe"}
				if req.includeUsage {
					u, _ := json.Marshal(map[string]any{"id": id, "object": "chat.completion.chunk", "created": created, "model": model,
						"choices": []any{}, "usage": map[string]int{"prompt_tokens": c.usage.prompt, "completion_tokens": c.usage.completion, "total_tokens": c.usage.prompt + c.usage.completion}})
					if !write([]byte("data: "+string(u)+"\n\n"), false) {
						streamErr = errors.New("the client went away")
						break
					}
				}
			}
			write(ev, true)
			break
		}
		if len(data) > 0 {
			if model == "" {
				if head, ok := decodeHead(data); ok {
					model, id, created = head.Model, head.ID, head.Created
				}
			}
			if hasUsageObject(data) {
				if _, sc := decodeChunk(nil, data, false); sc.decoded && sc.usage != nil {
					upstreamUsage = true
					c.usage = usage{prompt: sc.usage.PromptTokens, completion: sc.usage.CompletionTokens, source: "upstream"}
					if sc.choices == 0 && !req.includeUsage {
						forward = false // the gateway asked for it, not the client
					}
					if sc.choices > 0 {
						keep(data)
						chunks++
					}
				}
			} else {
				keep(data)
				chunks++
			}
		}
		if forward && !write(ev, a.br.Buffered() == 0) {
			streamErr = errors.New("the client went away")
			break
		}
		var err error
		idle.Reset(a.route.cfg.IdleTimeout)
		ev, err = readEvent(a.br, ev)
		if err != nil {
			if fl != nil {
				fl.Flush()
			}
			if err == io.EOF {
				err = errors.New("the stream ended without [DONE]")
			}
			if idled.Load() {
				err = fmt.Errorf("no event within idle_timeout %v", a.route.cfg.IdleTimeout)
			}
			streamErr = fmt.Errorf("replica %s failed mid-stream after %d chunks: %v", a.replica.id(), chunks, err)
			if r.Context().Err() != nil && !idled.Load() {
				streamErr = errors.New("the client went away")
				break
			}
			// The answer has begun: no retry, an explicit error event.
			b, _ := json.Marshal(map[string]any{"error": map[string]any{"message": streamErr.Error(), "type": "server_error", "code": "upstream_stream_failed"}})
			write([]byte("data: "+string(b)+"\n\n"), true)
			g.m.upstreamErrors.WithLabelValues(a.route.cfg.Name, a.replica.id(), "mid_stream").Inc()
			break
		}
	}
	if c.usage.source == "" {
		c.usage = usage{prompt: g.promptTokens(req.messages), completion: g.tok.Count(text()), source: "bpe"}
	}
	a.span.str(schemas.AttrGenAIResponseModel, model)
	a.span.str(attrResponseID, id)
	a.span.int(schemas.AttrGenAIUsageInputTokens, int64(c.usage.prompt))
	a.span.int(schemas.AttrGenAIUsageOutputTokens, int64(c.usage.completion))
	a.span.str(attrUsageSource, c.usage.source)
	errMsg := ""
	if streamErr != nil {
		errMsg = streamErr.Error()
		a.span.str(attrErrorType, "mid_stream")
	}
	if c.content {
		out := text()
		g.messages(c, a.span, req.messages, out)
	}
	a.done(errMsg)
	if ch != nil && len(ch.Guards.Output) > 0 {
		g.outputGuards(c, ch, text(), true)
	}
	root.str(schemas.AttrGenAIResponseModel, model)
	g.finish(c, errMsg)
}
