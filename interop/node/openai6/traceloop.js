// OpenLLMetry's OpenAI instrumentation (@traceloop/instrumentation-openai),
// current release, with the newest openai client it patches (6.x).
'use strict';
const { main } = require('../common.js');

main(() => {
  const { OpenAIInstrumentation } = require('@traceloop/instrumentation-openai');
  new OpenAIInstrumentation({ traceContent: true });
  return require('openai');
}).catch((e) => { console.error(e); process.exit(1); });
