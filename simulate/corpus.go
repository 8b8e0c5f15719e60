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

func supportBot() *appDef {
	a := &appDef{
		name: "support-bot", chain: "support-answer", templateID: "support-answer-prompt",
		dialect: dialectSemconv, provider: "openai", server: "api.openai.com",
		scope: "opentelemetry.instrumentation.openai_v2", scopeVersion: "2.1b0", sdkLanguage: "python",
		versions: []chainVersion{
			{chain: "4.2.0", template: "12", model: "gpt-4o-mini", responseModel: "gpt-4o-mini-2024-07-18", msPerToken: 9, weight: 0.85},
			{chain: "4.3.0-canary", template: "13", model: "gpt-4.1-mini", responseModel: "gpt-4.1-mini-2025-04-14", msPerToken: 10, weight: 0.15},
		},
		system: "You are Acme's customer support assistant. Answer in the user's language, briefly and politely, " +
			"using only the account data and help-centre articles provided. Never ask for passwords or full card numbers.",
		promptTemplate: "{system}\n\nHelp-centre articles:\n{context}\n\nCustomer: {question}",
		share:          0.45, language: "es", feedback: feedbackThumbs,
		retriever: "helpcenter-search", guardrail: "pii-filter", dataSource: "acme-helpcenter",
		users: 400,
	}
	a.topics = compileTopics(a.name, []rawTopic{{
		name: "billing", weight: 0.3,
		docs: []string{
			"Duplicate charges: a second charge of the same amount is usually a pending authorisation that the bank releases within 3-5 business days.",
			"Payment methods are managed under Settings → Billing → Payment methods; the default card is charged at renewal.",
			"Invoices: every payment has a PDF invoice under Settings → Billing → Invoices; company name and VAT number come from the billing profile.",
		},
		text: map[string][]rawIntent{
			"en": {
				{p: []string{
					"Why was I charged {amount} twice for my {plan} plan this month?",
					"I see two charges of {amount} on {date} for {product}. Can you refund one of them?",
					"There's a double charge of {amount} on my card, what happened?",
				}, a: []string{
					"I'm sorry for the confusion. One of the two {amount} charges is a pending authorisation; your bank releases it automatically within 3-5 business days. If both are still there after that, reply here and I'll open a refund request.",
					"Two charges of {amount} usually mean one of them is only an authorisation that was never captured. It disappears from your statement within 3-5 business days; if it doesn't, I'll refund it straight away.",
				}},
				{p: []string{
					"How do I change the credit card for my {plan} subscription?",
					"My card expired. Where can I update the payment method for my {plan} plan?",
				}, a: []string{
					"You can update your card under Settings → Billing → Payment methods: add the new card, make it the default and remove the old one. Your next {plan} renewal will be charged to the new card.",
				}},
				{p: []string{
					"Can I get an invoice for the {amount} payment on {date}?",
					"I need an invoice with my company's VAT number for the {amount} I paid on {date}.",
				}, a: []string{
					"Invoices are under Settings → Billing → Invoices, one PDF per payment, including the {amount} payment from {date}. Add your company name and VAT number in the billing profile first and the invoice is regenerated with them.",
				}},
			},
			"es": {
				{p: []string{
					"¿Por qué me cobrasteis {amount} dos veces por mi plan {plan} este mes?",
					"Veo dos cargos de {amount} del {date} por {product}. ¿Podéis devolverme uno?",
				}, a: []string{
					"Siento la confusión. Uno de los dos cargos de {amount} es una autorización pendiente; tu banco la libera automáticamente en 3 a 5 días hábiles. Si después de ese plazo siguen apareciendo los dos, respóndeme y abriré una solicitud de reembolso.",
				}},
				{p: []string{
					"¿Cómo cambio la tarjeta de crédito de mi suscripción {plan}?",
					"Mi tarjeta ha caducado. ¿Dónde actualizo el método de pago de mi plan {plan}?",
				}, a: []string{
					"Puedes cambiar la tarjeta en Ajustes → Facturación → Métodos de pago: añade la nueva, márcala como predeterminada y elimina la antigua. La próxima renovación de tu plan {plan} se cobrará en la nueva tarjeta.",
				}},
				{p: []string{
					"¿Me podéis enviar la factura del pago de {amount} del {date}?",
					"Necesito una factura con el NIF de mi empresa por los {amount} que pagué el {date}.",
				}, a: []string{
					"Las facturas están en Ajustes → Facturación → Facturas, un PDF por cada pago, incluido el de {amount} del {date}. Añade primero el nombre y el NIF de tu empresa en el perfil de facturación y la factura se generará de nuevo con esos datos.",
				}},
			},
		},
	}, {
		name: "password_reset", weight: 0.25,
		docs: []string{
			"Password reset emails are sent from no-reply@acme.example and can take up to 10 minutes; check the spam folder.",
			"Reset links are valid for 30 minutes and can be used once, on any device.",
			"Two-factor recovery: use a backup code, or request identity verification by email (up to 48 hours).",
		},
		text: map[string][]rawIntent{
			"en": {
				{p: []string{
					"I asked for a password reset for {email} but the email never arrived.",
					"The password reset email isn't coming to {email}. I already checked spam.",
				}, a: []string{
					"Reset emails can take up to 10 minutes. Please check that {email} is the address on your account and add no-reply@acme.example to your contacts. If it still doesn't arrive, I can send a one-time code to your phone instead.",
				}},
				{p: []string{
					"The password reset link says it has expired. What do I do now?",
					"I clicked the reset link on my {device} and it says the token is invalid.",
				}, a: []string{
					"Reset links are valid for 30 minutes and can be used only once. Request a new link from the sign-in page and open it straight away, without forwarding the email.",
					"That link has already expired or been used. Ask for a fresh one on the sign-in page and open it within 30 minutes; if you have several reset emails, only the newest link works.",
				}},
				{p: []string{
					"I lost my phone and can't get the two-factor code to log in to {product}.",
					"How do I get into {product} if I no longer have my authenticator app?",
				}, a: []string{
					"Use one of the backup codes you saved when you turned on two-factor authentication for {product}. If you don't have them, choose \"Can't use my authenticator\" on the sign-in page and we'll verify your identity by email; this takes up to 48 hours.",
				}},
			},
			"es": {
				{p: []string{
					"Pedí restablecer la contraseña para {email} pero el correo nunca llegó.",
					"No me llega el correo para restablecer la contraseña a {email}. Ya miré en spam.",
				}, a: []string{
					"Los correos de restablecimiento pueden tardar hasta 10 minutos. Comprueba que {email} es la dirección de tu cuenta y añade no-reply@acme.example a tus contactos. Si sigue sin llegar, puedo enviarte un código de un solo uso al móvil.",
				}},
				{p: []string{
					"El enlace para restablecer la contraseña dice que ha caducado. ¿Qué hago?",
					"Abrí el enlace de restablecimiento en mi {device} y dice que el token no es válido.",
				}, a: []string{
					"Los enlaces de restablecimiento valen 30 minutos y solo se pueden usar una vez. Pide un enlace nuevo desde la página de inicio de sesión y ábrelo enseguida, sin reenviar el correo.",
				}},
				{p: []string{
					"Perdí el móvil y no puedo recibir el código de doble factor para entrar en {product}.",
					"¿Cómo entro en {product} si ya no tengo la app de autenticación?",
				}, a: []string{
					"Usa uno de los códigos de respaldo que guardaste al activar la verificación en dos pasos de {product}. Si no los tienes, elige «No puedo usar mi autenticador» en la página de inicio de sesión y verificaremos tu identidad por correo; tarda hasta 48 horas.",
				}},
			},
		},
	}, {
		name: "shipping", weight: 0.25,
		docs: []string{
			"Order tracking: every order confirmation email contains the carrier's tracking link; scans update every few hours.",
			"Address changes are possible until an order ships; afterwards the carrier can redirect the parcel.",
			"International shipping: standard 5-10 business days, express 2-4; import duties are shown at checkout.",
		},
		text: map[string][]rawIntent{
			"en": {
				{tool: "order_lookup", p: []string{
					"Where is my order #{order}? It was supposed to arrive on {date}.",
					"My package #{order} has been 'in transit' for days. Any update?",
					"order {order} still not here, can you check?",
				}, a: []string{
					"Order #{order} has left our warehouse and is with {carrier}. The latest scan shows it at the local depot, so it should arrive within {n} business days. You can follow it with the tracking link in your confirmation email.",
				}},
				{tool: "order_lookup", p: []string{
					"Can I change the delivery address for order #{order}?",
					"I've moved. How do I get order #{order} sent to my new address?",
				}, a: []string{
					"Order #{order} is already with {carrier}, so the address can't be changed on our side any more. Please ask {carrier} to redirect the parcel using the tracking number in your confirmation email.",
				}},
				{p: []string{
					"Do you ship to {country}, and how long does it take?",
					"How long does delivery to {country} take?",
				}, a: []string{
					"Yes, we ship to {country}. Standard delivery takes 5-10 business days and express 2-4; any import duties are shown at checkout.",
				}},
			},
			"es": {
				{p: []string{
					"¿Dónde está mi pedido #{order}? Tenía que llegar el {date}.",
					"Mi paquete #{order} lleva días «en tránsito». ¿Alguna novedad?",
				}, a: []string{
					"El pedido #{order} ya salió de nuestro almacén y lo tiene {carrier}. El último escaneo lo sitúa en la oficina local, así que debería llegar en {n} días hábiles. Puedes seguirlo con el enlace del correo de confirmación.",
				}},
				{p: []string{
					"¿Puedo cambiar la dirección de entrega del pedido #{order}?",
					"Me he mudado. ¿Cómo hago para que el pedido #{order} llegue a mi nueva dirección?",
				}, a: []string{
					"El pedido #{order} ya está en manos de {carrier}, así que no podemos cambiar la dirección desde aquí. Pide a {carrier} que redirija el paquete con el número de seguimiento del correo de confirmación.",
				}},
				{p: []string{
					"¿Hacéis envíos a {country}? ¿Cuánto tardan?",
					"¿Cuánto tarda la entrega a {country}?",
				}, a: []string{
					"Sí, enviamos a {country}. El envío estándar tarda de 5 a 10 días hábiles y el exprés de 2 a 4; los posibles aranceles de importación se muestran al pagar.",
				}},
			},
		},
	}, {
		name: "refunds", weight: 0.2,
		docs: []string{
			"Refund window: payments can be refunded in full within 30 days; refunds reach the card in 5-10 business days.",
			"Returned orders are refunded once the carrier confirms the return.",
			"Annual plans: full refund within 30 days of purchase; afterwards cancelling stops the next renewal only.",
		},
		text: map[string][]rawIntent{
			"en": {
				{p: []string{
					"I'd like a refund for my {plan} plan. I was charged {amount} on {date} by mistake.",
					"Can I get my money back for {product}? I cancelled but was still charged {amount} on {date}.",
				}, a: []string{
					"I've checked your account: the {amount} charge from {date} is within the 30-day refund window, so I've submitted a full refund. It will show on your statement within 5-10 business days.",
				}},
				{tool: "order_lookup", p: []string{
					"When will I get the refund for order #{order}?",
					"It's been {days} days and the refund for order #{order} still hasn't arrived.",
				}, a: []string{
					"The refund for order #{order} was processed on our side once {carrier} confirmed the return. Banks usually need 5-10 business days to show it; if it hasn't appeared by then, send us a bank statement and we'll trace the payment.",
				}},
				{p: []string{
					"What is your refund policy for annual {plan} plans?",
					"If I cancel my annual {plan} plan now, do I get anything back?",
				}, a: []string{
					"Annual {plan} plans can be refunded in full within 30 days of purchase. After that, cancelling stops the next renewal and you keep access until the end of the paid year, but the remaining months aren't refunded.",
				}},
			},
			"es": {
				{p: []string{
					"Quiero que me devolváis el dinero de mi plan {plan}: me cobrasteis {amount} el {date} por error.",
					"¿Me podéis devolver el dinero de {product}? Cancelé y aun así me cobrasteis {amount} el {date}.",
				}, a: []string{
					"He revisado tu cuenta: el cargo de {amount} del {date} está dentro del plazo de reembolso de 30 días, así que he solicitado el reembolso completo. Aparecerá en tu extracto en 5 a 10 días hábiles.",
				}},
				{p: []string{
					"¿Cuándo recibiré el reembolso del pedido #{order}?",
					"Han pasado {days} días y el reembolso del pedido #{order} todavía no ha llegado.",
				}, a: []string{
					"El reembolso del pedido #{order} se procesó en cuanto {carrier} confirmó la devolución. Los bancos suelen tardar de 5 a 10 días hábiles en mostrarlo; si para entonces no aparece, envíanos un extracto bancario y rastrearemos el pago.",
				}},
				{p: []string{
					"¿Cuál es vuestra política de reembolso para los planes {plan} anuales?",
					"Si cancelo ahora mi plan {plan} anual, ¿me devolvéis algo?",
				}, a: []string{
					"Los planes {plan} anuales se reembolsan por completo dentro de los 30 días siguientes a la compra. Después, al cancelar se detiene la próxima renovación y mantienes el acceso hasta el final del año pagado, pero los meses restantes no se reembolsan.",
				}},
			},
		},
	}, {
		name: "account_deletion",
		docs: []string{
			"Deleting an account removes all files within 30 days and cancels any subscription immediately.",
		},
		text: map[string][]rawIntent{"en": {
			{p: []string{
				"How do I permanently delete my {product} account and all my data?",
				"Please close my account. I don't want to use {product} any more.",
			}, a: []string{
				"You can delete your account under Settings → Account → Delete account. Your files in {product} are removed within 30 days and any subscription is cancelled at once, so download anything you want to keep first.",
			}},
			{p: []string{
				"If I delete my account, is my {plan} subscription cancelled automatically?",
				"Will I still be charged for {plan} after I delete my account?",
			}, a: []string{
				"No further charges: deleting the account cancels the {plan} subscription immediately. The current billing period isn't refunded pro rata, but you can ask for a refund within 30 days of the last payment.",
			}},
		}},
	}, {
		name: "data_privacy",
		docs: []string{
			"Data export: Settings → Privacy → Download my data; ready within 48 hours.",
			"Security incidents are announced on the status page; affected users are emailed directly.",
		},
		text: map[string][]rawIntent{"en": {
			{p: []string{
				"What personal data does {product} store about me, and how do I get a copy?",
				"I want a GDPR export of everything you have on me.",
			}, a: []string{
				"You can request a full export under Settings → Privacy → Download my data; it's ready within 48 hours and contains your profile, files and billing history. The processors we share data with are listed in our privacy policy; we never sell personal data.",
			}},
			{p: []string{
				"Was my account affected by the data breach that was in the news?",
				"I got an email saying my {product} password was leaked. Is that real?",
			}, a: []string{
				"We have no evidence that your account was affected. As a precaution, change your password under Settings → Security, turn on two-factor authentication and be wary of emails asking for your credentials: we never ask for your password by email.",
			}},
		}},
	}})
	a.promptDetails = compileDetails(map[string][]string{
		"en": {
			"I have been a customer for {years} years and never had this problem before.",
			"I already tried logging out and back in, and restarting the app on my {device}.",
			"This is quite urgent because I need it for work tomorrow.",
			"My account email is {email}, in case you need it.",
			"I contacted support last week about this too but never got an answer.",
			"I'm on the {plan} plan, if that matters.",
			"I'd appreciate a quick reply, this is really frustrating.",
			"I'm writing from my {device}, so sorry for any typos.",
		},
		"es": {
			"Soy cliente desde hace {years} años y nunca había tenido este problema.",
			"Ya probé a cerrar sesión y volver a entrar, y a reiniciar la app en mi {device}.",
			"Es bastante urgente porque lo necesito para trabajar mañana.",
			"El correo de mi cuenta es {email}, por si lo necesitáis.",
			"La semana pasada ya escribí a soporte por esto y nadie me contestó.",
			"Tengo el plan {plan}, por si importa.",
			"Os agradecería una respuesta rápida, esto es muy frustrante.",
		},
	})
	a.answerDetails = compileDetails(map[string][]string{
		"en": {
			"If the problem persists, reply to this message and a human agent will take over the conversation.",
			"You can also find step-by-step instructions in our help centre under {section}.",
			"Please allow up to 24 hours for changes to show up everywhere in your account.",
			"For your security, we will never ask for your password or full card number in this chat.",
			"I've added a note to your account so that any agent who picks this up later has the full context.",
			"If you have other questions about {product}, just ask here and I'll do my best to help.",
			"Thanks for your patience while we sort this out.",
			"Our support team is available around the clock if you prefer to talk to a person.",
			"You'll receive a confirmation email as soon as the change has gone through.",
			"If you use the mobile app, make sure it is updated to the latest version first.",
		},
		"es": {
			"Si el problema continúa, responde a este mensaje y un agente humano se hará cargo de la conversación.",
			"También encontrarás instrucciones paso a paso en nuestro centro de ayuda, en la sección {section}.",
			"Los cambios pueden tardar hasta 24 horas en verse en toda tu cuenta.",
			"Por tu seguridad, nunca te pediremos la contraseña ni el número completo de la tarjeta en este chat.",
			"He añadido una nota a tu cuenta para que cualquier agente que lo revise después tenga todo el contexto.",
			"Si tienes otras preguntas sobre {product}, pregunta aquí y haré lo posible por ayudarte.",
			"Gracias por tu paciencia mientras lo solucionamos.",
			"Nuestro equipo de soporte está disponible las 24 horas si prefieres hablar con una persona.",
			"Recibirás un correo de confirmación en cuanto se haya aplicado el cambio.",
			"Si usas la app móvil, asegúrate primero de que está actualizada a la última versión.",
		},
	})
	return a
}

