package simulate

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
)

// Slots are the variable parts of the corpus' templates, written {name}. A
// slot is drawn at most once per trace, so a prompt and its answer (and the
// tool call between them) agree on the order number, the city, the price …
// List slots are parallel across languages: index i is the same thing in
// every language ("Lisbon", "Lisboa", "Lisbonne", "Lissabon").
const (
	sProduct = iota
	sPlan
	sAmount
	sDate
	sDateISO
	sOrder
	sEmail
	sDevice
	sCarrier
	sCountry
	sCountryCode
	sDays
	sN
	sYears
	sSection
	sSDKLang
	sSDKVersion
	sOS
	sEndpoint
	sStatus
	sSetting
	sNItems
	sCity
	sCityCode
	sCity2
	sCity2Code
	sPassport
	sPassportCode
	sAirline
	sTravellers
	sNights
	sHotelArea
	sHotel
	numSlots
)

var slotNames = [numSlots]string{
	sProduct: "product", sPlan: "plan", sAmount: "amount", sDate: "date",
	sDateISO: "date_iso", sOrder: "order", sEmail: "email", sDevice: "device",
	sCarrier: "carrier", sCountry: "country", sCountryCode: "country_code",
	sDays: "days", sN: "n", sYears: "years", sSection: "section",
	sSDKLang: "sdk_lang", sSDKVersion: "sdk_version", sOS: "os",
	sEndpoint: "endpoint", sStatus: "status", sSetting: "setting",
	sNItems: "n_items", sCity: "city", sCityCode: "city_code", sCity2: "city2",
	sCity2Code: "city2_code", sPassport: "passport", sPassportCode: "passport_code",
	sAirline: "airline", sTravellers: "travellers", sNights: "nights",
	sHotelArea: "hotel_area", sHotel: "hotel",
}

var slotIndex = func() map[string]int {
	m := make(map[string]int, numSlots)
	for i, n := range slotNames {
		if n == "" {
			panic(fmt.Sprintf("simulate: slot %d has no name", i))
		}
		m[n] = i
	}
	return m
}()

// Parallel lists: one entry per language, same length and order.
type plist map[string][]string

func (p plist) in(lang string) []string {
	if v, ok := p[lang]; ok {
		return v
	}
	return p["en"]
}

