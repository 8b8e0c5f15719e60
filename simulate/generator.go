package simulate

import (
	"encoding/hex"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/chainwatch/chainwatch/schemas"
)

// ErrorKind says how a trace failed.
type ErrorKind string

// Error kinds, with the share of failures each takes.
const (
	ErrNone          ErrorKind = ""
	ErrRateLimit     ErrorKind = "rate_limit"     // 35 %: llm span, 429 from the provider
	ErrTimeout       ErrorKind = "timeout"        // 20 %: llm span, 30 s client timeout
	ErrContentFilter ErrorKind = "content_filter" // 20 %: guardrail span blocks the answer
	ErrProvider      ErrorKind = "provider_error" // 15 %: llm span, 5xx from the provider
	ErrTool          ErrorKind = "tool_error"     // 10 %: tool span (provider_error where the chain calls no tool)
)

// Trace is one generated run of one app's chain, with the ground truth the
// spans encode, so tests need not decode the dialects.
type Trace struct {
	TraceID      [16]byte
	App          string
	ChainVersion string
	Topic        string
	Novel        bool // the topic never occurs outside a topic shift
	Intent       int
	Language     string // "en", "es", "fr" or "de"
	Prompt       string // the user's message
	Answer       string // the model's answer; "" when the model call failed
	InputTokens  int64
	OutputTokens int64
	Error        ErrorKind
	ErrorMessage string
	// Shifted says the shift applied to this trace: it was active and the
	// trace's app is among the shifted apps.
	Shifted   bool
	SessionID string
	UserID    string
	Start     time.Time
	End       time.Time
	Spans     []*tracepb.Span
	// Feedback is the user's feedback on this trace, nil for most traces.
	Feedback *schemas.Feedback

	app *appState
}

// TraceIDHex is the trace id as 32 lower-case hex digits.
func (t *Trace) TraceIDHex() string { return hex.EncodeToString(t.TraceID[:]) }

// Generator makes realistic chain traces, deterministically: two Generators
// built from the same Traffic and fed the same (now, shiftActive) sequence
// produce identical traces. Each aspect of a trace draws from its own
// random stream with a fixed number of draws per trace — which app, session,
// version, topic and language (one stream), texts (one stream per app),
// errors, timings, ids and feedback — so a shift changes only what it is
// about: a language shift translates the very same questions, an error-rate
// shift fails a superset of the same traces, and a shift limited to one app
// leaves the other apps' traces unchanged. A Generator is not safe for
// concurrent use.
type Generator struct {
	traffic Traffic
	shift   ShiftKind
	mag     float64

	apps   []*appState
	appCum []float64

	pick, errs, timing, ids, fb *rand.Rand
	// attrs allocates the spans' attributes in slabs shared by all traces.
	attrs attrs
}

type appState struct {
	def     *appDef
	text    *rand.Rand
	shifted bool
	verCum  []float64
	base    []*topicDef
	baseCum []float64
	novel   []*topicDef
	// sessions open for further turns.
	sessions []session
	bind     binding
}

type session struct {
	id, user string
	left     int
}

const (
	sessionContinue = 0.7 // chance a trace continues an open session
	maxOpenSessions = 8   // per app
	maxTurns        = 6
	casualShare     = 0.12 // prompts typed all lower-case
	commentShare    = 0.25 // feedback with a comment
	positiveBase    = 0.8  // chance feedback on a good trace is positive
	positiveOnError = 0.12 // … on a failed trace
)

// qualityPenalty lowers the chance of positive feedback on shifted traces:
// users rate answers on unfamiliar topics and overlong answers worse, and
// answers in the second language slightly worse. An error-rate shift works
// through the errors themselves.
var qualityPenalty = map[ShiftKind]float64{
	ShiftTopic:    0.35,
	ShiftLength:   0.25,
	ShiftLanguage: 0.15,
}

// Stream numbers for rand.NewPCG's second word.
const (
	streamPick = 0x9e3779b97f4a7c15 + iota
	streamErrs
	streamTiming
	streamIDs
	streamFeedback
)

