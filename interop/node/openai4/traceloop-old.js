// OpenLLMetry's OpenAI instrumentation as released in mid-2024 (0.11.6),
// with the openai client of that time (4.x): the older attribute dialect
// (gen_ai.prompt.N.*, gen_ai.usage.prompt_tokens, llm.request.type).
'use strict';
const { main } = require('../common.js');

main(() => {
  const { OpenAIInstrumentation } = require('@traceloop/instrumentation-openai');
  new OpenAIInstrumentation({ traceContent: true });
  return require('openai');
}).catch((e) => { console.error(e); process.exit(1); });