var (
	products = []string{"Acme Drive", "Acme Mail", "Acme Photos", "Acme Notes", "Acme VPN"}
	plans    = []string{"Basic", "Plus", "Pro", "Family", "Business"}
	prices   = []int{499, 999, 1250, 1999, 2900, 4900, 8900, 12900, 18900, 24500} // cents
	devices  = []string{"iPhone 15", "Pixel 8", "Galaxy S23", "MacBook Air", "Windows laptop", "iPad"}
	carriers = []string{"DHL", "UPS", "FedEx", "Correos", "La Poste"}
	first    = []string{"jane", "carlos", "amelie", "jonas", "priya", "tom", "lucia", "marc", "yuki", "omar"}
	last     = []string{"doe", "garcia", "martin", "schmidt", "patel", "smith", "rossi", "tanaka"}
	sdkLangs = []string{"Python", "Go", "TypeScript", "Java", "Ruby"}
	oses     = []string{"Ubuntu 22.04", "macOS 14", "Windows 11", "Debian 12", "Alpine 3.19"}
	endpts   = []string{"/v2/documents", "/v2/search", "/v2/collections", "/v2/webhooks", "/v2/users"}
	statuses = []string{"401", "403", "404", "429", "500", "502"}
	settings = []string{"timeout", "max_retries", "base_url", "log_level", "region"}
	airlines = []string{"TAP", "Lufthansa", "KLM", "Iberia", "Air France", "ANA"}
	hotels   = []string{"Hotel Aurora", "Casa Lumen", "The Meridian", "Parkview Suites", "Residenza Sole"}

	cityCodes = []string{"LIS", "BER", "HND", "JFK", "BCN", "FCO", "CDG", "BKK", "MEX", "AMS", "PRG", "IST"}
	cities    = plist{
		"en": {"Lisbon", "Berlin", "Tokyo", "New York", "Barcelona", "Rome", "Paris", "Bangkok", "Mexico City", "Amsterdam", "Prague", "Istanbul"},
		"es": {"Lisboa", "Berlín", "Tokio", "Nueva York", "Barcelona", "Roma", "París", "Bangkok", "Ciudad de México", "Ámsterdam", "Praga", "Estambul"},
		"fr": {"Lisbonne", "Berlin", "Tokyo", "New York", "Barcelone", "Rome", "Paris", "Bangkok", "Mexico", "Amsterdam", "Prague", "Istanbul"},
		"de": {"Lissabon", "Berlin", "Tokio", "New York", "Barcelona", "Rom", "Paris", "Bangkok", "Mexiko-Stadt", "Amsterdam", "Prag", "Istanbul"},
	}
	countryCodes = []string{"JP", "BR", "IN", "CA", "AU", "TH", "VN", "KE"}
	countries    = plist{
		"en": {"Japan", "Brazil", "India", "Canada", "Australia", "Thailand", "Vietnam", "Kenya"},
		"es": {"Japón", "Brasil", "India", "Canadá", "Australia", "Tailandia", "Vietnam", "Kenia"},
		"fr": {"le Japon", "le Brésil", "l'Inde", "le Canada", "l'Australie", "la Thaïlande", "le Vietnam", "le Kenya"},
		"de": {"Japan", "Brasilien", "Indien", "Kanada", "Australien", "Thailand", "Vietnam", "Kenia"},
	}
	passportCodes = []string{"US", "GB", "DE", "IN", "BR", "MX"}
	passports     = plist{
		"en": {"US", "UK", "German", "Indian", "Brazilian", "Mexican"},
		"fr": {"américain", "britannique", "allemand", "indien", "brésilien", "mexicain"},
	}
	hotelAreas = plist{
		"en": {"in the old town", "near the central station", "by the beach", "in the city centre"},
		"fr": {"dans la vieille ville", "près de la gare centrale", "près de la plage", "dans le centre-ville"},
	}
	sections = plist{
		"en": {"Billing & payments", "Account & security", "Orders & delivery"},
		"es": {"Facturación y pagos", "Cuenta y seguridad", "Pedidos y envíos"},
	}
	months = plist{
		"en": {"January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"},
		"es": {"enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto", "septiembre", "octubre", "noviembre", "diciembre"},
		"fr": {"janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre", "novembre", "décembre"},
		"de": {"Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September", "Oktober", "November", "Dezember"},
	}
)

// binding holds one trace's slot values, drawn lazily from the app's text
// stream.
type binding struct {
	r    *rand.Rand
	lang string
	year int
	val  [numSlots]string
	idx  [numSlots]int
	set  [numSlots]bool
	// day and month (0-based) of the trace's date slot, -1 until drawn.
	day, month int
}

func (b *binding) reset(r *rand.Rand, lang string, year int) {
	*b = binding{r: r, lang: lang, year: year, day: -1, month: -1}
}

func (b *binding) get(id int) string {
	if !b.set[id] {
		b.val[id] = b.draw(id)
		b.set[id] = true
	}
	return b.val[id]
}

// pickIndex draws an index into a list of n entries for slot id and keeps
// it, so that derived slots (city_code, country_code …) agree.
func (b *binding) pickIndex(id, n int) int {
	i := b.r.IntN(n)
	b.idx[id] = i
	return i
}

func (b *binding) index(id int) int {
	b.get(id)
	return b.idx[id]
}

func (b *binding) date() (day, month int) {
	if b.day < 0 {
		b.day = 1 + b.r.IntN(28)
		b.month = b.r.IntN(12)
	}
	return b.day, b.month
}