// NewGenerator returns a Generator for t, which must be valid.
func NewGenerator(t Traffic) (*Generator, error) {
	if err := t.Validate(); err != nil {
		return nil, err
	}
	if t.Shift.Kind == "" {
		t.Shift.Kind = ShiftNone
	}
	g := &Generator{
		traffic: t,
		shift:   t.Shift.Kind,
		mag:     t.Shift.EffectiveMagnitude(),
		pick:    rand.New(rand.NewPCG(t.Seed, streamPick)),
		errs:    rand.New(rand.NewPCG(t.Seed, streamErrs)),
		timing:  rand.New(rand.NewPCG(t.Seed, streamTiming)),
		ids:     rand.New(rand.NewPCG(t.Seed, streamIDs)),
		fb:      rand.New(rand.NewPCG(t.Seed, streamFeedback)),
	}
	total := 0.0
	for _, def := range apps {
		if len(t.Apps) > 0 && !slices.Contains(t.Apps, def.name) {
			continue
		}
		h := fnv.New64a()
		h.Write([]byte(def.name))
		st := &appState{
			def:     def,
			text:    rand.New(rand.NewPCG(t.Seed, h.Sum64())),
			shifted: t.Shift.active() && (len(t.Shift.Apps) == 0 || slices.Contains(t.Shift.Apps, def.name)),
		}
		c := 0.0
		for _, v := range def.versions {
			c += v.weight
			st.verCum = append(st.verCum, c)
		}
		c = 0
		for _, tp := range def.topics {
			if tp.novel() {
				st.novel = append(st.novel, tp)
				continue
			}
			c += tp.weight
			st.base = append(st.base, tp)
			st.baseCum = append(st.baseCum, c)
		}
		g.apps = append(g.apps, st)
		total += def.share
		g.appCum = append(g.appCum, total)
	}
	return g, nil
}

// pickCum returns the index of the first cumulative weight above u×total.
func pickCum(cum []float64, u float64) int {
	x := u * cum[len(cum)-1]
	for i, c := range cum {
		if x < c {
			return i
		}
	}
	return len(cum) - 1
}

// Next generates one trace that ends at now. shiftActive says whether the
// configured shift is in force; it applies to the trace only if the trace's
// app is among the shifted apps.
func (g *Generator) Next(now time.Time, shiftActive bool) *Trace {
	// Choices: always the same number of draws.
	p := g.pick
	appU := p.Float64()
	contU, idxU, userU, turnsU := p.Float64(), p.Float64(), p.Float64(), p.Float64()
	sid := p.Uint64()
	verU, topicU, intentU, langU, casualU := p.Float64(), p.Float64(), p.Float64(), p.Float64(), p.Float64()

	st := g.apps[pickCum(g.appCum, appU)]
	def := st.def
	shifted := shiftActive && st.shifted
	sess := st.session(contU, idxU, userU, turnsU, sid)
	ver := def.versions[pickCum(st.verCum, verU)]

	var topic *topicDef
	if shifted && g.shift == ShiftTopic && len(st.novel) > 0 && topicU < g.mag {
		topic = st.novel[min(int(topicU/g.mag*float64(len(st.novel))), len(st.novel)-1)]
	} else {
		u := topicU
		if shifted && g.shift == ShiftTopic {
			u = (topicU - g.mag) / (1 - g.mag)
		}
		topic = st.base[pickCum(st.baseCum, u)]
	}
	lang := "en"
	if shifted && g.shift == ShiftLanguage && langU < g.mag && len(topic.intents[def.language]) > 0 {
		lang = def.language
	}
	intents := topic.intents[lang]
	ii := min(int(intentU*float64(len(intents))), len(intents)-1)
	in := intents[ii]

	tr := &Trace{
		App: def.name, ChainVersion: ver.chain, Topic: topic.name, Novel: topic.novel(),
		Intent: ii, Language: lang, Shifted: shifted,
		SessionID: sess.id, UserID: sess.user, app: st,
	}
	factor := 1.0
	if shifted && g.shift == ShiftLength {
		factor = g.mag
	}
	tx := g.render(st, topic, ii, lang, now.Year(), casualU < casualShare, factor)
	tr.Prompt = tx.prompt

	// Errors: three draws.
	errU, kindU, detailU := g.errs.Float64(), g.errs.Float64(), g.errs.Float64()
	rate := g.traffic.ErrorRate
	if shifted && g.shift == ShiftErrorRate {
		rate = g.mag
	}
	if errU < rate {
		tr.Error = errorKind(kindU, in.tool != nil)
	}

	// Ids: eight draws.
	var spanIDs [5][8]byte
	putU64(tr.TraceID[:8], g.ids.Uint64())
	putU64(tr.TraceID[8:], g.ids.Uint64()|1) // never all zero
	for i := range spanIDs {
		putU64(spanIDs[i][:], g.ids.Uint64()|1<<63)
	}
	respID := g.ids.Uint64()

	// The model reads the system instructions, the user's message and the
	// tool's result.
	tr.InputTokens = tokens(def.system) + tokens(tx.prompt)
	if in.tool != nil && tr.Error != ErrTool {
		tr.InputTokens += tokens(tx.toolResult)
	}
	llmOK := tr.Error != ErrRateLimit && tr.Error != ErrTimeout && tr.Error != ErrProvider && tr.Error != ErrTool
	if llmOK {
		tr.Answer = tx.answer
		tr.OutputTokens = tokens(tx.answer)
	}
	tr.ErrorMessage = errorMessage(tr.Error, def, ver, in.tool, detailU)

	g.buildSpans(tr, st, ver, in.tool, tx, spanIDs, respID, now)
	g.feedback(tr, st)
	return tr
}

