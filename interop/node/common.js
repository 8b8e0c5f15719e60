// Shared by the entry scripts (openinference.js, openai6/*.js, openai4/*.js):
// a fake OpenAI-compatible server, the OpenTelemetry SDK exporting OTLP/HTTP
// protobuf to chainwatch, and the scenario — four chat calls through the
// official openai client (plain, streaming, a tool call, and the answer to
// the tool's result), then one embeddings call. The fake server's answers
// are fixed (CALLS), so the Go test (interop/node_test.go) knows every
// text, token count and model it must find in ClickHouse; the script
// prints what the client got, one JSON object on its last line, for the
// test's log.
//
// Usage: node <entry>.js <chainwatch base URL> <service.name>
'use strict';

const http = require('node:http');
const { trace, logs, diag, DiagConsoleLogger, DiagLogLevel } = require('@opentelemetry/api');
const { TracerProvider, BatchSpanProcessor } = require('@opentelemetry/sdk-trace');
const { LoggerProvider, BatchLogRecordProcessor } = require('@opentelemetry/sdk-logs');
const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-proto');
const { OTLPLogExporter } = require('@opentelemetry/exporter-logs-otlp-proto');
const { resourceFromAttributes } = require('@opentelemetry/resources');

// The scenario. Each call asks a model of its own, so the test finds its
// span by model_requested; the server answers "<requested>-2026-01-15" so
// that requested and returned differ.
const CALLS = {
  plain: {
    model: 'gpt-4o-mini',
    system: 'You are terse.',
    user: 'What is the capital of France?',
    answer: 'Paris is the capital of France.',
    usage: { prompt_tokens: 21, completion_tokens: 7 },
  },
  stream: {
    model: 'gpt-4o',
    user: 'Count to three.',
    chunks: ['One, ', 'two, ', 'three.'],
    answer: 'One, two, three.',
    usage: { prompt_tokens: 12, completion_tokens: 6 },
  },
  tool: {
    model: 'gpt-4.1',
    user: "What's the weather in Paris?",
    toolCall: { id: 'call_weather_1', name: 'get_weather', arguments: '{"city":"Paris"}' },
    usage: { prompt_tokens: 57, completion_tokens: 16 },
  },
  embedding: {
    model: 'text-embedding-3-small',
    input: 'The quick brown fox',
    vector: [0.25, -0.5, 0.125],
    usage: { prompt_tokens: 5 },
  },
  toolResult: {
    model: 'gpt-4.1-mini',
    toolResult: '{"temp_c":18,"sky":"clear"}',
    answer: 'It is 18 °C and clear in Paris — enjoy!',
    usage: { prompt_tokens: 88, completion_tokens: 14 },
  },
};
const RETURNED_SUFFIX = '-2026-01-15';

const TOOLS = [{
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'Current weather in a city',
    parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  },
}];

function callFor(model) {
  for (const c of Object.values(CALLS)) if (c.model === model) return c;
  return null;
}

// fakeOpenAI answers POST /v1/chat/completions like the real API: a
// completion object, or server-sent chunks when stream is true (with a
// final usage chunk when stream_options.include_usage is set).
function fakeOpenAI() {
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => { body += d; });
    req.on('end', () => {
      if (req.method === 'POST' && req.url.endsWith('/embeddings')) {
        const r = JSON.parse(body);
        const e = CALLS.embedding;
        // The client asks for base64 unless told otherwise, and decodes it.
        const vec = r.encoding_format === 'base64' ? Buffer.from(new Float32Array(e.vector).buffer).toString('base64') : e.vector;
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ object: 'list', data: [{ object: 'embedding', index: 0, embedding: vec }], model: r.model + RETURNED_SUFFIX, usage: { prompt_tokens: e.usage.prompt_tokens, total_tokens: e.usage.prompt_tokens } }));
        return;
      }
      if (req.method !== 'POST' || !req.url.endsWith('/chat/completions')) {
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { message: `no route ${req.method} ${req.url}`, type: 'invalid_request_error' } }));
        return;
      }
      const r = JSON.parse(body);
      const c = callFor(r.model);
      if (!c) {
        res.writeHead(400, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { message: `unknown model ${r.model}`, type: 'invalid_request_error' } }));
        return;
      }
      const id = `chatcmpl-${c.model}`;
      const created = 1767225600;
      const model = c.model + RETURNED_SUFFIX;
      const usage = { ...c.usage, total_tokens: c.usage.prompt_tokens + c.usage.completion_tokens };
      if (r.stream) {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        const send = (o) => res.write(`data: ${JSON.stringify(o)}\n\n`);
        const chunk = (delta, finish) => ({ id, object: 'chat.completion.chunk', created, model, system_fingerprint: 'fp_interop', choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }] });
        send(chunk({ role: 'assistant', content: '' }, null));
        for (const t of c.chunks) send(chunk({ content: t }, null));
        send(chunk({}, 'stop'));
        if (r.stream_options && r.stream_options.include_usage) {
          send({ id, object: 'chat.completion.chunk', created, model, system_fingerprint: 'fp_interop', choices: [], usage });
        }
        res.end('data: [DONE]\n\n');
        return;
      }
      let message, finish;
      if (c.toolCall) {
        message = { role: 'assistant', content: null, refusal: null, tool_calls: [{ id: c.toolCall.id, type: 'function', function: { name: c.toolCall.name, arguments: c.toolCall.arguments } }] };
        finish = 'tool_calls';
      } else {
        message = { role: 'assistant', content: c.answer, refusal: null };
        finish = 'stop';
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ id, object: 'chat.completion', created, model, system_fingerprint: 'fp_interop', choices: [{ index: 0, message, logprobs: null, finish_reason: finish }], usage }));
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

