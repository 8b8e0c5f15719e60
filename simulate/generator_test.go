package simulate

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

var testNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func newGen(t testing.TB, mutate func(*Traffic)) *Generator {
	t.Helper()
	tf := DefaultTraffic()
	if mutate != nil {
		mutate(&tf)
	}
	g, err := NewGenerator(tf)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func generate(g *Generator, n int, shiftActive bool) []*Trace {
	out := make([]*Trace, n)
	for i := range out {
		out[i] = g.Next(testNow.Add(time.Duration(i)*100*time.Millisecond), shiftActive)
	}
	return out
}

func marshal(t testing.TB, m proto.Message) []byte {
	t.Helper()
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestGeneratorDeterministic(t *testing.T) {
	mk := func(seed uint64) []byte {
		g := newGen(t, func(tf *Traffic) {
			tf.Seed = seed
			tf.ErrorRate = 0.1
			tf.FeedbackRate = 0.3
			tf.Shift = Shift{Kind: ShiftTopic}
		})
		var buf bytes.Buffer
		buf.Write(marshal(t, g.Request(testNow, 200)))
		for i, tr := range generate(g, 300, true) {
			buf.Write(marshal(t, &tracepb.ScopeSpans{Spans: tr.Spans}))
			if tr.Feedback != nil {
				b, _ := json.Marshal(tr.Feedback)
				buf.Write(b)
			}
			buf.WriteString(tr.Prompt + tr.Answer + string(rune(i)))
		}
		return buf.Bytes()
	}
	a, b := mk(42), mk(42)
	if !bytes.Equal(a, b) {
		t.Fatal("two generators with seed 42 produced different traffic")
	}
	if bytes.Equal(a, mk(43)) {
		t.Fatal("seeds 42 and 43 produced the same traffic")
	}
}

// spansByTrace groups a request's spans by trace id and checks the
// resource attributes on the way.
func spansByTrace(t *testing.T, req *coltracepb.ExportTraceServiceRequest, env string) map[string][]*tracepb.Span {
	t.Helper()
	out := map[string][]*tracepb.Span{}
	for _, rs := range req.ResourceSpans {
		res := kvMap(rs.Resource.Attributes)
		app := res["service.name"]
		if findApp(app) == nil {
			t.Errorf("resource service.name = %q, not an app", app)
		}
		if res["deployment.environment.name"] != env {
			t.Errorf("resource deployment.environment.name = %q, want %q", res["deployment.environment.name"], env)
		}
		for _, ss := range rs.ScopeSpans {
			if ss.Scope.GetName() == "" {
				t.Errorf("%s: scope without a name", app)
			}
			for _, s := range ss.Spans {
				if got := kvMap(s.Attributes)[attrApp]; got != app {
					t.Errorf("span %q of resource %s has chainwatch.app %q", s.Name, app, got)
				}
				out[string(s.TraceId)] = append(out[string(s.TraceId)], s)
			}
		}
	}
	return out
}

func kvMap(kvs []*commonpb.KeyValue) map[string]string {
	m := make(map[string]string, len(kvs))
	for _, kv := range kvs {
		switch v := kv.Value.Value.(type) {
		case *commonpb.AnyValue_StringValue:
			m[kv.Key] = v.StringValue
		case *commonpb.AnyValue_IntValue:
			m[kv.Key] = strconv.FormatInt(v.IntValue, 10)
		case *commonpb.AnyValue_DoubleValue:
			m[kv.Key] = "double"
		case *commonpb.AnyValue_ArrayValue:
			m[kv.Key] = "array"
		}
	}
	return m
}

func itoa(v int64) string { return strconv.FormatInt(v, 10) }

func TestSpansWellFormed(t *testing.T) {
	g := newGen(t, func(tf *Traffic) { tf.ErrorRate = 0.3; tf.Environment = "prod" })
	req := g.Request(testNow, 500)
	if got := len(req.ResourceSpans); got != len(apps) {
		t.Errorf("%d ResourceSpans, want one per app (%d)", got, len(apps))
	}
	var back coltracepb.ExportTraceServiceRequest
	if err := proto.Unmarshal(marshal(t, req), &back); err != nil || !proto.Equal(req, &back) {
		t.Fatalf("request does not survive a protobuf round trip: %v", err)
	}
	traces := spansByTrace(t, req, "prod")
	if len(traces) != 500 {
		t.Fatalf("%d distinct trace ids, want 500", len(traces))
	}
	zero8, zero16 := make([]byte, 8), make([]byte, 16)
	seen := map[string]bool{}
	lineage := []string{attrApp, attrEnvironment, attrChainName, attrChainVersion, attrComponentName,
		attrComponentKind, attrTemplateID, attrTemplateVersion, attrSessionID, attrUserID}
	kinds := map[string]bool{}
	for tid, spans := range traces {
		if len(tid) != 16 || tid == string(zero16) {
			t.Fatalf("trace id %x is not 16 non-zero bytes", tid)
		}
		ids := map[string]*tracepb.Span{}
		for _, s := range spans {
			if len(s.SpanId) != 8 || bytes.Equal(s.SpanId, zero8) {
				t.Fatalf("span id %x is not 8 non-zero bytes", s.SpanId)
			}
			if seen[string(s.SpanId)] {
				t.Fatalf("span id %x used twice", s.SpanId)
			}
			seen[string(s.SpanId)] = true
			ids[string(s.SpanId)] = s
			if s.EndTimeUnixNano < s.StartTimeUnixNano || s.StartTimeUnixNano == 0 {
				t.Errorf("span %q: end %d before start %d", s.Name, s.EndTimeUnixNano, s.StartTimeUnixNano)
			}
			attrs := kvMap(s.Attributes)
			for _, k := range lineage {
				if attrs[k] == "" {
					t.Errorf("span %q lacks %s", s.Name, k)
				}
			}
			kinds[attrs[attrComponentKind]] = true
			if attrs[attrEnvironment] != "prod" {
				t.Errorf("span %q: chainwatch.environment = %q", s.Name, attrs[attrEnvironment])
			}
		}
		var roots []*tracepb.Span
		for _, s := range spans {
			if len(s.ParentSpanId) == 0 {
				roots = append(roots, s)
				continue
			}
			p := ids[string(s.ParentSpanId)]
			if p == nil {
				t.Fatalf("span %q: parent %x not in its trace", s.Name, s.ParentSpanId)
			}
			if s.StartTimeUnixNano < p.StartTimeUnixNano || s.EndTimeUnixNano > p.EndTimeUnixNano {
				t.Errorf("span %q lies outside its parent %q", s.Name, p.Name)
			}
		}
		if len(roots) != 1 {
			t.Fatalf("trace %x has %d roots", tid, len(roots))
		}
		if roots[0].EndTimeUnixNano != uint64(testNow.UnixNano()) {
			t.Errorf("trace %x ends at %d, want now", tid, roots[0].EndTimeUnixNano)
		}
		failed := 0
		for _, s := range spans {
			if s.Status.GetCode() == tracepb.Status_STATUS_CODE_ERROR {
				failed++
				if s.Status.Message == "" {
					t.Errorf("span %q fails without a message", s.Name)
				}
			}
		}
		if rootFailed := roots[0].Status.GetCode() == tracepb.Status_STATUS_CODE_ERROR; rootFailed != (failed == 2) {
			t.Errorf("trace %x: root failed %v, %d failed spans (want the root and the failing step)", tid, rootFailed, failed)
		}
	}
	for _, k := range []string{"chain", "retriever", "tool", "llm", "guardrail"} {
		if !kinds[k] {
			t.Errorf("no span of component kind %s", k)
		}
	}
}

func llmSpan(tr *Trace) map[string]string {
	for _, s := range tr.Spans {
		if a := kvMap(s.Attributes); a[attrComponentKind] == "llm" {
			return a
		}
	}
	return nil
}

func TestDialects(t *testing.T) {
	g := newGen(t, nil)
	checked := map[string]int{}
	for _, tr := range generate(g, 600, false) {
		if tr.Error != ErrNone {
			continue
		}
		a := llmSpan(tr)
		root := kvMap(tr.Spans[0].Attributes)
		in, out := itoa(tr.InputTokens), itoa(tr.OutputTokens)
		want := map[string]string{}
		switch tr.App {
		case "support-bot": // current semconv
			var msgs []struct {
				Role  string
				Parts []struct{ Type, Content string }
			}
			if err := json.Unmarshal([]byte(a["gen_ai.input.messages"]), &msgs); err != nil || msgs[0].Role != "user" || msgs[0].Parts[0].Type != "text" || msgs[0].Parts[0].Content != tr.Prompt {
				t.Fatalf("gen_ai.input.messages = %s (%v), want the prompt %q", a["gen_ai.input.messages"], err, tr.Prompt)
			}
			if err := json.Unmarshal([]byte(a["gen_ai.output.messages"]), &msgs); err != nil || msgs[0].Role != "assistant" || msgs[0].Parts[0].Content != tr.Answer {
				t.Fatalf("gen_ai.output.messages = %s (%v), want the answer", a["gen_ai.output.messages"], err)
			}
			want = map[string]string{"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
				"gen_ai.usage.input_tokens": in, "gen_ai.usage.output_tokens": out}
			for _, k := range []string{"gen_ai.request.model", "gen_ai.response.model", "gen_ai.system_instructions"} {
				if a[k] == "" {
					t.Errorf("support-bot llm span lacks %s", k)
				}
			}
		case "travel-agent": // OpenLLMetry
			want = map[string]string{"gen_ai.prompt.1.role": "user", "gen_ai.prompt.1.content": tr.Prompt,
				"gen_ai.completion.0.content": tr.Answer, "gen_ai.system": "openai",
				"gen_ai.usage.prompt_tokens": in, "gen_ai.usage.completion_tokens": out,
				"traceloop.workflow.name": "trip-planner"}
			if root["traceloop.span.kind"] != "workflow" {
				t.Errorf("travel-agent root traceloop.span.kind = %q", root["traceloop.span.kind"])
			}
		case "docs-qa": // OpenInference
			want = map[string]string{"openinference.span.kind": "LLM", "input.value": tr.Prompt,
				"output.value": tr.Answer, "llm.token_count.prompt": in, "llm.token_count.completion": out,
				"llm.prompt_template.version": a[attrTemplateVersion]}
			for _, k := range []string{"llm.model_name", "llm.prompt_template.template"} {
				if a[k] == "" {
					t.Errorf("docs-qa llm span lacks %s", k)
				}
			}
			if root["openinference.span.kind"] != "CHAIN" {
				t.Errorf("docs-qa root openinference.span.kind = %q", root["openinference.span.kind"])
			}
		}
		for k, v := range want {
			if a[k] != v {
				t.Errorf("%s llm span: %s = %q, want %q", tr.App, k, a[k], v)
			}
		}
		checked[tr.App]++
		// Tokens follow the text: a quarter of the characters.
		if want := int64((utf8.RuneCountInString(tr.Answer) + 3) / 4); tr.OutputTokens != want {
			t.Errorf("output tokens %d for %d characters", tr.OutputTokens, utf8.RuneCountInString(tr.Answer))
		}
	}
	for _, app := range AppNames() {
		if checked[app] < 50 {
			t.Errorf("only %d successful %s traces checked", checked[app], app)
		}
	}
}

func TestLatencyFollowsOutputTokens(t *testing.T) {
	g := newGen(t, func(tf *Traffic) { tf.Apps = []string{"docs-qa"}; tf.Shift = Shift{Kind: ShiftLength} })
	var toks, lat []float64
	for _, tr := range generate(g, 600, false) {
		if tr.Error != ErrNone {
			continue
		}
		for _, s := range tr.Spans {
			if kvMap(s.Attributes)[attrComponentKind] == "llm" {
				toks = append(toks, float64(tr.OutputTokens))
				lat = append(lat, float64(s.EndTimeUnixNano-s.StartTimeUnixNano))
			}
		}
	}
	// Mix in long answers so the token counts spread.
	for _, tr := range generate(g, 300, true) {
		if tr.Error == ErrNone {
			for _, s := range tr.Spans {
				if kvMap(s.Attributes)[attrComponentKind] == "llm" {
					toks = append(toks, float64(tr.OutputTokens))
					lat = append(lat, float64(s.EndTimeUnixNano-s.StartTimeUnixNano))
				}
			}
		}
	}
	if r := corr(toks, lat); r < 0.8 {
		t.Errorf("correlation of llm latency with output tokens = %.2f, want >= 0.8", r)
	}
}

func corr(x, y []float64) float64 {
	n := float64(len(x))
	var mx, my float64
	for i := range x {
		mx += x[i] / n
		my += y[i] / n
	}
	var sxy, sxx, syy float64
	for i := range x {
		sxy += (x[i] - mx) * (y[i] - my)
		sxx += (x[i] - mx) * (x[i] - mx)
		syy += (y[i] - my) * (y[i] - my)
	}
	return sxy / math.Sqrt(sxx*syy)
}

func TestTextsVaried(t *testing.T) {
	g := newGen(t, nil)
	prompts, answers := map[string]bool{}, map[string]bool{}
	topics := map[string]bool{}
	traces := generate(g, 500, false)
	for _, tr := range traces {
		prompts[tr.Prompt] = true
		answers[tr.Answer] = true
		topics[tr.App+"/"+tr.Topic] = true
	}
	if share := float64(len(prompts)) / 500; share < 0.5 {
		t.Errorf("%.0f%% distinct prompts over 500 traces, want >= 50%%", 100*share)
	}
	if share := float64(len(answers)) / 500; share < 0.3 {
		t.Errorf("%.0f%% distinct answers over 500 traces, want >= 30%%", 100*share)
	}
	for _, a := range apps {
		for _, tp := range a.topics {
			if got := topics[a.name+"/"+tp.name]; got == tp.novel() {
				t.Errorf("%s/%s (novel %v) occurs: %v", a.name, tp.name, tp.novel(), got)
			}
		}
	}
}

// TestCorpusAnswersFitPrompts checks the corpus' invariants: parallel
// intents across languages, and answers that only mention what the prompt
// (every variant of it) or the tool call bound, or facts the bot states
// itself (prices, counts, days, carriers, hotels).
func TestCorpusAnswersFitPrompts(t *testing.T) {
	facts := []int{sAmount, sN, sDays, sCarrier, sHotel}
	for _, a := range apps {
		for _, l := range []string{"en", a.language} {
			if len(a.promptDetails[l]) < 6 || len(a.answerDetails[l]) < 6 {
				t.Errorf("%s: few %s detail sentences", a.name, l)
			}
		}
		for _, tp := range a.topics {
			if !tp.novel() && len(tp.intents[a.language]) == 0 {
				t.Errorf("%s/%s has no %s texts", a.name, tp.name, a.language)
			}
			if len(tp.docs) == 0 {
				t.Errorf("%s/%s has no documents", a.name, tp.name)
			}
			for lang, ins := range tp.intents {
				for i, in := range ins {
					var common []int
					for j, p := range in.prompts {
						if j == 0 {
							common = p.slots()
							continue
						}
						common = slices.DeleteFunc(common, func(id int) bool { return !slices.Contains(p.slots(), id) })
					}
					if in.tool != nil {
						common = append(common, in.tool.args.slots()...)
						common = append(common, in.tool.result.slots()...)
					}
					for _, ans := range in.answers {
						for _, id := range ans.slots() {
							if !slices.Contains(common, id) && !slices.Contains(facts, id) {
								t.Errorf("%s/%s/%s intent %d: answer uses {%s}, which not every prompt binds", a.name, tp.name, lang, i, slotNames[id])
							}
						}
					}
				}
			}
		}
	}
}

// stopwords of a tiny language guesser, enough to tell the corpus' four
// languages apart.
var stopwords = map[string][]string{
	"en": {"the", "and", "is", "my", "to", "for", "how", "what", "i", "do", "can", "it", "you", "your", "with", "on", "in", "a", "of", "does", "we", "me", "this", "are"},
	"es": {"el", "la", "los", "las", "que", "mi", "por", "para", "con", "es", "una", "un", "cómo", "qué", "y", "se", "no", "del", "me", "lo", "tu", "está"},
	"fr": {"le", "les", "des", "je", "mon", "ma", "pour", "avec", "est", "une", "comment", "et", "vous", "pas", "du", "à", "au", "il", "quel", "nous", "d'un"},
	"de": {"der", "die", "das", "und", "ist", "ich", "mein", "meine", "für", "mit", "wie", "nicht", "ein", "eine", "zu", "auf", "den", "unter", "von", "wir", "dem", "warum", "welche", "gibt", "zurück", "im", "vielen", "dank", "danke", "hallo"},
}

func guessLanguage(s string) string {
	counts := map[string]int{}
	for _, w := range strings.FieldsFunc(strings.ToLower(s), func(r rune) bool { return !unicode.IsLetter(r) && r != '\'' }) {
		for l, ws := range stopwords {
			if slices.Contains(ws, w) {
				counts[l]++
			}
		}
	}
	best, n := "en", 0
	for _, l := range []string{"en", "es", "fr", "de"} {
		if counts[l] > n {
			best, n = l, counts[l]
		}
	}
	return best
}

func TestGuessLanguage(t *testing.T) {
	for text, want := range map[string]string{
		"How do I change the credit card for my Pro plan?":                "en",
		"¿Cómo cambio la tarjeta de crédito de mi suscripción Pro?":       "es",
		"Trouve-moi un vol de Paris à Rome le 3 mars pour 2 personnes.":   "fr",
		"Wie installiere ich das Quill-SDK für Go unter Debian 12?":       "de",
		"Quel est le vol le moins cher de Paris à Rome ? Nous sommes 2.":  "fr",
		"Warum gibt /v2/search HTTP 404 zurück? Ich bekomme das ständig.": "de",
	} {
		if got := guessLanguage(text); got != want {
			t.Errorf("guessLanguage(%q) = %s, want %s", text, got, want)
		}
	}
}

// twin generates n traces twice from the same Traffic: once with the shift
// inactive, once active. Both series draw from the same streams, so they
// differ only by what the shift changes.
func twin(t *testing.T, n int, mutate func(*Traffic)) (base, shifted []*Trace) {
	t.Helper()
	mk := func() *Generator {
		return newGen(t, func(tf *Traffic) {
			tf.Seed = 7
			tf.FeedbackRate = 0.3
			mutate(tf)
		})
	}
	return generate(mk(), n, false), generate(mk(), n, true)
}

type textStats struct {
	nonEnglish, novel, errors float64
	promptLen, answerLen      float64
	topics                    map[string]float64
}

func measure(traces []*Trace) textStats {
	s := textStats{topics: map[string]float64{}}
	n := float64(len(traces))
	var ok float64
	for _, tr := range traces {
		if guessLanguage(tr.Prompt+" "+tr.Answer) != "en" {
			s.nonEnglish++
		}
		if tr.Novel {
			s.novel++
		}
		if tr.Error != ErrNone {
			s.errors++
		} else {
			ok++
			s.answerLen += float64(len(tr.Answer))
		}
		s.promptLen += float64(len(tr.Prompt))
		s.topics[tr.App+"/"+tr.Topic] += 1 / n
	}
	s.nonEnglish /= n
	s.novel /= n
	s.errors /= n
	s.promptLen /= n
	s.answerLen /= ok
	return s
}

func totalVariation(a, b map[string]float64) float64 {
	d := 0.0
	for k, v := range a {
		d += math.Abs(v - b[k])
	}
	for k, v := range b {
		if _, ok := a[k]; !ok {
			d += v
		}
	}
	return d / 2
}

func TestShifts(t *testing.T) {
	const n = 3000
	tests := []struct {
		kind ShiftKind
		mag  float64
		// check tests what the shift is about.
		check func(t *testing.T, before, after textStats)
	}{
		{ShiftNone, 0, func(t *testing.T, before, after textStats) {}},
		{ShiftLanguage, 0, func(t *testing.T, before, after textStats) {
			if before.nonEnglish > 0.01 || after.nonEnglish < 0.97 {
				t.Errorf("non-English share %.3f before, %.3f after; want ≈ 0 and ≈ 1", before.nonEnglish, after.nonEnglish)
			}
		}},
		{ShiftLanguage, 0.4, func(t *testing.T, before, after textStats) {
			if math.Abs(after.nonEnglish-0.4) > 0.04 {
				t.Errorf("non-English share after %.3f, want ≈ 0.4", after.nonEnglish)
			}
		}},
		{ShiftTopic, 0, func(t *testing.T, before, after textStats) {
			if before.novel != 0 || math.Abs(after.novel-DefaultTopicShare) > 0.04 {
				t.Errorf("novel-topic share %.3f before, %.3f after; want 0 and ≈ %v", before.novel, after.novel, DefaultTopicShare)
			}
			if tv := totalVariation(before.topics, after.topics); tv < 0.5 {
				t.Errorf("total variation between topic distributions = %.2f, want >= 0.5", tv)
			}
		}},
		{ShiftLength, 0, func(t *testing.T, before, after textStats) {
			m := DefaultLengthFactor
			if r := after.promptLen / before.promptLen; r < m/2 {
				t.Errorf("mean prompt length ratio %.2f, want >= %v", r, m/2)
			}
			if r := after.answerLen / before.answerLen; r < m/2 {
				t.Errorf("mean answer length ratio %.2f, want >= %v", r, m/2)
			}
		}},
		{ShiftLength, 2, func(t *testing.T, before, after textStats) {
			if r := after.promptLen / before.promptLen; r < 1.9 || r > 2.6 {
				t.Errorf("mean prompt length ratio %.2f, want ≈ 2", r)
			}
		}},
		{ShiftErrorRate, 0, func(t *testing.T, before, after textStats) {
			if math.Abs(before.errors-DefaultErrorRate) > 0.01 || math.Abs(after.errors-DefaultShiftErrorRate) > 0.025 {
				t.Errorf("error share %.3f before, %.3f after; want ≈ %v and ≈ %v", before.errors, after.errors, DefaultErrorRate, DefaultShiftErrorRate)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%s_%g", tc.kind, tc.mag), func(t *testing.T) {
			base, shifted := twin(t, n, func(tf *Traffic) { tf.Shift = Shift{Kind: tc.kind, Magnitude: tc.mag} })
			before, after := measure(base), measure(shifted)
			tc.check(t, before, after)

			// Nothing else changes.
			k := tc.kind
			if k != ShiftLanguage && math.Abs(before.nonEnglish-after.nonEnglish) > 0.005 {
				t.Errorf("non-English share moved %.3f → %.3f", before.nonEnglish, after.nonEnglish)
			}
			if k != ShiftLength {
				if r := after.promptLen / before.promptLen; r < 0.8 || r > 1.25 {
					t.Errorf("mean prompt length moved by %.2f×", r)
				}
			}
			for i := range base {
				b, s := base[i], shifted[i]
				if b.App != s.App || b.SessionID != s.SessionID || b.UserID != s.UserID || b.ChainVersion != s.ChainVersion || b.TraceID != s.TraceID {
					t.Fatalf("trace %d: app, session, user, version or id changed", i)
				}
				if (b.Feedback == nil) != (s.Feedback == nil) {
					t.Fatalf("trace %d: feedback presence changed", i)
				}
				if k != ShiftTopic && (b.Topic != s.Topic || b.Intent != s.Intent) {
					t.Fatalf("trace %d: topic changed %s → %s", i, b.Topic, s.Topic)
				}
				if k != ShiftLanguage && b.Language != s.Language {
					t.Fatalf("trace %d: language changed", i)
				}
				if k != ShiftErrorRate && b.Error != s.Error {
					t.Fatalf("trace %d: error changed %q → %q", i, b.Error, s.Error)
				}
				if k == ShiftErrorRate && b.Error != ErrNone && s.Error == ErrNone {
					t.Fatalf("trace %d failed without the shift but not with it", i)
				}
				if (k == ShiftNone || k == ShiftErrorRate) && b.Prompt != s.Prompt {
					t.Fatalf("trace %d: prompt changed", i)
				}
				if !s.Shifted && k != ShiftNone {
					t.Fatalf("trace %d: not marked shifted", i)
				}
			}
		})
	}
}

func TestShiftLimitedToApps(t *testing.T) {
	base, shifted := twin(t, 1500, func(tf *Traffic) {
		tf.Shift = Shift{Kind: ShiftLanguage, Apps: []string{"docs-qa"}}
	})
	var german int
	for i := range base {
		b, s := base[i], shifted[i]
		if s.App != "docs-qa" {
			if b.Prompt != s.Prompt || b.Answer != s.Answer || s.Shifted {
				t.Fatalf("trace %d of %s changed though only docs-qa shifts", i, s.App)
			}
			continue
		}
		if guessLanguage(s.Prompt) == "de" && s.Language == "de" {
			german++
		}
	}
	var docs int
	for _, s := range shifted {
		if s.App == "docs-qa" {
			docs++
		}
	}
	if float64(german) < 0.97*float64(docs) {
		t.Errorf("%d of %d docs-qa prompts German after a docs-qa language shift", german, docs)
	}
}

func TestTextBytes(t *testing.T) {
	g := newGen(t, func(tf *Traffic) { tf.TextBytes = 1024 })
	var sum, n float64
	for _, tr := range generate(g, 400, false) {
		if tr.Error != ErrNone {
			continue
		}
		size := len(tr.Prompt) + len(tr.Answer)
		if size > 1024 || size < 850 {
			t.Errorf("%s: prompt+answer = %d bytes, want ≈ 1024", tr.App, size)
		}
		if !utf8.ValidString(tr.Prompt) || !utf8.ValidString(tr.Answer) {
			t.Fatalf("trimming broke UTF-8")
		}
		if a := llmSpan(tr); a != nil && tr.App == "docs-qa" && a["output.value"] != tr.Answer {
			t.Errorf("docs-qa output.value is not the padded answer")
		}
		sum += float64(size)
		n++
	}
	if mean := sum / n; mean < 980 || mean > 1024 {
		t.Errorf("mean prompt+answer = %.0f bytes, want ≈ 1024", mean)
	}
}

func TestFeedback(t *testing.T) {
	const n = 6000
	base, shifted := twin(t, n, func(tf *Traffic) {
		tf.FeedbackRate = 0.25
		tf.ErrorRate = 0.15
		tf.Shift = Shift{Kind: ShiftTopic}
	})
	positive := func(traces []*Trace, failed bool) (float64, int) {
		var pos, all float64
		for _, tr := range traces {
			if fb := tr.Feedback; fb != nil && (tr.Error != ErrNone) == failed {
				all++
				if (tr.App == "travel-agent" && *fb.Score >= 4) || (tr.App != "travel-agent" && *fb.Score == 1) {
					pos++
				}
			}
		}
		return pos / all, int(all)
	}
	var withFB, comments int
	for _, tr := range base {
		fb := tr.Feedback
		if fb == nil {
			continue
		}
		withFB++
		if fb.TraceID != hex.EncodeToString(tr.TraceID[:]) || fb.SpanID != hex.EncodeToString(tr.Spans[0].SpanId) {
			t.Fatalf("feedback points at %s/%s, not the trace's root", fb.TraceID, fb.SpanID)
		}
		if fb.Source != "user" || fb.UserID != tr.UserID || fb.ID == "" || fb.Label == "" || fb.Score == nil || fb.Time.IsZero() {
			t.Fatalf("incomplete feedback %+v", fb)
		}
		s := *fb.Score
		if tr.App == "travel-agent" && (s < 1 || s > 5 || s != math.Trunc(s)) || tr.App != "travel-agent" && s != 0 && s != 1 {
			t.Fatalf("%s feedback score %v", tr.App, s)
		}
		if fb.Comment != "" {
			comments++
		}
	}
	if share := float64(withFB) / n; math.Abs(share-0.25) > 0.02 {
		t.Errorf("feedback on %.3f of traces, want ≈ 0.25", share)
	}
	if comments == 0 || comments > withFB/2 {
		t.Errorf("%d of %d feedback records have comments", comments, withFB)
	}
	okPos, _ := positive(base, false)
	errPos, nErr := positive(base, true)
	if nErr < 50 || okPos-errPos < 0.4 {
		t.Errorf("positive share %.2f on good traces, %.2f on %d failed ones; want failures much worse", okPos, errPos, nErr)
	}
	shiftPos, _ := positive(shifted, false)
	if okPos-shiftPos < 0.15 {
		t.Errorf("positive share %.2f before a topic shift, %.2f after; want worse after", okPos, shiftPos)
	}
}

func TestSessions(t *testing.T) {
	g := newGen(t, nil)
	type sess struct {
		app, user string
		n         int
	}
	sessions := map[string]*sess{}
	traces := generate(g, 1000, false)
	for _, tr := range traces {
		s := sessions[tr.SessionID]
		if s == nil {
			s = &sess{app: tr.App, user: tr.UserID}
			sessions[tr.SessionID] = s
		}
		if s.app != tr.App || s.user != tr.UserID {
			t.Fatalf("session %s spans apps or users", tr.SessionID)
		}
		s.n++
	}
	multi := 0
	for _, s := range sessions {
		if s.n >= 2 {
			multi++
		}
	}
	if len(sessions) > 600 || multi < len(sessions)/3 {
		t.Errorf("%d sessions over 1000 traces, %d with several traces", len(sessions), multi)
	}
}

func TestNewGeneratorRejectsInvalidTraffic(t *testing.T) {
	tf := DefaultTraffic()
	tf.Apps = []string{"nope"}
	if _, err := NewGenerator(tf); err == nil || !strings.Contains(err.Error(), "simulate.apps") {
		t.Fatalf("NewGenerator with an unknown app: %v", err)
	}
}

func BenchmarkRequest(b *testing.B) {
	for _, bc := range []struct {
		name      string
		textBytes int
		marshal   bool
	}{
		{"spans_1000_text_1KB", 1024, false},
		{"spans_1000_text_natural", 0, false},
		{"spans_1000_text_1KB_marshal", 1024, true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			g := newGen(b, func(tf *Traffic) { tf.TextBytes = bc.textBytes })
			now := time.Now()
			probe := g.Request(now, 1000)
			perTrace := float64(countSpans(probe)) / 1000
			n := int(math.Round(1000 / perTrace))
			var spans, bytes, iters int
			b.ReportAllocs()
			for b.Loop() {
				req := g.Request(now, n)
				spans += countSpans(req)
				if bc.marshal {
					out, err := proto.Marshal(req)
					if err != nil {
						b.Fatal(err)
					}
					bytes += len(out)
				}
				iters++
			}
			b.ReportMetric(float64(spans)/float64(iters), "spans/op")
			if bc.marshal {
				b.ReportMetric(float64(bytes)/float64(iters), "wire-bytes/op")
			}
		})
	}
}

func countSpans(req *coltracepb.ExportTraceServiceRequest) int {
	n := 0
	for _, rs := range req.ResourceSpans {
		for _, ss := range rs.ScopeSpans {
			n += len(ss.Spans)
		}
	}
	return n
}
