// The attribute-key table of the OTLP mapping: the keys it reads, their
// lookup, indexed keys, event classes and the text sources per direction.

package genai

import (
	"strings"

	"github.com/chainwatch/chainwatch/schemas"
)

// akey names an attribute key the mapping reads. Attributes with any other
// key go straight to Span.Attributes.
type akey uint8

const (
	akNone akey = iota
	akCWApp
	akCWEnv
	akCWChainName
	akCWChainVersion
	akCWComponentName
	akCWComponentKind
	akCWTemplateID
	akCWTemplateVersion
	akCWSession
	akCWUser
	akServiceName
	akDeployEnvName
	akDeployEnv
	akTLWorkflowName
	akTLEntityName
	akTLEntityVersion
	akTLSpanKind
	akTLPromptKey
	akTLPromptVersion
	akTLPromptTemplate
	akTLEntityInput
	akTLEntityOutput
	akAgentName
	akToolName
	akOISpanKind
	akOperation
	akLLMRequestType
	akProviderName
	akGenAISystem
	akLLMProvider
	akLLMSystem
	akRequestModel
	akResponseModel
	akLLMModelName
	akLLMInvocationParams
	akEmbeddingModelName
	akSystemInstructions
	akOIPromptTemplate
	akOIPromptVersion
	akInputMessages
	akOutputMessages
	akLegacyPrompt
	akLegacyCompletion
	akInputValue
	akOutputValue
	akUsageInput
	akUsagePrompt
	akOITokPrompt
	akUsageOutput
	akUsageCompletion
	akOITokCompletion
	akSessionID
	akConversationID
	akUserID
	akEnduserID
	akErrorType
	akUsageCacheRead
	akUsageCacheCreation
	akUsageReasoning
	akRequestStream
	akTimeToFirstChunk
	akToolDefinitions
	akCount
)

// Attribute names of the other dialects.
const (
	attrDeploymentEnvironmentOld = "deployment.environment"
	attrTLWorkflowName           = "traceloop.workflow.name"
	attrTLEntityName             = "traceloop.entity.name"
	attrTLEntityVersion          = "traceloop.entity.version"
	attrTLSpanKind               = "traceloop.span.kind"
	attrTLPromptKey              = "traceloop.prompt.key"
	attrTLPromptVersion          = "traceloop.prompt.version"
	attrTLPromptTemplate         = "traceloop.prompt.template"
	attrTLEntityInput            = "traceloop.entity.input"
	attrTLEntityOutput           = "traceloop.entity.output"
	attrGenAIAgentName           = "gen_ai.agent.name"
	attrGenAIToolName            = "gen_ai.tool.name"
	attrOISpanKind               = "openinference.span.kind"
	attrLLMRequestType           = "llm.request.type"
	attrGenAISystem              = "gen_ai.system"
	attrLLMProvider              = "llm.provider"
	attrLLMSystem                = "llm.system"
	attrLLMModelName             = "llm.model_name"
	attrLLMInvocationParams      = "llm.invocation_parameters"
	attrEmbeddingModelName       = "embedding.model_name"
	attrOIPromptTemplate         = "llm.prompt_template.template"
	attrOIPromptVersion          = "llm.prompt_template.version"
	attrGenAIPrompt              = "gen_ai.prompt"
	attrGenAICompletion          = "gen_ai.completion"
	attrInputValue               = "input.value"
	attrOutputValue              = "output.value"
	attrUsagePromptTokens        = "gen_ai.usage.prompt_tokens"
	attrUsageCompletionTokens    = "gen_ai.usage.completion_tokens"
	attrOITokenCountPrompt       = "llm.token_count.prompt"
	attrOITokenCountCompletion   = "llm.token_count.completion"
	attrSessionID                = "session.id"
	attrUserID                   = "user.id"
	attrEnduserID                = "enduser.id"
	attrErrorType                = "error.type"
)

