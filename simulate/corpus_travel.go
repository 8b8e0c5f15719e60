package simulate

// The travel-agent app of the built-in corpus (see corpus.go).

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
