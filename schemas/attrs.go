package schemas

// Attribute names in chainwatch's own namespace. Emitters (the simulator, the
// serving gateway, apps without another convention) set them on the span or
// on the resource; the OTLP mapping gives them the highest precedence, span
// before resource. genai/MAPPING.md lists every rule.
const (
	AttrApp                   = "chainwatch.app"
	AttrEnvironment           = "chainwatch.environment"
	AttrChainName             = "chainwatch.chain.name"
	AttrChainVersion          = "chainwatch.chain.version"
	AttrComponentName         = "chainwatch.component.name"
	AttrComponentKind         = "chainwatch.component.kind"
	AttrPromptTemplateID      = "chainwatch.prompt.template.id"
	AttrPromptTemplateVersion = "chainwatch.prompt.template.version"
	AttrSessionID             = "chainwatch.session.id"
	AttrUserID                = "chainwatch.user.id"
)

// Attributes the mapping itself writes into Span.Attributes.
const (
	// AttrMappingWarning notes what the mapping had to guess, e.g. a
	// gen_ai.input.messages value that was not valid JSON and was kept raw
	// as the text. Several warnings are joined with "; ".
	AttrMappingWarning = "chainwatch.mapping.warning"
	// AttrInputSystem is where the system text was kept before migration 9
	// (now the system_instructions column); it held the text of the system-role messages of the
	// input the mapping chose, joined with "\n"; it is kept out of InputText.
	AttrInputSystem = "chainwatch.input.system"
	// AttrInputParts and AttrOutputParts hold, as a JSON array, the message
	// parts that are not text (tool_call, tool_call_response, reasoning,
	// blob, …) of the chosen input and output.
	AttrInputParts  = "chainwatch.input.parts"
	AttrOutputParts = "chainwatch.output.parts"
	// AttrScopeName and AttrScopeVersion name the instrumentation scope
	// that produced the span (OpenTelemetry's names for them outside OTLP).
	AttrScopeName    = "otel.scope.name"
	AttrScopeVersion = "otel.scope.version"
	// AttrSpanKind is the OTLP span kind (client, server, producer,
	// consumer); internal and unspecified are not recorded.
	AttrSpanKind = "otel.span.kind"
	// AttrLinks holds the span's links as a JSON array of
	// {"trace_id","span_id","attributes"} objects.
	AttrLinks = "otel.links"
	// AttrEventPrefix starts the key of a span event kept as an attribute:
	// "event.<name>" = JSON object of its attributes, or a JSON array of
	// such objects when the span has several events of that name.
	AttrEventPrefix = "event."
)

// OpenTelemetry GenAI semantic-convention names that chainwatch emitters use
// (JSONBatch.ToOTLP among them).
const (
	AttrGenAIOperationName      = "gen_ai.operation.name"
	AttrGenAIProviderName       = "gen_ai.provider.name"
	AttrGenAIRequestModel       = "gen_ai.request.model"
	AttrGenAIResponseModel      = "gen_ai.response.model"
	AttrGenAIInputMessages      = "gen_ai.input.messages"
	AttrGenAIOutputMessages     = "gen_ai.output.messages"
	AttrGenAISystemInstructions = "gen_ai.system_instructions"
	AttrGenAIUsageInputTokens   = "gen_ai.usage.input_tokens"
	AttrGenAIUsageOutputTokens  = "gen_ai.usage.output_tokens"
	// Current conventions' usage detail and streaming.
	AttrGenAIUsageCacheReadInputTokens     = "gen_ai.usage.cache_read.input_tokens"
	AttrGenAIUsageCacheCreationInputTokens = "gen_ai.usage.cache_creation.input_tokens"
	AttrGenAIUsageReasoningOutputTokens    = "gen_ai.usage.reasoning.output_tokens"
	AttrGenAIRequestStream                 = "gen_ai.request.stream"
	AttrGenAIToolDefinitions               = "gen_ai.tool.definitions"
	EventGuardrailResult                   = "gen_ai.guardrail.result"
	AttrGenAIResponseTimeToFirstChunk      = "gen_ai.response.time_to_first_chunk" // seconds
	AttrGenAIConversationID                = "gen_ai.conversation.id"
	AttrGenAIFinishReasons                 = "gen_ai.response.finish_reasons"
	AttrServiceName                        = "service.name"
	AttrDeploymentEnvironment              = "deployment.environment.name"
)