var akNames = [akCount]string{
	akCWApp:               schemas.AttrApp,
	akCWEnv:               schemas.AttrEnvironment,
	akCWChainName:         schemas.AttrChainName,
	akCWChainVersion:      schemas.AttrChainVersion,
	akCWComponentName:     schemas.AttrComponentName,
	akCWComponentKind:     schemas.AttrComponentKind,
	akCWTemplateID:        schemas.AttrPromptTemplateID,
	akCWTemplateVersion:   schemas.AttrPromptTemplateVersion,
	akCWSession:           schemas.AttrSessionID,
	akCWUser:              schemas.AttrUserID,
	akServiceName:         schemas.AttrServiceName,
	akDeployEnvName:       schemas.AttrDeploymentEnvironment,
	akDeployEnv:           attrDeploymentEnvironmentOld,
	akTLWorkflowName:      attrTLWorkflowName,
	akTLEntityName:        attrTLEntityName,
	akTLEntityVersion:     attrTLEntityVersion,
	akTLSpanKind:          attrTLSpanKind,
	akTLPromptKey:         attrTLPromptKey,
	akTLPromptVersion:     attrTLPromptVersion,
	akTLPromptTemplate:    attrTLPromptTemplate,
	akTLEntityInput:       attrTLEntityInput,
	akTLEntityOutput:      attrTLEntityOutput,
	akAgentName:           attrGenAIAgentName,
	akToolName:            attrGenAIToolName,
	akOISpanKind:          attrOISpanKind,
	akOperation:           schemas.AttrGenAIOperationName,
	akLLMRequestType:      attrLLMRequestType,
	akProviderName:        schemas.AttrGenAIProviderName,
	akGenAISystem:         attrGenAISystem,
	akLLMProvider:         attrLLMProvider,
	akLLMSystem:           attrLLMSystem,
	akRequestModel:        schemas.AttrGenAIRequestModel,
	akResponseModel:       schemas.AttrGenAIResponseModel,
	akLLMModelName:        attrLLMModelName,
	akLLMInvocationParams: attrLLMInvocationParams,
	akEmbeddingModelName:  attrEmbeddingModelName,
	akSystemInstructions:  schemas.AttrGenAISystemInstructions,
	akOIPromptTemplate:    attrOIPromptTemplate,
	akOIPromptVersion:     attrOIPromptVersion,
	akInputMessages:       schemas.AttrGenAIInputMessages,
	akOutputMessages:      schemas.AttrGenAIOutputMessages,
	akLegacyPrompt:        attrGenAIPrompt,
	akLegacyCompletion:    attrGenAICompletion,
	akInputValue:          attrInputValue,
	akOutputValue:         attrOutputValue,
	akUsageInput:          schemas.AttrGenAIUsageInputTokens,
	akUsagePrompt:         attrUsagePromptTokens,
	akOITokPrompt:         attrOITokenCountPrompt,
	akUsageOutput:         schemas.AttrGenAIUsageOutputTokens,
	akUsageCompletion:     attrUsageCompletionTokens,
	akOITokCompletion:     attrOITokenCountCompletion,
	akSessionID:           attrSessionID,
	akConversationID:      schemas.AttrGenAIConversationID,
	akUserID:              attrUserID,
	akEnduserID:           attrEnduserID,
	akErrorType:           attrErrorType,
	akUsageCacheRead:      schemas.AttrGenAIUsageCacheReadInputTokens,
	akUsageCacheCreation:  schemas.AttrGenAIUsageCacheCreationInputTokens,
	akUsageReasoning:      schemas.AttrGenAIUsageReasoningOutputTokens,
	akRequestStream:       schemas.AttrGenAIRequestStream,
	akTimeToFirstChunk:    schemas.AttrGenAIResponseTimeToFirstChunk,
	akToolDefinitions:     schemas.AttrGenAIToolDefinitions,
}