func docsQA() *appDef {
	a := &appDef{
		name: "docs-qa", chain: "docs-rag", templateID: "docs-rag-answer",
		dialect: dialectOpenInference, provider: "anthropic", server: "api.anthropic.com",
		scope: "openinference.instrumentation.llama_index", scopeVersion: "4.3.0", sdkLanguage: "python",
		versions: []chainVersion{
			{chain: "2.0.1", template: "7", model: "claude-3-5-haiku-latest", responseModel: "claude-3-5-haiku-20241022", msPerToken: 12, weight: 1},
		},
		system: "You are the Quill API documentation assistant. Answer developer questions using only the retrieved " +
			"documentation; name the relevant endpoints and options, and say so when the docs do not cover the question.",
		promptTemplate: "{system}\n\nDocumentation:\n{context}\n\nQuestion: {question}\nAnswer:",
		share:          0.35, language: "de", feedback: feedbackThumbs,
		retriever: "docs-vector-search", guardrail: "answer-grounding-check", dataSource: "quill-docs",
		users: 250,
	}
	a.topics = compileTopics(a.name, []rawTopic{{
		name: "api_usage", weight: 0.35,
		docs: []string{
			"Pagination: list endpoints take limit (max 100) and cursor; iterate until next_cursor is null.",
			"Errors: the body's error.code explains every 4xx and 5xx; 429 responses carry Retry-After.",
			"Rate limits: 50 requests per second per key, bursts to 100; see X-RateLimit-Remaining.",
		},
		text: map[string][]rawIntent{
			"en": {
				{p: []string{
					"How do I paginate through results from {endpoint}?",
					"{endpoint} only returns 100 items per call. How do I get all {n_items}?",
				}, a: []string{
					"{endpoint} uses cursor-based pagination. Pass limit (at most 100) and, from the second call on, the next_cursor of the previous response as cursor; stop when next_cursor is null. The SDKs wrap this in an iterator that fetches every page for you.",
				}},
				{p: []string{
					"Why does {endpoint} return HTTP {status}?",
					"I keep getting a {status} from {endpoint} with the {sdk_lang} SDK.",
				}, a: []string{
					"Why {endpoint} answers {status} is spelled out in the error.code field of the response body. The usual causes: 401 for a missing or revoked API key, 403 for a key without the needed scope, 404 for an unknown id, 429 when you exceed the rate limit (wait as long as Retry-After says) and 5xx for server errors, which are safe to retry with backoff.",
				}},
				{p: []string{
					"What is the rate limit for {endpoint}?",
					"How many requests per second can I send to {endpoint}?",
				}, a: []string{
					"{endpoint} allows 50 requests per second per API key, with bursts up to 100. Responses carry X-RateLimit-Remaining and X-RateLimit-Reset headers; when you hit the limit you get a 429 with Retry-After, and the official SDKs retry it for you.",
				}},
			},
			"de": {
				{p: []string{
					"Wie blättere ich durch die Ergebnisse von {endpoint}?",
					"{endpoint} liefert nur 100 Einträge pro Aufruf. Wie bekomme ich alle {n_items}?",
				}, a: []string{
					"{endpoint} verwendet Cursor-Paginierung. Übergib limit (höchstens 100) und ab dem zweiten Aufruf den Wert next_cursor der vorigen Antwort als cursor; hör auf, sobald next_cursor null ist. Die SDKs kapseln das in einem Iterator, der alle Seiten für dich abruft.",
				}},
				{p: []string{
					"Warum gibt {endpoint} HTTP {status} zurück?",
					"Ich bekomme mit dem {sdk_lang}-SDK ständig einen {status} von {endpoint}.",
				}, a: []string{
					"Warum {endpoint} mit {status} antwortet, steht im Feld error.code des Antwortkörpers. Typische Ursachen: 401 bei fehlendem oder widerrufenem API-Schlüssel, 403 bei einem Schlüssel ohne die nötige Berechtigung, 404 bei einer unbekannten ID, 429 bei überschrittenem Ratenlimit (warte so lange, wie Retry-After angibt) und 5xx bei Serverfehlern, die man mit Backoff wiederholen kann.",
				}},
				{p: []string{
					"Wie hoch ist das Ratenlimit für {endpoint}?",
					"Wie viele Anfragen pro Sekunde darf ich an {endpoint} schicken?",
				}, a: []string{
					"{endpoint} erlaubt 50 Anfragen pro Sekunde und API-Schlüssel, kurzzeitig bis zu 100. Die Header X-RateLimit-Remaining und X-RateLimit-Reset zeigen den Stand; beim Überschreiten kommt ein 429 mit Retry-After, den die offiziellen SDKs automatisch wiederholen.",
				}},
			},
		},
	}, {
		name: "installation", weight: 0.25,
		docs: []string{
			"Installation: the SDKs are published to each language's standard registry; pin versions for reproducible builds.",
			"Compatibility table: each SDK release supports the runtime versions still maintained upstream.",
		},
		text: map[string][]rawIntent{
			"en": {
				{p: []string{
					"How do I install the Quill {sdk_lang} SDK on {os}?",
					"Installing quill {sdk_version} for {sdk_lang} fails on {os} with a build error.",
				}, a: []string{
					"The Quill {sdk_lang} SDK is published to the standard package registry for {sdk_lang}, so install it with the usual package manager and pin the version if you need reproducible builds. On {os}, build errors almost always mean an outdated toolchain: check the supported runtime versions in the compatibility table and upgrade before retrying.",
				}},
				{p: []string{
					"Which {sdk_lang} versions does quill {sdk_version} support?",
					"Does the {sdk_lang} SDK {sdk_version} still support older runtimes?",
				}, a: []string{
					"Quill {sdk_version} for {sdk_lang} supports the runtime versions that are still maintained upstream; versions that reached end of life are dropped in the next minor release. The compatibility table in the installation guide lists the exact versions, and the changelog announces every drop in advance.",
				}},
			},
			"de": {
				{p: []string{
					"Wie installiere ich das Quill-SDK für {sdk_lang} unter {os}?",
					"Die Installation von quill {sdk_version} für {sdk_lang} bricht unter {os} mit einem Build-Fehler ab.",
				}, a: []string{
					"Das Quill-SDK für {sdk_lang} liegt in der üblichen Paketregistry für {sdk_lang}; installiere es mit dem gewohnten Paketmanager und pinne die Version, wenn du reproduzierbare Builds brauchst. Unter {os} bedeuten Build-Fehler fast immer eine veraltete Toolchain: Prüfe die unterstützten Laufzeitversionen in der Kompatibilitätstabelle und aktualisiere vor dem nächsten Versuch.",
				}},
				{p: []string{
					"Welche {sdk_lang}-Versionen unterstützt quill {sdk_version}?",
					"Unterstützt das {sdk_lang}-SDK {sdk_version} noch ältere Laufzeitversionen?",
				}, a: []string{
					"Quill {sdk_version} für {sdk_lang} unterstützt alle Laufzeitversionen, die upstream noch gepflegt werden; Versionen am Ende ihres Lebenszyklus fallen mit dem nächsten Minor-Release weg. Die genauen Versionen stehen in der Kompatibilitätstabelle der Installationsanleitung, und das Changelog kündigt jede Streichung vorher an.",
				}},
			},
		},
	}, {
		name: "configuration", weight: 0.2,
		docs: []string{
			"Client options can be set in code, in ~/.quill/config.yaml or through QUILL_* environment variables.",
			"Profiles: one per environment in config.yaml, selected with QUILL_PROFILE or --profile.",
		},
		text: map[string][]rawIntent{
			"en": {
				{p: []string{
					"How do I set the {setting} option in the {sdk_lang} client?",
					"Where do I configure {setting} for the Quill CLI?",
				}, a: []string{
					"Set {setting} when you create the client, or put it in ~/.quill/config.yaml under the client section. Environment variables prefixed with QUILL_ override the file, and explicit client options override both.",
				}},
				{p: []string{
					"How do I use different API keys for staging and production?",
					"Can I keep two Quill profiles, one per environment?",
				}, a: []string{
					"Define one profile per environment in ~/.quill/config.yaml, each with its own api_key and base_url, and choose one with QUILL_PROFILE=staging or the --profile flag. In CI, pass QUILL_API_KEY from the secret store rather than committing keys to a file.",
				}},
			},
			"de": {
				{p: []string{
					"Wie setze ich die Option {setting} im {sdk_lang}-Client?",
					"Wo konfiguriere ich {setting} für die Quill-CLI?",
				}, a: []string{
					"Setze {setting} beim Erzeugen des Clients oder trage es in ~/.quill/config.yaml im Abschnitt client ein. Umgebungsvariablen mit dem Präfix QUILL_ überschreiben die Datei, explizite Client-Optionen überschreiben beides.",
				}},
				{p: []string{
					"Wie verwende ich verschiedene API-Schlüssel für Staging und Produktion?",
					"Kann ich zwei Quill-Profile anlegen, eins pro Umgebung?",
				}, a: []string{
					"Lege in ~/.quill/config.yaml pro Umgebung ein Profil mit eigenem api_key und base_url an und wähle es mit QUILL_PROFILE=staging oder dem Flag --profile aus. In der CI übergibst du QUILL_API_KEY besser aus dem Secret-Store, statt Schlüssel in eine Datei einzuchecken.",
				}},
			},
		},
	}, {
		name: "troubleshooting", weight: 0.2,
		docs: []string{
			"Latency: p95 below 300 ms; reuse HTTP connections and request only the fields you need.",
			"TLS errors: update the system CA store, or point the SDK at a corporate CA bundle.",
		},
		text: map[string][]rawIntent{
			"en": {
				{p: []string{
					"Requests to {endpoint} take more than {n} seconds. Is that normal?",
					"{endpoint} got really slow since yesterday, around {n} seconds per call.",
				}, a: []string{
					"No, {endpoint} normally answers within 300 ms at the 95th percentile. Check the status page for an ongoing incident, make sure you reuse HTTP connections instead of opening one per call, and request only the fields you need; if it stays slow, send us the X-Request-Id of a slow call.",
				}},
				{p: []string{
					"I get 'certificate verify failed' with the {sdk_lang} SDK on {os}.",
					"SSL errors when calling the Quill API from {os}, what's wrong?",
				}, a: []string{
					"That error means the machine can't verify the certificate chain of api.quill.example. On {os}, update the system CA certificates; behind a corporate proxy that inspects TLS, point the SDK to your company's CA bundle instead of turning verification off.",
				}},
			},
			"de": {
				{p: []string{
					"Anfragen an {endpoint} dauern länger als {n} Sekunden. Ist das normal?",
					"{endpoint} ist seit gestern sehr langsam, etwa {n} Sekunden pro Aufruf.",
				}, a: []string{
					"Nein, {endpoint} antwortet im 95. Perzentil normalerweise in unter 300 ms. Prüfe die Statusseite auf einen laufenden Vorfall, verwende HTTP-Verbindungen wieder, statt für jeden Aufruf eine neue zu öffnen, und frage nur die Felder ab, die du brauchst; bleibt es langsam, schick uns die X-Request-Id eines langsamen Aufrufs.",
				}},
				{p: []string{
					"Ich bekomme mit dem {sdk_lang}-SDK unter {os} den Fehler 'certificate verify failed'.",
					"SSL-Fehler beim Aufruf der Quill-API unter {os} – was ist da los?",
				}, a: []string{
					"Der Fehler bedeutet, dass der Rechner die Zertifikatskette von api.quill.example nicht prüfen kann. Aktualisiere unter {os} die CA-Zertifikate des Systems; hinter einem Firmen-Proxy, der TLS aufbricht, gib dem SDK das CA-Bundle deiner Firma mit, statt die Prüfung abzuschalten.",
				}},
			},
		},
	}, {
		name: "migration",
		docs: []string{
			"API v1 is deprecated; it is switched off twelve months after the v2 release. The migration guide maps every field.",
			"SDK 2.x replaced the 1.x Client class with QuillClient; a codemod handles most renames.",
		},
		text: map[string][]rawIntent{"en": {
			{p: []string{
				"How do I migrate my integration from API v1 to v2 for {endpoint}?",
				"Is the v1 version of {endpoint} going to be shut down?",
			}, a: []string{
				"The v1 version of {endpoint} is deprecated and will be switched off twelve months after the v2 release. The migration guide maps every v1 field to v2: ids become strings, timestamps move to RFC 3339 and offset pagination is replaced by cursors. Run both in parallel behind a flag until your tests pass.",
			}},
			{p: []string{
				"Our {sdk_lang} code still uses the old Client class from quill 1.x. What changed in {sdk_version}?",
				"Upgrading the {sdk_lang} SDK to {sdk_version} broke our build.",
			}, a: []string{
				"Version {sdk_version} of the {sdk_lang} SDK removed the 1.x Client class in favour of QuillClient, made every call take an options object and renamed the list methods to iterate. The upgrade guide has a table of old and new names, and a codemod handles most renames automatically.",
			}},
		}},
	}, {
		name: "pricing",
		docs: []string{
			"Pricing: the first 1,000 calls a month are free; volume discounts from 100,000 calls; annual plans 15% off.",
			"Only 2xx responses are billed.",
		},
		text: map[string][]rawIntent{"en": {
			{p: []string{
				"How much would {n_items} API calls a month cost?",
				"What's the price of the Quill API for about {n_items} requests per month?",
			}, a: []string{
				"The first 1,000 calls each month are free; after that you pay per 1,000 calls, with volume discounts from 100,000. For about {n_items} calls a month the calculator on the pricing page gives the exact figure, and annual commitments get a further 15% off.",
			}},
			{p: []string{
				"Do failed requests count toward my API quota?",
				"Are 429 responses billed?",
			}, a: []string{
				"No. Only successful calls (2xx) count toward your quota and your bill; 4xx and 5xx responses, including 429, are free. The usage page shows billed and unbilled calls separately.",
			}},
		}},
	}})
	a.promptDetails = compileDetails(map[string][]string{
		"en": {
			"We are running this in production on {os} with about {n_items} requests a day.",
			"I'm using the {sdk_lang} SDK, version {sdk_version}.",
			"I already read the API reference but couldn't find a clear answer.",
			"For context, we have a worker pool of {n} processes sharing one client.",
			"It worked fine in staging, so I suspect something environment-specific.",
			"Our deadline is at the end of the week, so a pointer to the right docs page would help a lot.",
			"The same code works from my laptop but not from our CI runners.",
			"We upgraded from an older SDK release last month.",
		},
		"de": {
			"Wir betreiben das produktiv unter {os} mit etwa {n_items} Anfragen pro Tag.",
			"Ich verwende das {sdk_lang}-SDK in Version {sdk_version}.",
			"Die API-Referenz habe ich schon gelesen, aber keine klare Antwort gefunden.",
			"Zum Aufbau: ein Worker-Pool mit {n} Prozessen, die sich einen Client teilen.",
			"In der Staging-Umgebung lief alles, ich vermute also etwas Umgebungsspezifisches.",
			"Unsere Deadline ist Ende der Woche, ein Hinweis auf die richtige Doku-Seite würde sehr helfen.",
			"Derselbe Code funktioniert auf meinem Laptop, aber nicht auf unseren CI-Runnern.",
			"Wir haben letzten Monat von einer älteren SDK-Version aktualisiert.",
		},
	})
	a.answerDetails = compileDetails(map[string][]string{
		"en": {
			"The API reference lists every parameter of this endpoint together with an example request and response.",
			"If you use the {sdk_lang} SDK, turn on debug logging to see the exact requests it sends.",
			"Keep in mind that API keys are scoped per project, so a key from staging will not work against production.",
			"For long-running jobs, prefer webhooks over polling; they are cheaper and spare your rate limit.",
			"The changelog announces breaking changes at least 90 days in advance.",
			"If none of this helps, open a ticket with the X-Request-Id header of a failing call and we will trace it.",
			"Code samples for every SDK are in the examples folder of the corresponding repository.",
			"Staging and production share the same API surface, so the same code runs in both.",
			"If you are on an older SDK release, upgrading often fixes issues like this.",
			"You can test calls interactively in the API explorer without writing any code.",
		},
		"de": {
			"Die API-Referenz listet alle Parameter dieses Endpunkts zusammen mit einer Beispielanfrage und -antwort auf.",
			"Wenn du das {sdk_lang}-SDK verwendest, schalte das Debug-Logging ein, um die genauen Anfragen zu sehen.",
			"Beachte, dass API-Schlüssel pro Projekt gelten; ein Schlüssel aus Staging funktioniert nicht in Produktion.",
			"Für lang laufende Jobs sind Webhooks besser als Polling: günstiger und schonender für dein Ratenlimit.",
			"Das Changelog kündigt inkompatible Änderungen mindestens 90 Tage im Voraus an.",
			"Wenn nichts davon hilft, eröffne ein Ticket mit dem Header X-Request-Id eines fehlgeschlagenen Aufrufs, dann verfolgen wir ihn.",
			"Codebeispiele für jedes SDK findest du im Ordner examples des jeweiligen Repositorys.",
			"Staging und Produktion haben dieselbe API, derselbe Code läuft also in beiden.",
			"Wenn du eine ältere SDK-Version nutzt, behebt ein Upgrade solche Probleme oft.",
			"Im API-Explorer kannst du Aufrufe interaktiv testen, ohne Code zu schreiben.",
		},
	})
	return a
}