func putU64(b []byte, v uint64) {
	for i := range 8 {
		b[i] = byte(v >> (56 - 8*i))
	}
}

// tokens approximates a BPE token count: a quarter of the characters.
func tokens(s string) int64 { return int64((utf8.RuneCountInString(s) + 3) / 4) }

func errorKind(u float64, hasTool bool) ErrorKind {
	switch {
	case u < 0.35:
		return ErrRateLimit
	case u < 0.55:
		return ErrTimeout
	case u < 0.75:
		return ErrContentFilter
	case u < 0.90 || !hasTool:
		return ErrProvider
	}
	return ErrTool
}

func errorMessage(k ErrorKind, def *appDef, ver chainVersion, tool *toolDef, u float64) string {
	switch k {
	case ErrRateLimit:
		return fmt.Sprintf("Error code: 429 - rate limit reached for %s on tokens per min (TPM): please try again in %dms", ver.model, 200+int(u*1800))
	case ErrTimeout:
		return fmt.Sprintf("request to https://%s timed out after 30s", def.server)
	case ErrContentFilter:
		cats := []string{"personal_data", "self_harm", "violence", "hate"}
		return fmt.Sprintf("guardrail %s blocked the answer: content policy violation (category: %s)", def.guardrail, cats[int(u*float64(len(cats)))])
	case ErrProvider:
		if u < 0.5 {
			return fmt.Sprintf("Error code: 500 - the server had an error while processing your request (%s)", def.server)
		}
		return fmt.Sprintf("Error code: 502 - bad gateway from %s: upstream connect error", def.server)
	case ErrTool:
		return fmt.Sprintf("tool %s failed: upstream returned 503 Service Unavailable", tool.name)
	}
	return ""
}

func errorType(k ErrorKind, msg string) string {
	switch k {
	case ErrRateLimit:
		return "429"
	case ErrTimeout:
		return "timeout"
	case ErrProvider:
		if strings.Contains(msg, "502") {
			return "502"
		}
		return "500"
	}
	return string(k)
}

func (st *appState) session(contU, idxU, userU, turnsU float64, sid uint64) session {
	if len(st.sessions) > 0 && contU < sessionContinue {
		i := min(int(idxU*float64(len(st.sessions))), len(st.sessions)-1)
		s := &st.sessions[i]
		s.left--
		out := *s
		if s.left <= 0 {
			st.sessions = slices.Delete(st.sessions, i, i+1)
		}
		return out
	}
	s := session{
		id:   fmt.Sprintf("sess_%016x", sid),
		user: fmt.Sprintf("user_%04d", int(userU*float64(st.def.users))),
		left: 1 + int(turnsU*maxTurns),
	}
	out := s
	if s.left--; s.left > 0 {
		if len(st.sessions) >= maxOpenSessions {
			st.sessions = slices.Delete(st.sessions, 0, 1) // the oldest user left
		}
		st.sessions = append(st.sessions, s)
	}
	return out
}

type retrieved struct {
	id, content string
	score       float64
}

type texts struct {
	prompt, answer       string
	toolArgs, toolResult string
	docs                 []retrieved
}