func (b *binding) draw(id int) string {
	r := b.r
	switch id {
	case sProduct:
		return products[r.IntN(len(products))]
	case sPlan:
		return plans[r.IntN(len(plans))]
	case sAmount:
		c := prices[r.IntN(len(prices))]
		if b.lang == "en" {
			return fmt.Sprintf("$%d.%02d", c/100, c%100)
		}
		return fmt.Sprintf("%d,%02d €", c/100, c%100)
	case sDate:
		d, m := b.date()
		name := months.in(b.lang)[m]
		switch b.lang {
		case "es":
			return fmt.Sprintf("%d de %s", d, name)
		case "fr":
			if d == 1 {
				return "1er " + name
			}
			return fmt.Sprintf("%d %s", d, name)
		case "de":
			return fmt.Sprintf("%d. %s", d, name)
		}
		return fmt.Sprintf("%s %d", name, d)
	case sDateISO:
		d, m := b.date()
		return fmt.Sprintf("%04d-%02d-%02d", b.year, m+1, d)
	case sOrder:
		return fmt.Sprintf("A%06d", r.IntN(1_000_000))
	case sEmail:
		return first[r.IntN(len(first))] + "." + last[r.IntN(len(last))] + "@example.com"
	case sDevice:
		return devices[r.IntN(len(devices))]
	case sCarrier:
		return carriers[r.IntN(len(carriers))]
	case sCountry:
		l := countries.in(b.lang)
		return l[b.pickIndex(id, len(l))]
	case sCountryCode:
		return countryCodes[b.index(sCountry)]
	case sDays:
		return strconv.Itoa(2 + r.IntN(13))
	case sN:
		return strconv.Itoa(2 + r.IntN(4))
	case sYears:
		return strconv.Itoa(1 + r.IntN(9))
	case sSection:
		l := sections.in(b.lang)
		return l[r.IntN(len(l))]
	case sSDKLang:
		return sdkLangs[r.IntN(len(sdkLangs))]
	case sSDKVersion:
		return fmt.Sprintf("2.%d.%d", r.IntN(10), r.IntN(20))
	case sOS:
		return oses[r.IntN(len(oses))]
	case sEndpoint:
		return endpts[r.IntN(len(endpts))]
	case sStatus:
		return statuses[r.IntN(len(statuses))]
	case sSetting:
		return settings[r.IntN(len(settings))]
	case sNItems:
		return strconv.Itoa(100 * (2 + r.IntN(199)))
	case sCity:
		l := cities.in(b.lang)
		return l[b.pickIndex(id, len(l))]
	case sCityCode:
		return cityCodes[b.index(sCity)]
	case sCity2:
		l := cities.in(b.lang)
		c := b.index(sCity)
		i := r.IntN(len(l) - 1)
		if i >= c { // any city but the origin
			i++
		}
		b.idx[id] = i
		return l[i]
	case sCity2Code:
		return cityCodes[b.index(sCity2)]
	case sPassport:
		l := passports.in(b.lang)
		return l[b.pickIndex(id, len(l))]
	case sPassportCode:
		return passportCodes[b.index(sPassport)]
	case sAirline:
		return airlines[r.IntN(len(airlines))]
	case sTravellers:
		return strconv.Itoa(1 + r.IntN(4))
	case sNights:
		return strconv.Itoa(2 + r.IntN(9))
	case sHotelArea:
		l := hotelAreas.in(b.lang)
		return l[r.IntN(len(l))]
	case sHotel:
		return hotels[r.IntN(len(hotels))]
	}
	panic(fmt.Sprintf("simulate: slot %d has no generator", id))
}

// tmpl is a compiled template: literal text and slots, alternating.
type tmpl []segment

type segment struct {
	lit  string
	slot int // -1 for a literal
}

// compile parses "{name}" slots. A brace not followed by a known slot name
// and "}" is literal text, so JSON templates work as they are.
func compile(s string) tmpl {
	var t tmpl
	lit := 0
	for i := 0; i < len(s); i++ {
		if s[i] != '{' {
			continue
		}
		j := i + 1
		for j < len(s) && (s[j] == '_' || s[j] >= 'a' && s[j] <= 'z' || s[j] >= '0' && s[j] <= '9') {
			j++
		}
		if j == i+1 || j >= len(s) || s[j] != '}' {
			continue
		}
		id, ok := slotIndex[s[i+1:j]]
		if !ok {
			panic(fmt.Sprintf("simulate: unknown slot {%s} in template %q", s[i+1:j], s))
		}
		if lit < i {
			t = append(t, segment{lit: s[lit:i], slot: -1})
		}
		t = append(t, segment{slot: id})
		lit = j + 1
		i = j
	}
	if lit < len(s) {
		t = append(t, segment{lit: s[lit:], slot: -1})
	}
	return t
}

func (t tmpl) render(sb *strings.Builder, b *binding) {
	for _, s := range t {
		if s.slot < 0 {
			sb.WriteString(s.lit)
		} else {
			sb.WriteString(b.get(s.slot))
		}
	}
}

func (t tmpl) string(b *binding) string {
	var sb strings.Builder
	t.render(&sb, b)
	return sb.String()
}

// slots lists the slot ids t uses.
func (t tmpl) slots() []int {
	var ids []int
	for _, s := range t {
		if s.slot >= 0 {
			ids = append(ids, s.slot)
		}
	}
	return ids
}