// lookupAKey is a string switch rather than a map: the compiler turns it into
// a search on length and content without hashing.
func lookupAKey(k string) akey {
	switch k {
	case schemas.AttrApp:
		return akCWApp
	case schemas.AttrEnvironment:
		return akCWEnv
	case schemas.AttrChainName:
		return akCWChainName
	case schemas.AttrChainVersion:
		return akCWChainVersion
	case schemas.AttrComponentName:
		return akCWComponentName
	case schemas.AttrComponentKind:
		return akCWComponentKind
	case schemas.AttrPromptTemplateID:
		return akCWTemplateID
	case schemas.AttrPromptTemplateVersion:
		return akCWTemplateVersion
	case schemas.AttrSessionID:
		return akCWSession
	case schemas.AttrUserID:
		return akCWUser
	case schemas.AttrServiceName:
		return akServiceName
	case schemas.AttrDeploymentEnvironment:
		return akDeployEnvName
	case attrDeploymentEnvironmentOld:
		return akDeployEnv
	case attrTLWorkflowName:
		return akTLWorkflowName
	case attrTLEntityName:
		return akTLEntityName
	case attrTLEntityVersion:
		return akTLEntityVersion
	case attrTLSpanKind:
		return akTLSpanKind
	case attrTLPromptKey:
		return akTLPromptKey
	case attrTLPromptVersion:
		return akTLPromptVersion
	case attrTLPromptTemplate:
		return akTLPromptTemplate
	case attrTLEntityInput:
		return akTLEntityInput
	case attrTLEntityOutput:
		return akTLEntityOutput
	case attrGenAIAgentName:
		return akAgentName
	case attrGenAIToolName:
		return akToolName
	case attrOISpanKind:
		return akOISpanKind
	case schemas.AttrGenAIOperationName:
		return akOperation
	case attrLLMRequestType:
		return akLLMRequestType
	case schemas.AttrGenAIProviderName:
		return akProviderName
	case attrGenAISystem:
		return akGenAISystem
	case attrLLMProvider:
		return akLLMProvider
	case attrLLMSystem:
		return akLLMSystem
	case schemas.AttrGenAIRequestModel:
		return akRequestModel
	case schemas.AttrGenAIResponseModel:
		return akResponseModel
	case attrLLMModelName:
		return akLLMModelName
	case attrLLMInvocationParams:
		return akLLMInvocationParams
	case attrEmbeddingModelName:
		return akEmbeddingModelName
	case schemas.AttrGenAISystemInstructions:
		return akSystemInstructions
	case attrOIPromptTemplate:
		return akOIPromptTemplate
	case attrOIPromptVersion:
		return akOIPromptVersion
	case schemas.AttrGenAIInputMessages:
		return akInputMessages
	case schemas.AttrGenAIOutputMessages:
		return akOutputMessages
	case attrGenAIPrompt:
		return akLegacyPrompt
	case attrGenAICompletion:
		return akLegacyCompletion
	case attrInputValue:
		return akInputValue
	case attrOutputValue:
		return akOutputValue
	case schemas.AttrGenAIUsageInputTokens:
		return akUsageInput
	case schemas.AttrGenAIUsageCacheReadInputTokens:
		return akUsageCacheRead
	case schemas.AttrGenAIUsageCacheCreationInputTokens:
		return akUsageCacheCreation
	case schemas.AttrGenAIUsageReasoningOutputTokens:
		return akUsageReasoning
	case schemas.AttrGenAIRequestStream:
		return akRequestStream
	case schemas.AttrGenAIResponseTimeToFirstChunk:
		return akTimeToFirstChunk
	case schemas.AttrGenAIToolDefinitions:
		return akToolDefinitions
	case attrUsagePromptTokens:
		return akUsagePrompt
	case attrOITokenCountPrompt:
		return akOITokPrompt
	case schemas.AttrGenAIUsageOutputTokens:
		return akUsageOutput
	case attrUsageCompletionTokens:
		return akUsageCompletion
	case attrOITokenCountCompletion:
		return akOITokCompletion
	case attrSessionID:
		return akSessionID
	case schemas.AttrGenAIConversationID:
		return akConversationID
	case attrUserID:
		return akUserID
	case attrEnduserID:
		return akEnduserID
	case attrErrorType:
		return akErrorType
	}
	return akNone
}

// aslots holds, per known key, its value at one level (nil: not given).
type aslots [akCount]*wVal

type kvStr struct{ k, v string }

// Indexed message attributes: OpenLLMetry's gen_ai.prompt.{i}.*,
// gen_ai.completion.{i}.* and OpenInference's llm.input_messages.{i}.message.*,
// llm.output_messages.{i}.message.*.
const (
	idxPrompt uint8 = iota
	idxCompletion
	idxOIIn
	idxOIOut
)

const (
	ifRole uint8 = iota
	ifContent
	ifCText      // OpenInference message.contents.{j}.message_content.text
	ifCType      // OpenInference message.contents.{j}.message_content.type
	ifToolCallID // the id of the call a tool message answers
	ifTCID       // tool call j's id
	ifTCName     // tool call j's function name
	ifTCArgs     // tool call j's arguments
)

type idxEntry struct {
	src, field uint8
	used       bool
	i, j       int32
	kv         *wKV
}

