// Package openai is chainwatch's one outbound client for OpenAI-compatible
// APIs — OpenAI, vLLM, Ollama, llama.cpp, TGI, TEI and the chainwatch
// serving gateway: chat completions for the LLM judge
// (evaluators/openai) and embeddings for the embedder (embedding.OpenAI).
// It holds the wire types once (the subset chainwatch sends and reads,
// shared with openaitest's fake server), the shared defaults once, and
// errors that say what and where: *APIError carries the status, the API's
// error type and message (OpenAI's, vLLM's and Ollama's error shapes) and
// the URL path; *TimeoutError an attempt past its timeout; *ResponseError a
// 2xx that is not a valid answer. Every attempt has its own timeout; retries
// go through internal/backoff (jitter, Retry-After and retry-after-ms, which
// statuses retry, a permanent marker, the caller's deadline), like every
// other retry in chainwatch. Post is the raw pass-through: any JSON body to
// any path, with the same timeouts and retries, the answer's bytes as sent.
//
// # Why not github.com/openai/openai-go
//
// The official SDK (v3.102.0 was tried against an httptest server) does
// reach arbitrary base URLs, takes a per-request timeout and can post raw
// JSON to any path. It was not adopted, because for what chainwatch needs it
// does worse than ~400 lines of our own:
//
//   - Retries are its own policy (it retries 409 and 501 too, its own jitter
//     and Retry-After parsing) and cannot take ours; turning them off and
//     wrapping every call in backoff.Policy works, but then its
//     WithRequestTimeout is the only per-attempt bound — and its retry wait
//     runs under that attempt's deadline: a 429 with Retry-After: 1 under
//     WithRequestTimeout(1s) failed with "context deadline exceeded" after
//     one request instead of retrying.
//   - It refuses a 200 whose Content-Type is not application/json ("expected
//     destination type of 'string' or '[]byte'"), which small
//     OpenAI-compatible servers and proxies send.
//   - vLLM's error body ({"object": "error", "message": …}) comes out as
//     "OpenAI API error: 400 Bad Request", the message lost; we parse the
//     three shapes in the wild.
//   - It is ~230,000 lines of generated code plus tidwall/gjson, sjson,
//     match, pretty and coder/websocket, for two endpoints and ten fields.
//
// The serving gateway needs raw pass-through either way: it forwards the
// client's body and the upstream's status, headers and (streamed) body
// unchanged, which is net/http's job (httputil.ReverseProxy), not a typed
// SDK's. Revisit if chainwatch comes to call more of OpenAI's API (tools,
// the Responses API, files).
package openai
