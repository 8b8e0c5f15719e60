// OpenInference's OpenAI instrumentation (Arize), current release, with the
// current openai client (7.x), registered the way its README shows: the
// instrumentation first, then require('openai') through its hook.
'use strict';
const { main } = require('./common.js');

main(() => {
  const { OpenAIInstrumentation } = require('@arizeai/openinference-instrumentation-openai');
  new OpenAIInstrumentation(); // enabled on construction: hooks require('openai')
  return require('openai');
}).catch((e) => { console.error(e); process.exit(1); });
