package simulate

// The support-bot app of the built-in corpus (see corpus.go).

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