func travelAgent() *appDef {
	a := &appDef{
		name: "travel-agent", chain: "trip-planner", templateID: "trip-planner-answer",
		dialect: dialectOpenLLMetry, provider: "openai", server: "api.openai.com",
		scope: "opentelemetry.instrumentation.openai.v1", scopeVersion: "0.40.7", sdkLanguage: "python",
		versions: []chainVersion{
			{chain: "1.4.0", template: "3", model: "gpt-4o", responseModel: "gpt-4o-2024-08-06", msPerToken: 18, weight: 0.7},
			{chain: "1.5.0", template: "4", model: "gpt-4o-mini", responseModel: "gpt-4o-mini-2024-07-18", msPerToken: 9, weight: 0.3},
		},
		system: "You are Wayfarer's travel planning assistant. Use the search tools for live prices and availability, " +
			"quote prices in the user's currency and always confirm before booking anything.",
		promptTemplate: "{system}\n\nTravel policies:\n{context}\n\nTool results:\n{tool_result}\n\nTraveller: {question}",
		share:          0.2, language: "fr", feedback: feedbackRating,
		retriever: "policy-search", guardrail: "booking-safety-check", dataSource: "wayfarer-policies",
		users: 300,
	}
	a.topics = compileTopics(a.name, []rawTopic{{
		name: "flights", weight: 0.35,
		docs: []string{
			"Holds: flight offers can be held for 24 hours free of charge.",
			"Baggage: light fares include a cabin bag only; standard fares add one 23 kg bag.",
			"Fares are quoted per person including taxes.",
		},
		text: map[string][]rawIntent{
			"en": {
				{tool: "flight_search", p: []string{
					"Find me a flight from {city} to {city2} on {date} for {travellers} people.",
					"What's the cheapest flight from {city} to {city2} around {date}? We are {travellers}.",
					"flights {city} to {city2} on {date}, {travellers} adults",
				}, a: []string{
					"I found {n} options from {city} to {city2} on {date}. The best value is a direct {airline} flight leaving at 09:40 for {amount} per person; a connecting flight is slightly cheaper but takes four hours longer. Shall I hold {travellers} seats on the {airline} flight?",
				}},
				{p: []string{
					"How much checked baggage is included on {airline} to {city2}?",
					"Can I bring a second suitcase on my {airline} flight to {city2}?",
				}, a: []string{
					"On the {airline} flight to {city2}, light fares include only a cabin bag; standard fares add one 23 kg checked bag. A second suitcase costs about {amount} when added online before check-in, more at the airport.",
				}},
			},
			"fr": {
				{p: []string{
					"Trouve-moi un vol de {city} à {city2} le {date} pour {travellers} personnes.",
					"Quel est le vol le moins cher de {city} à {city2} autour du {date} ? Nous sommes {travellers}.",
				}, a: []string{
					"J'ai trouvé {n} options de {city} à {city2} le {date}. Le meilleur rapport qualité-prix est un vol direct {airline} à 9 h 40 pour {amount} par personne ; un vol avec escale est un peu moins cher mais dure quatre heures de plus. Voulez-vous que je bloque {travellers} places sur le vol {airline} ?",
				}},
				{p: []string{
					"Combien de bagages en soute sont inclus sur {airline} pour {city2} ?",
					"Puis-je prendre une deuxième valise sur mon vol {airline} pour {city2} ?",
				}, a: []string{
					"Sur le vol {airline} pour {city2}, les tarifs « light » n'incluent qu'un bagage cabine ; les tarifs standard ajoutent un bagage en soute de 23 kg. Une deuxième valise coûte environ {amount} si vous l'ajoutez en ligne avant l'enregistrement, davantage à l'aéroport.",
				}},
			},
		},
	}, {
		name: "hotels", weight: 0.3,
		docs: []string{
			"Hotel bookings: free cancellation until 48 hours before check-in unless the rate says otherwise.",
			"Ratings are guest averages over the last 12 months.",
		},
		text: map[string][]rawIntent{
			"en": {
				{tool: "hotel_search", p: []string{
					"Book me a hotel in {city2} {hotel_area} for {nights} nights from {date}.",
					"I need a hotel in {city2} for {travellers} guests, {nights} nights from {date}, under {amount} a night.",
				}, a: []string{
					"Here is what's available in {city2} for {nights} nights from {date}: {hotel} is the best match at {amount} per night, rated 4.{n} by guests, with free cancellation until 48 hours before arrival. Shall I book it?",
				}},
				{p: []string{
					"Can I cancel my hotel booking in {city2} for free?",
					"I need to move my hotel reservation in {city2} to {date}.",
				}, a: []string{
					"Your booking in {city2} has free cancellation until 48 hours before check-in; after that the first night is charged. If you'd rather change the dates, I can check availability for the new ones before cancelling anything.",
				}},
			},
			"fr": {
				{p: []string{
					"Réserve-moi un hôtel à {city2} {hotel_area} pour {nights} nuits à partir du {date}.",
					"Il me faut un hôtel à {city2} pour {travellers} personnes, {nights} nuits à partir du {date}, à moins de {amount} la nuit.",
				}, a: []string{
					"Voici ce qui est disponible à {city2} pour {nights} nuits à partir du {date} : {hotel} est le meilleur choix à {amount} la nuit, noté 4,{n} par les clients, avec annulation gratuite jusqu'à 48 heures avant l'arrivée. Voulez-vous que je le réserve ?",
				}},
				{p: []string{
					"Puis-je annuler gratuitement ma réservation d'hôtel à {city2} ?",
					"Je dois décaler ma réservation d'hôtel à {city2} au {date}.",
				}, a: []string{
					"Votre réservation à {city2} est annulable gratuitement jusqu'à 48 heures avant l'arrivée ; au-delà, la première nuit est facturée. Si vous préférez changer de dates, je peux d'abord vérifier les disponibilités avant d'annuler quoi que ce soit.",
				}},
			},
		},
	}, {
		name: "visas", weight: 0.2,
		docs: []string{
			"Entry rules change often; always confirm on the destination government's official site.",
			"Passports should be valid for six months after arrival for most destinations.",
		},
		text: map[string][]rawIntent{
			"en": {
				{tool: "visa_requirements", p: []string{
					"Do I need a visa to travel to {country} with a {passport} passport?",
					"I have a {passport} passport. What do I need to enter {country} as a tourist?",
				}, a: []string{
					"With a {passport} passport you need an e-visa for tourist stays in {country}. Apply online at least {days} days before departure; it's usually approved within a few days and allows stays of up to 90 days. Your passport must be valid for six months after arrival, and rules change, so check the official government site before you travel.",
				}},
				{p: []string{
					"How long does a tourist visa for {country} take to process?",
					"Is it too late to apply for a visa for {country} if I leave on {date}?",
				}, a: []string{
					"Tourist visas for {country} usually take {days} business days to process, and expedited processing is available for a fee. If your departure is close, apply today and keep the application reference; I'd also avoid non-refundable bookings until the visa is approved.",
				}},
			},
			"fr": {
				{p: []string{
					"Ai-je besoin d'un visa pour {country} avec un passeport {passport} ?",
					"J'ai un passeport {passport}. Quelles sont les formalités d'entrée pour {country} ?",
				}, a: []string{
					"Pour {country}, avec un passeport {passport}, un visa électronique est nécessaire pour un séjour touristique. Faites la demande en ligne au moins {days} jours avant le départ ; elle est généralement acceptée en quelques jours et permet un séjour de 90 jours maximum. Votre passeport doit être valide six mois après l'arrivée, et les règles changent : vérifiez le site officiel du gouvernement avant de partir.",
				}},
				{p: []string{
					"Combien de temps faut-il pour obtenir un visa touristique pour {country} ?",
					"Est-il trop tard pour demander un visa pour {country} si je pars le {date} ?",
				}, a: []string{
					"Un visa touristique pour {country} est généralement traité en {days} jours ouvrés, et une procédure accélérée existe moyennant un supplément. Si votre départ est proche, faites la demande dès aujourd'hui et gardez la référence du dossier ; évitez aussi les réservations non remboursables tant que le visa n'est pas accordé.",
				}},
			},
		},
	}, {
		name: "car_rental", weight: 0.15,
		docs: []string{
			"Car rental: bring a driving licence and a credit card in the driver's name.",
			"International driving permits are recommended outside the licence's home region.",
		},
		text: map[string][]rawIntent{
			"en": {
				{tool: "car_search", p: []string{
					"Rent me a car in {city2} from {date} for {nights} days.",
					"I need a rental car at {city2} airport on {date} for {nights} days, automatic if possible.",
				}, a: []string{
					"The best offer in {city2} from {date} for {nights} days is a compact automatic for {amount} in total, with unlimited mileage and basic insurance included. Pick-up is at the airport desk; bring your driving licence and a credit card in the driver's name.",
				}},
				{p: []string{
					"Do I need an international driving permit to rent a car in {city2}?",
					"Can I drive in {city2} with my {passport} licence?",
				}, a: []string{
					"In {city2}, rental companies usually accept a licence in Latin script for stays under 90 days, but an international driving permit is strongly recommended and some agencies require it. It's cheap and quick to get from your national automobile club before you leave.",
				}},
			},
			"fr": {
				{p: []string{
					"Loue-moi une voiture à {city2} à partir du {date} pour {nights} jours.",
					"Il me faut une voiture de location à l'aéroport de {city2} le {date} pour {nights} jours, automatique si possible.",
				}, a: []string{
					"La meilleure offre à {city2} à partir du {date} pour {nights} jours est une compacte automatique à {amount} au total, kilométrage illimité et assurance de base compris. La prise en charge se fait au comptoir de l'aéroport ; apportez votre permis et une carte de crédit au nom du conducteur.",
				}},
				{p: []string{
					"Ai-je besoin d'un permis de conduire international pour louer une voiture à {city2} ?",
					"Puis-je conduire à {city2} avec mon permis {passport} ?",
				}, a: []string{
					"À {city2}, les loueurs acceptent généralement un permis en alphabet latin pour les séjours de moins de 90 jours, mais le permis international est vivement conseillé et certaines agences l'exigent. Il s'obtient rapidement et à petit prix avant le départ.",
				}},
			},
		},
	}, {
		name: "cruises",
		docs: []string{
			"Cruise prices are per person in an inside cabin; port taxes and gratuities are extra.",
		},
		text: map[string][]rawIntent{"en": {
			{tool: "cruise_search", p: []string{
				"Find me a cruise leaving from {city} around {date} for {travellers} people.",
				"Are there any cruises from {city} around {date}? We'd be {travellers}.",
			}, a: []string{
				"I found {n} cruises leaving {city} around {date}. The best fit is a 7-night itinerary with four ports of call from {amount} per person in an inside cabin; balcony cabins cost about 40% more, and port taxes and gratuities are extra. Shall I reserve {travellers} places?",
			}},
			{p: []string{
				"What should I pack for a {nights}-night cruise?",
				"Is a {nights}-night cruise a good idea with small kids?",
			}, a: []string{
				"For a {nights}-night cruise, pack light layers, one smart outfit for the formal dinner, sunscreen, motion-sickness tablets and a small day bag for shore excursions. Most ships run kids' clubs from age 3, and cabins with a connecting door make longer trips with children easier.",
			}},
		}},
	}, {
		name: "travel_insurance",
		docs: []string{
			"Travel insurance covers cancellation for covered reasons, medical treatment abroad, lost baggage and long delays.",
		},
		text: map[string][]rawIntent{"en": {
			{p: []string{
				"Do I need travel insurance for my trip to {country}?",
				"What does travel insurance cover if my flight to {city2} is cancelled?",
			}, a: []string{
				"Travel insurance is worth it for long-haul trips: a good policy covers cancellation for covered reasons, medical treatment abroad including evacuation, lost baggage and delays over six hours. Check the exclusions for pre-existing conditions and adventure sports, and compare it with the cover your credit card already includes.",
			}},
			{tool: "insurance_quote", p: []string{
				"How much does travel insurance cost for {travellers} people for {nights} days?",
				"Is travel insurance for {nights} days with {travellers} travellers expensive?",
			}, a: []string{
				"For {travellers} travellers and {nights} days, a standard policy with medical cover up to 1 million and cancellation cover up to the trip value comes to {amount}. That is typically 4-8% of the trip price; shall I add it to your booking?",
			}},
		}},
	}})
	a.promptDetails = compileDetails(map[string][]string{
		"en": {
			"We are travelling as {travellers}, including a child.",
			"Our budget is flexible but we'd prefer to stay under {amount} per person.",
			"I have {airline} frequent flyer status, if that helps.",
			"We'd like to avoid very early departures if possible.",
			"It's for our anniversary, so something a bit special would be nice.",
			"I booked through you last year and it went smoothly.",
			"We are flexible by a day or two either way.",
			"My partner needs step-free access, so please keep that in mind.",
		},
		"fr": {
			"Nous voyageons à {travellers}, dont un enfant.",
			"Notre budget est souple, mais nous préférerions rester sous {amount} par personne.",
			"J'ai le statut grand voyageur chez {airline}, si cela peut aider.",
			"Nous aimerions éviter les départs très matinaux si possible.",
			"C'est pour notre anniversaire de mariage, alors quelque chose d'un peu spécial serait bienvenu.",
			"J'ai déjà réservé avec vous l'an dernier et tout s'est bien passé.",
			"Nous sommes flexibles d'un ou deux jours.",
			"Mon conjoint a besoin d'un accès sans marches, merci d'en tenir compte.",
		},
	})
	a.answerDetails = compileDetails(map[string][]string{
		"en": {
			"Prices change quickly, so I can hold this option for 24 hours at no cost.",
			"All times are local, and I've added the booking reference to your trip overview.",
			"If you'd like, I can also look for travel insurance and airport transfers.",
			"Remember to check the entry requirements for your passport before you travel.",
			"I'll send you a reminder with all the details 48 hours before departure.",
			"Let me know if you prefer a different date or a more flexible fare.",
			"Your loyalty number is saved on your profile, so miles are credited automatically.",
			"Payment is only taken once you confirm; until then nothing is booked.",
			"I can split the cost between several cards if that makes things easier.",
			"Local public holidays around those dates may make things busier, so booking early is wise.",
		},
		"fr": {
			"Les prix changent vite : je peux bloquer cette option 24 heures sans frais.",
			"Tous les horaires sont en heure locale, et j'ai ajouté la référence de réservation à votre voyage.",
			"Si vous le souhaitez, je peux aussi chercher une assurance voyage et des transferts aéroport.",
			"Pensez à vérifier les conditions d'entrée pour votre passeport avant le départ.",
			"Je vous enverrai un rappel avec tous les détails 48 heures avant le départ.",
			"Dites-moi si vous préférez une autre date ou un tarif plus flexible.",
			"Votre numéro de fidélité est enregistré dans votre profil : les miles sont crédités automatiquement.",
			"Le paiement n'est débité qu'après votre confirmation ; d'ici là, rien n'est réservé.",
			"Je peux répartir le montant sur plusieurs cartes si cela vous arrange.",
			"Les jours fériés locaux autour de ces dates peuvent entraîner de l'affluence : mieux vaut réserver tôt.",
		},
	})
	return a
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
