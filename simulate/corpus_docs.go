package simulate

// The docs-qa app of the built-in corpus (see corpus.go).

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
