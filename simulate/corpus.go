package simulate

import (
	"fmt"
	"slices"
)

// The built-in corpus: three apps, each with its chain, versions, dialect,
// topics and texts. Every topic has intents (a kind of question); an intent
// has prompt variants and answers that use only slots every prompt variant
// (or the tool call before the answer) binds, so answers fit their prompt.
// Base topics have English texts and a parallel set in the app's second
// language; novel topics (weight 0: absent until a topic shift) are English.

type dialect int

const (
	dialectSemconv       dialect = iota // OpenTelemetry GenAI semconv 1.37+
	dialectOpenLLMetry                  // Traceloop's indexed gen_ai.prompt.N.*
	dialectOpenInference                // Arize's input.value, llm.*
)

func (d dialect) String() string {
	switch d {
	case dialectSemconv:
		return "semconv"
	case dialectOpenLLMetry:
		return "openllmetry"
	case dialectOpenInference:
		return "openinference"
	}
	return "unknown"
}

type feedbackKind int

const (
	feedbackThumbs feedbackKind = iota // score 0 or 1
	feedbackRating                     // score 1 to 5
)

type chainVersion struct {
	chain, template      string
	model, responseModel string
	msPerToken           float64 // mean decode time per output token
	weight               float64
}

type toolDef struct {
	name, description string
	args, result      tmpl
}

type intent struct {
	prompts, answers []tmpl
	tool             *toolDef
}

type doc struct{ id, content string }

type topicDef struct {
	name    string
	weight  float64 // share among base topics; 0 for a novel topic
	docs    []doc
	intents map[string][]intent // by language
}

func (t *topicDef) novel() bool { return t.weight == 0 }

type appDef struct {
	name, chain, templateID string
	dialect                 dialect
	provider, server        string
	scope, scopeVersion     string
	sdkLanguage             string
	versions                []chainVersion
	system                  string // system instructions
	promptTemplate          string // the chain's prompt template text
	share                   float64
	language                string // second language, for ShiftLanguage
	feedback                feedbackKind
	retriever, guardrail    string
	dataSource              string
	users                   int
	topics                  []*topicDef
	promptDetails           map[string][]tmpl // extra sentences, by language
	answerDetails           map[string][]tmpl
}

type rawIntent struct {
	tool string
	p, a []string
}

type rawTopic struct {
	name   string
	weight float64
	docs   []string
	text   map[string][]rawIntent
}

var tools = map[string]*toolDef{
	"order_lookup": {
		name: "order_lookup", description: "Look up an order's status and carrier",
		args:   compile(`{"order_id":"{order}"}`),
		result: compile(`{"order_id":"{order}","status":"in_transit","carrier":"{carrier}","eta_days":{n}}`),
	},
	"flight_search": {
		name: "flight_search", description: "Search flight offers",
		args:   compile(`{"origin":"{city_code}","destination":"{city2_code}","date":"{date_iso}","passengers":{travellers}}`),
		result: compile(`{"count":{n},"offers":[{"airline":"{airline}","departure":"09:40","stops":0,"price_per_person":"{amount}"}]}`),
	},
	"hotel_search": {
		name: "hotel_search", description: "Search hotel availability",
		args:   compile(`{"city":"{city2_code}","check_in":"{date_iso}","nights":{nights},"guests":{travellers}}`),
		result: compile(`{"hotels":[{"name":"{hotel}","price_per_night":"{amount}","rating":4.{n},"free_cancellation":true}]}`),
	},
	"visa_requirements": {
		name: "visa_requirements", description: "Entry requirements by destination and passport",
		args:   compile(`{"destination":"{country_code}","passport":"{passport_code}"}`),
		result: compile(`{"destination":"{country_code}","passport":"{passport_code}","visa":"e-visa","max_stay_days":90,"processing_days":{days}}`),
	},
	"car_search": {
		name: "car_search", description: "Search rental cars",
		args:   compile(`{"city":"{city2_code}","pickup":"{date_iso}","days":{nights},"transmission":"automatic"}`),
		result: compile(`{"offers":[{"company":"Europcar","class":"compact","transmission":"automatic","total":"{amount}"}]}`),
	},
	"cruise_search": {
		name: "cruise_search", description: "Search cruises by port and date",
		args:   compile(`{"port":"{city_code}","around":"{date_iso}","passengers":{travellers}}`),
		result: compile(`{"count":{n},"cruises":[{"nights":7,"ports_of_call":4,"from_price":"{amount}"}]}`),
	},
	"insurance_quote": {
		name: "insurance_quote", description: "Quote travel insurance",
		args:   compile(`{"travellers":{travellers},"days":{nights},"cover":"standard"}`),
		result: compile(`{"premium":"{amount}","medical_cover":1000000,"cancellation":"trip value"}`),
	},
}