// setup registers the global tracer and logger providers (before any
// instrumentation is created, so that it picks them up) and returns a
// function that flushes and shuts both down.
function setup(endpoint, service) {
  if (process.env.INTEROP_OTEL_DEBUG) diag.setLogger(new DiagConsoleLogger(), DiagLogLevel.DEBUG);
  const resource = resourceFromAttributes({ 'service.name': service });
  const tp = new TracerProvider({
    resource,
    spanProcessors: [new BatchSpanProcessor({ exporter: new OTLPTraceExporter({ url: `${endpoint}/v1/traces` }), scheduledDelayMillis: 200 })],
  });
  trace.setGlobalTracerProvider(tp);
  const lp = new LoggerProvider({
    resource,
    processors: [new BatchLogRecordProcessor({ exporter: new OTLPLogExporter({ url: `${endpoint}/v1/logs` }), scheduledDelayMillis: 200 })],
  });
  logs.setGlobalLoggerProvider(lp);
  return async () => {
    await tp.forceFlush();
    await lp.forceFlush();
    await tp.shutdown();
    await lp.shutdown();
  };
}

// scenario runs the four calls with client (an openai.OpenAI).
async function scenario(client) {
  const out = {};
  const p = CALLS.plain;
  let r = await client.chat.completions.create({
    model: p.model, temperature: 0.2, max_tokens: 64,
    messages: [{ role: 'system', content: p.system }, { role: 'user', content: p.user }],
  });
  out.plain = r.choices[0].message.content;

  const s = CALLS.stream;
  const stream = await client.chat.completions.create({
    model: s.model, stream: true, stream_options: { include_usage: true },
    messages: [{ role: 'user', content: s.user }],
  });
  let text = '';
  for await (const chunk of stream) {
    if (chunk.choices && chunk.choices[0] && chunk.choices[0].delta && chunk.choices[0].delta.content) text += chunk.choices[0].delta.content;
  }
  out.stream = text;

  const t = CALLS.tool;
  const userMsg = { role: 'user', content: t.user };
  r = await client.chat.completions.create({ model: t.model, messages: [userMsg], tools: TOOLS });
  const assistant = r.choices[0].message;
  out.tool = assistant.tool_calls;

  const tr = CALLS.toolResult;
  r = await client.chat.completions.create({
    model: tr.model, tools: TOOLS,
    messages: [userMsg, assistant, { role: 'tool', tool_call_id: assistant.tool_calls[0].id, content: tr.toolResult }],
  });
  out.toolResult = r.choices[0].message.content;

  const e = CALLS.embedding;
  const emb = await client.embeddings.create({ model: e.model, input: e.input });
  out.embedding = Array.from(emb.data[0].embedding);
  return out;
}

// main runs an entry script: instrument(), which must register its
// instrumentation and return the openai module (required after
// registration, so that require hooks see it), then the scenario.
async function main(instrument) {
  const [endpoint, service] = process.argv.slice(2);
  if (!endpoint || !service) {
    console.error('usage: node <entry>.js <chainwatch base URL> <service.name>');
    process.exit(2);
  }
  const shutdown = setup(endpoint, service);
  const server = await fakeOpenAI();
  try {
    const OpenAI = instrument();
    const Client = OpenAI.OpenAI || OpenAI;
    const client = new Client({ apiKey: 'sk-interop', baseURL: `http://127.0.0.1:${server.address().port}/v1`, maxRetries: 0 });
    const got = await scenario(client);
    await shutdown();
    console.log(JSON.stringify({ service, got }));
  } finally {
    server.close();
  }
}

module.exports = { CALLS, RETURNED_SUFFIX, main };