// render draws one trace's texts from the app's text stream.
func (g *Generator) render(st *appState, topic *topicDef, ii int, lang string, year int, casual bool, factor float64) texts {
	in := topic.intents[lang][ii]
	r := st.text
	b := &st.bind
	b.reset(r, lang, year)
	var tx texts

	pi := r.IntN(len(in.prompts))
	ai := r.IntN(len(in.answers))
	op := openers[lang][r.IntN(len(openers[lang]))]
	cl := closers[lang][r.IntN(len(closers[lang]))]
	ao := answerOpeners[lang][r.IntN(len(answerOpeners[lang]))]

	var sb strings.Builder
	sb.Grow(192)
	if op != "" {
		sb.WriteString(op)
		sb.WriteByte(' ')
	}
	bodyAt := sb.Len()
	in.prompts[pi].render(&sb, b)
	if cl != "" {
		sb.WriteByte(' ')
		sb.WriteString(cl)
	}
	tx.prompt = sb.String()
	if strings.HasSuffix(op, ",") {
		tx.prompt = tx.prompt[:bodyAt] + lowerFirst(tx.prompt[bodyAt:], lang)
	}
	if casual {
		tx.prompt = strings.ToLower(tx.prompt)
	}
	if in.tool != nil {
		tx.toolArgs = in.tool.args.string(b)
		tx.toolResult = in.tool.result.string(b)
	}
	sb = strings.Builder{}
	sb.Grow(448)
	if ao != "" {
		sb.WriteString(ao)
		sb.WriteByte(' ')
	}
	in.answers[ai].render(&sb, b)
	tx.answer = sb.String()

	// Lengths: TextBytes pads or trims to a fixed size, a length shift
	// multiplies the size by its factor.
	pt, at := len(tx.prompt), len(tx.answer)
	if tb := g.traffic.TextBytes; tb > 0 {
		pt = tb / 3
		at = tb - pt
	}
	pt, at = int(float64(pt)*factor), int(float64(at)*factor)
	exact := g.traffic.TextBytes > 0
	tx.prompt = fit(tx.prompt, pt, st.def.promptDetails[lang], b, exact)
	tx.answer = fit(tx.answer, at, st.def.answerDetails[lang], b, exact)

	// Retrieval: 2-4 documents, the topic's own first.
	k := 2 + r.IntN(3)
	start := r.IntN(len(topic.docs))
	for i := 0; i < k && i < len(topic.docs); i++ {
		d := topic.docs[(start+i)%len(topic.docs)]
		tx.docs = append(tx.docs, retrieved{id: d.id, content: d.content})
	}
	for tries := 0; len(tx.docs) < k && tries < 32; tries++ {
		other := st.def.topics[r.IntN(len(st.def.topics))]
		d := other.docs[r.IntN(len(other.docs))]
		if !slices.ContainsFunc(tx.docs, func(x retrieved) bool { return x.id == d.id }) {
			tx.docs = append(tx.docs, retrieved{id: d.id, content: d.content})
		}
	}
	score := 0.92 - 0.06*r.Float64()
	for i := range tx.docs {
		tx.docs[i].score = math.Round(score*1000) / 1000
		score -= 0.04 + 0.08*r.Float64()
	}
	return tx
}