func parseIndexedKey(k string) (src, field uint8, i, j int32, ok bool) {
	var rest string
	switch {
	case strings.HasPrefix(k, "gen_ai.prompt."):
		src, rest = idxPrompt, k[len("gen_ai.prompt."):]
	case strings.HasPrefix(k, "gen_ai.completion."):
		src, rest = idxCompletion, k[len("gen_ai.completion."):]
	case strings.HasPrefix(k, "llm.input_messages."):
		src, rest = idxOIIn, k[len("llm.input_messages."):]
	case strings.HasPrefix(k, "llm.output_messages."):
		src, rest = idxOIOut, k[len("llm.output_messages."):]
	default:
		return
	}
	if i, rest, ok = leadingIndex(rest); !ok {
		return
	}
	if src == idxOIIn || src == idxOIOut {
		if !strings.HasPrefix(rest, "message.") {
			return src, 0, 0, 0, false
		}
		rest = rest[len("message."):]
		if strings.HasPrefix(rest, "tool_calls.") {
			if j, rest, ok = leadingIndex(rest[len("tool_calls."):]); !ok {
				return
			}
			switch rest {
			case "tool_call.id":
				return src, ifTCID, i, j, true
			case "tool_call.function.name":
				return src, ifTCName, i, j, true
			case "tool_call.function.arguments":
				return src, ifTCArgs, i, j, true
			}
			return src, 0, 0, 0, false
		}
		if strings.HasPrefix(rest, "contents.") {
			if j, rest, ok = leadingIndex(rest[len("contents."):]); !ok {
				return
			}
			switch rest {
			case "message_content.text":
				return src, ifCText, i, j, true
			case "message_content.type":
				return src, ifCType, i, j, true
			}
			return src, 0, 0, 0, false
		}
	}
	if (src == idxPrompt || src == idxCompletion) && strings.HasPrefix(rest, "tool_calls.") {
		// OpenLLMetry: gen_ai.prompt.{i}.tool_calls.{j}.id / .name / .arguments
		if j, rest, ok = leadingIndex(rest[len("tool_calls."):]); !ok {
			return
		}
		switch rest {
		case "id":
			return src, ifTCID, i, j, true
		case "name":
			return src, ifTCName, i, j, true
		case "arguments":
			return src, ifTCArgs, i, j, true
		}
		return src, 0, 0, 0, false
	}
	switch rest {
	case "role":
		return src, ifRole, i, 0, true
	case "content":
		return src, ifContent, i, 0, true
	case "tool_call_id":
		return src, ifToolCallID, i, 0, true
	}
	return src, 0, 0, 0, false
}

// leadingIndex reads "<digits>." off s.
func leadingIndex(s string) (int32, string, bool) {
	n := int32(0)
	for k := 0; k < len(s); k++ {
		c := s[k]
		if c == '.' && k > 0 {
			return n, s[k+1:], true
		}
		if c < '0' || c > '9' || k >= 6 {
			return 0, "", false
		}
		n = n*10 + int32(c-'0')
	}
	return 0, "", false
}

// Span event classes.
const (
	evOther uint8 = iota
	evSystem
	evUser
	evAssistant
	evTool
	evChoice
	evContentPrompt
	evContentCompletion
	evException
)

const evInputMask = 1<<evSystem | 1<<evUser | 1<<evAssistant | 1<<evTool

func classifyEvent(name string) uint8 {
	switch name {
	case "gen_ai.system.message":
		return evSystem
	case "gen_ai.user.message":
		return evUser
	case "gen_ai.assistant.message":
		return evAssistant
	case "gen_ai.tool.message":
		return evTool
	case "gen_ai.choice":
		return evChoice
	case "gen_ai.content.prompt":
		return evContentPrompt
	case "gen_ai.content.completion":
		return evContentCompletion
	case "exception":
		return evException
	}
	return evOther
}

// Text sources, in precedence order (highest first).
const (
	srcMessages = iota // gen_ai.input.messages / gen_ai.output.messages
	srcEvents          // gen_ai.*.message events / gen_ai.choice events
	srcLegacy          // gen_ai.prompt / gen_ai.completion (attribute or gen_ai.content.* event)
	srcIndexed         // OpenLLMetry gen_ai.prompt.{i}.* / gen_ai.completion.{i}.*
	srcOI              // OpenInference llm.input_messages.{i}.* / llm.output_messages.{i}.*
	srcValue           // OpenInference input.value / output.value
	srcEntity          // Traceloop traceloop.entity.input / traceloop.entity.output
	srcCount
)

type textDir struct {
	input                           bool
	messages, legacy, value, entity akey
	msgEvents, legacyEvent          uint64 // event class masks
	indexed, oi                     uint8
	legacyEventAttr, messagesName   string
}

var (
	inputDir = textDir{
		input: true, messages: akInputMessages, legacy: akLegacyPrompt, value: akInputValue, entity: akTLEntityInput,
		msgEvents: evInputMask, legacyEvent: 1 << evContentPrompt, indexed: idxPrompt, oi: idxOIIn,
		legacyEventAttr: attrGenAIPrompt, messagesName: schemas.AttrGenAIInputMessages,
	}
	outputDir = textDir{
		input: false, messages: akOutputMessages, legacy: akLegacyCompletion, value: akOutputValue, entity: akTLEntityOutput,
		msgEvents: 1 << evChoice, legacyEvent: 1 << evContentCompletion, indexed: idxCompletion, oi: idxOIOut,
		legacyEventAttr: attrGenAICompletion, messagesName: schemas.AttrGenAIOutputMessages,
	}
)