// Openers and closers vary the phrasing of prompts; answer openers vary the
// answers. Empty entries keep some texts bare.
var (
	openers = map[string][]string{
		"en": {"", "", "", "Hi,", "Hello,", "Hey,", "Hi there!", "Good morning.", "Quick question:"},
		"es": {"", "", "Hola,", "Buenos días.", "Hola, una pregunta:"},
		"fr": {"", "", "Bonjour,", "Salut,", "Bonjour, une question :"},
		"de": {"", "", "Hallo,", "Guten Tag,", "Hi, kurze Frage:"},
	}
	closers = map[string][]string{
		"en": {"", "", "", "Thanks!", "Thank you.", "Thanks in advance.", "Please help.", "Any idea?"},
		"es": {"", "", "¡Gracias!", "Gracias de antemano.", "Un saludo."},
		"fr": {"", "", "Merci !", "Merci d'avance.", "Cordialement."},
		"de": {"", "", "Danke!", "Vielen Dank im Voraus.", "Viele Grüße"},
	}
	answerOpeners = map[string][]string{
		"en": {"", "", "Sure!", "Happy to help.", "Thanks for reaching out.", "Good question."},
		"es": {"", "", "¡Claro!", "Con gusto te ayudo."},
		"fr": {"", "", "Bien sûr !", "Avec plaisir."},
		"de": {"", "", "Gern!", "Danke für die Frage."},
	}
	commentsPositive = map[string][]string{
		"en": {"Exactly what I needed, thanks!", "Quick and clear answer.", "That solved it.", "Very helpful."},
		"es": {"¡Justo lo que necesitaba, gracias!", "Respuesta rápida y clara."},
		"fr": {"Exactement ce qu'il me fallait, merci !", "Réponse rapide et claire."},
		"de": {"Genau das, was ich brauchte, danke!", "Schnelle und klare Antwort."},
	}
	commentsNegative = map[string][]string{
		"en": {"This didn't answer my question.", "The answer was wrong for my case.", "Too long, I just wanted a short answer.", "It took forever and then failed.", "I had to ask a human in the end."},
		"es": {"No respondió a mi pregunta.", "La respuesta no sirve para mi caso."},
		"fr": {"Cela ne répond pas à ma question.", "La réponse est fausse dans mon cas."},
		"de": {"Das hat meine Frage nicht beantwortet.", "Die Antwort passt nicht zu meinem Fall."},
	}
)

// apps is the built-in corpus, compiled once.
var apps = []*appDef{supportBot(), docsQA(), travelAgent()}

// AppNames lists the built-in apps.
func AppNames() []string {
	names := make([]string, len(apps))
	for i, a := range apps {
		names[i] = a.name
	}
	return names
}

func findApp(name string) *appDef {
	for _, a := range apps {
		if a.name == name {
			return a
		}
	}
	return nil
}

// compileTopics compiles raw topics and checks the corpus' invariants: every
// language of a topic has as many intents as English (they are parallel), and
// a tool named in English applies to that intent in every language.
func compileTopics(app string, raw []rawTopic) []*topicDef {
	out := make([]*topicDef, 0, len(raw))
	for _, rt := range raw {
		t := &topicDef{name: rt.name, weight: rt.weight, intents: map[string][]intent{}}
		for i, d := range rt.docs {
			t.docs = append(t.docs, doc{id: fmt.Sprintf("kb/%s/%s/%d", app, rt.name, i+1), content: d})
		}
		en := rt.text["en"]
		if len(en) == 0 {
			panic(fmt.Sprintf("simulate: %s/%s has no English texts", app, rt.name))
		}
		langs := make([]string, 0, len(rt.text))
		for l := range rt.text {
			langs = append(langs, l)
		}
		slices.Sort(langs)
		for _, l := range langs {
			ris := rt.text[l]
			if len(ris) != len(en) {
				panic(fmt.Sprintf("simulate: %s/%s: %d %s intents, %d English", app, rt.name, len(ris), l, len(en)))
			}
			for i, ri := range ris {
				in := intent{}
				if name := en[i].tool; name != "" {
					in.tool = tools[name]
					if in.tool == nil {
						panic(fmt.Sprintf("simulate: %s/%s: unknown tool %q", app, rt.name, name))
					}
				}
				for _, p := range ri.p {
					in.prompts = append(in.prompts, compile(p))
				}
				for _, a := range ri.a {
					in.answers = append(in.answers, compile(a))
				}
				t.intents[l] = append(t.intents[l], in)
			}
		}
		out = append(out, t)
	}
	return out
}

func compileDetails(raw map[string][]string) map[string][]tmpl {
	out := make(map[string][]tmpl, len(raw))
	for l, ss := range raw {
		for _, s := range ss {
			out[l] = append(out[l], compile(s))
		}
	}
	return out
}