// fit appends sentences from pool to s until it is at least target bytes
// long; with exact it then trims s to about target bytes at a word boundary.
func fit(s string, target int, pool []tmpl, b *binding, exact bool) string {
	if target <= 0 {
		return s
	}
	if len(s) < target && len(pool) > 0 {
		var sb strings.Builder
		sb.Grow(target + 160)
		sb.WriteString(s)
		// Walk the pool in a random order that visits every sentence
		// before repeating one: a random start and a step coprime with
		// the pool's size.
		n := len(pool)
		i := b.r.IntN(n)
		step := 1 + b.r.IntN(n)
		for gcd(step, n) != 1 {
			step++
		}
		for sb.Len() < target {
			sb.WriteByte(' ')
			pool[i%n].render(&sb, b)
			i += step
		}
		s = sb.String()
	}
	if exact && len(s) > target {
		cut := strings.LastIndexByte(s[:target], ' ')
		if cut < target/2 { // no space near the end: cut inside the word
			cut = target
			for cut > 0 && !utf8.RuneStart(s[cut]) {
				cut--
			}
		}
		s = s[:cut]
	}
	return s
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// germanLower are the sentence openings of the German corpus that lose
// their capital after "Hallo,"; nouns keep theirs.
var germanLower = []string{"Warum ", "Welche ", "Wie ", "Wo ", "Kann ", "Ich ", "Unterstützt ", "Die ", "Der ", "Das "}

// lowerFirst lower-cases the first letter of a sentence that follows
// "Hi," — except for "I" and its contractions, and German nouns.
func lowerFirst(s, lang string) string {
	if lang == "de" && !slices.ContainsFunc(germanLower, func(w string) bool { return strings.HasPrefix(s, w) }) {
		return s
	}
	prefix := ""
	if strings.HasPrefix(s, "¿") {
		prefix, s = "¿", s[len("¿"):]
	}
	r, size := utf8.DecodeRuneInString(s)
	if !unicode.IsUpper(r) || s == "I" || strings.HasPrefix(s, "I ") || strings.HasPrefix(s, "I'") {
		return prefix + s
	}
	if next, _ := utf8.DecodeRuneInString(s[size:]); !unicode.IsLower(next) {
		return prefix + s // an acronym or a code
	}
	return prefix + string(unicode.ToLower(r)) + s[size:]
}

func (g *Generator) feedback(tr *Trace, st *appState) {
	f := g.fb
	hasU, posU, labelU, commentU, commentIdxU, scoreU := f.Float64(), f.Float64(), f.Float64(), f.Float64(), f.Float64(), f.Float64()
	if hasU >= g.traffic.FeedbackRate {
		return
	}
	p := positiveBase
	if tr.Error != ErrNone {
		p = positiveOnError
	} else if tr.Shifted {
		p -= qualityPenalty[g.shift]
	}
	positive := posU < p
	var score float64
	var label string
	switch st.def.feedback {
	case feedbackRating:
		if positive {
			score = 4
			if scoreU < 0.6 {
				score = 5
			}
			label = "helpful"
		} else {
			score = float64(1 + min(int(scoreU*3), 2))
		}
	default:
		if positive {
			score = 1
			label = "thumbs_up"
		}
	}
	if !positive {
		switch {
		case tr.Error != ErrNone:
			label = "error"
		case tr.Shifted && g.shift == ShiftLength:
			label = "too_long"
		case tr.Shifted && g.shift == ShiftTopic:
			label = "wrong_answer"
		default:
			label = []string{"not_helpful", "wrong_answer", "incomplete"}[min(int(labelU*3), 2)]
		}
	}
	fb := &schemas.Feedback{
		ID:      "fb-" + tr.TraceIDHex(),
		TraceID: tr.TraceIDHex(),
		SpanID:  hex.EncodeToString(tr.Spans[0].SpanId),
		Score:   &score,
		Label:   label,
		Source:  "user",
		UserID:  tr.UserID,
		Time:    tr.End,
	}
	if commentU < commentShare {
		pool := commentsNegative
		if positive {
			pool = commentsPositive
		}
		l := pool[tr.Language]
		if len(l) == 0 {
			l = pool["en"]
		}
		fb.Comment = l[min(int(commentIdxU*float64(len(l))), len(l)-1)]
	}
	tr.Feedback = fb
}

// Request generates nTraces traces, all ending at now with no shift, packed
// into one export request: the fast path for benchmarks and load tests.
func (g *Generator) Request(now time.Time, nTraces int) *coltracepb.ExportTraceServiceRequest {
	traces := make([]*Trace, nTraces)
	for i := range traces {
		traces[i] = g.Next(now, false)
	}
	return g.Pack(traces)
}

// Pack puts traces made by g into one export request with one
// ResourceSpans per app, in order of the apps' first appearance.
func (g *Generator) Pack(traces []*Trace) *coltracepb.ExportTraceServiceRequest {
	req := &coltracepb.ExportTraceServiceRequest{}
	counts := make(map[*appState]int, len(g.apps))
	for _, t := range traces {
		counts[t.app] += len(t.Spans)
	}
	scopes := make(map[*appState]*tracepb.ScopeSpans, len(g.apps))
	for _, t := range traces {
		ss := scopes[t.app]
		if ss == nil {
			def := t.app.def
			ss = &tracepb.ScopeSpans{
				Scope: &commonpb.InstrumentationScope{Name: def.scope, Version: def.scopeVersion},
				Spans: make([]*tracepb.Span, 0, counts[t.app]),
			}
			scopes[t.app] = ss
			req.ResourceSpans = append(req.ResourceSpans, &tracepb.ResourceSpans{
				Resource:   g.resource(def),
				ScopeSpans: []*tracepb.ScopeSpans{ss},
				SchemaUrl:  "https://opentelemetry.io/schemas/1.37.0",
			})
		}
		ss.Spans = append(ss.Spans, t.Spans...)
	}
	return req
}

func (g *Generator) resource(def *appDef) *resourcepb.Resource {
	return &resourcepb.Resource{Attributes: []*commonpb.KeyValue{
		strKV("service.name", def.name),
		strKV("deployment.environment.name", g.traffic.Environment),
		strKV("telemetry.sdk.name", "opentelemetry"),
		strKV("telemetry.sdk.language", def.sdkLanguage),
		strKV("telemetry.sdk.version", "1.38.0"),
	}}
}
