// The OpenTelemetry contrib OpenAI instrumentation
// (@opentelemetry/instrumentation-openai), current release, with content
// capture on, and the newest openai client it patches (6.x). It puts
// message content in OTLP log records (GenAI events), not on the span.
'use strict';
const { metrics } = require('@opentelemetry/api');
const { main } = require('../common.js');

main(() => {
  const { OpenAIInstrumentation } = require('@opentelemetry/instrumentation-openai');
  const inst = new OpenAIInstrumentation({ captureMessageContent: true });
  // 0.22.0 creates its histograms in the base constructor, and its own
  // class fields then reset them to undefined (a streamed answer with usage
  // fails with "reading 'record'"); setting the meter provider creates them
  // again. Upstream defect, worked around here.
  inst.setMeterProvider(metrics.getMeterProvider());
  return require('openai');
}).catch((e) => { console.error(e); process.exit(1); });
