package detectors

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"gonum.org/v1/gonum/mat"
)

// The registry: every detector registers itself, next to its
// implementation, with its name, kind, the sample forms it reads, its
// parameters (defaults and validation), a one-line description and a run
// function of one uniform signature. `chainwatch detect`, its help, the
// monitor's feature/detector check and dispatch, and the README's table of
// detectors all come from here, so adding a detector is one file.

// Kind groups detectors by the question they answer and how they are run.
type Kind int

const (
	// Univariate detectors test each feature (column) separately and
	// correct across features, or report one distance per feature.
	Univariate Kind = iota + 1
	// Multivariate detectors compare the two samples as point clouds
	// (embeddings, several numeric features at once).
	Multivariate
	// Text detectors compare texts directly (term distributions).
	Text
	// Online detectors feed the current sample one instance at a time, as a
	// stream, against thresholds calibrated on the reference.
	Online
	// Context detectors also read a context per instance and test p(x | c).
	Context
)

func (k Kind) String() string {
	switch k {
	case Univariate:
		return "univariate"
	case Multivariate:
		return "multivariate"
	case Text:
		return "text"
	case Online:
		return "online"
	case Context:
		return "context"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Form is the shape of sample a detector reads.
type Form int

const (
	// Numeric: Sample.X, numeric features tested column by column.
	Numeric Form = iota + 1
	// Binary: Sample.X with 0/1 values (a rate per column).
	Binary
	// Categorical: Sample.Cells, category labels, rows × features.
	Categorical
	// Vectors: Sample.X, one multivariate instance (an embedding) per row.
	Vectors
	// Texts: Sample.Texts.
	Texts
)

func (f Form) String() string {
	switch f {
	case Numeric:
		return "numeric"
	case Binary:
		return "binary"
	case Categorical:
		return "categorical"
	case Vectors:
		return "vectors"
	case Texts:
		return "texts"
	}
	return fmt.Sprintf("Form(%d)", int(f))
}

// Sample is one side of a comparison, in the field its Form names.
type Sample struct {
	X     *mat.Dense // Numeric, Binary, Vectors: one row per instance
	Cells [][]string // Categorical: one row per instance
	Texts []string   // Texts
	// Context is the context of each instance (one numeric row per row of
	// the sample); only Context detectors read it.
	Context *mat.Dense
}

// Input is everything one run of a detector sees.
type Input struct {
	Form     Form // which field of Ref and Cur holds the data
	Ref, Cur Sample
	Params   Params // from Detector.ParseParams: every parameter present
	Seed     uint64
}

// Detector is one registered detector.
type Detector struct {
	Name string
	Kind Kind
	// Forms are the sample forms Run accepts; the first is what a caller
	// without other information (a numeric file) hands it.
	Forms  []Form
	Doc    string // the question it answers, one line (the README table and `chainwatch detect -h`)
	Params []Param
	Run    func(in Input) (Result, error)
}

// ParamType is the type of a parameter's value.
type ParamType int

const (
	Float  ParamType = iota + 1 // float64
	Int                         // int (written as an integer, or as 1e3)
	String                      // string, one of Param.Values when those are set
	Floats                      // []float64, comma-separated
)

// Param declares one parameter of a detector.
type Param struct {
	Name    string
	Type    ParamType
	Default any      // float64, int, string or []float64 (nil: empty), by Type
	Values  []string // String: the values allowed
	Doc     string
	// Check validates a parsed value of this parameter; its message names
	// the rule and the value given ("must be ≥ 2, got 0"), the caller adds
	// the parameter's name. Nil accepts any value of the type.
	Check func(v any) error
}

// DefaultString is the default as it would be written on a command line.
func (p Param) DefaultString() string { return formatValue(p.Default) }

func formatValue(v any) string {
	switch v := v.(type) {
	case float64:
		return strconv.FormatFloat(v, 'g', -1, 64)
	case int:
		return strconv.Itoa(v)
	case string:
		return v
	case []float64:
		s := make([]string, len(v))
		for i, f := range v {
			s[i] = strconv.FormatFloat(f, 'g', -1, 64)
		}
		return strings.Join(s, ",")
	case nil:
		return ""
	}
	return fmt.Sprint(v)
}

// Params are a detector's parsed parameters by name, every declared one
// present (defaults filled).
type Params map[string]any

// Float is a Float parameter's value. The accessors panic on a name the
// detector did not declare: that is a bug in its Run, which the registry
// test catches by running every detector.
func (p Params) Float(name string) float64 { return p[name].(float64) }

// Int is an Int parameter's value.
func (p Params) Int(name string) int { return p[name].(int) }

// String is a String parameter's value.
func (p Params) String(name string) string { return p[name].(string) }

// Floats is a Floats parameter's value (nil when empty).
func (p Params) Floats(name string) []float64 {
	v, ok := p[name]
	if !ok {
		panic(fmt.Sprintf("detectors: parameter %q is not declared", name))
	}
	f, _ := v.([]float64)
	return f
}

// ParamErrors lists what is wrong with a set of parameters, one
// "name: problem" per entry, sorted.
type ParamErrors []error

func (e ParamErrors) Error() string {
	s := make([]string, len(e))
	for i, err := range e {
		s[i] = err.Error()
	}
	return strings.Join(s, "; ")
}

// ParamNames lists the detector's parameter names, sorted.
func (d Detector) ParamNames() []string {
	out := make([]string, len(d.Params))
	for i, p := range d.Params {
		out[i] = p.Name
	}
	sort.Strings(out)
	return out
}

// ParseParams parses raw values (as written in YAML or on a command line)
// against the declared parameters, fills the defaults and validates every
// value. The error, a ParamErrors, names each unknown key, each value that
// does not parse and each that fails its check, with the value given.
func (d Detector) ParseParams(raw map[string]string) (Params, error) {
	out := make(Params, len(d.Params))
	var errs ParamErrors
	for k := range raw {
		if !slices.ContainsFunc(d.Params, func(p Param) bool { return p.Name == k }) {
			errs = append(errs, fmt.Errorf("%s: unknown for %s (known: %s)", k, d.Name, strings.Join(d.ParamNames(), ", ")))
		}
	}
	for _, p := range d.Params {
		v := p.Default
		if s, ok := raw[p.Name]; ok {
			var err error
			if v, err = parseValue(p, s); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", p.Name, err))
				continue
			}
		}
		if err := p.validate(v); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", p.Name, err))
			continue
		}
		out[p.Name] = v
	}
	if len(errs) > 0 {
		sort.Slice(errs, func(i, j int) bool { return errs[i].Error() < errs[j].Error() })
		return nil, errs
	}
	return out, nil
}

func parseValue(p Param, s string) (any, error) {
	switch p.Type {
	case Float:
		f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil {
			return nil, fmt.Errorf("%q is not a number", s)
		}
		return f, nil
	case Int:
		f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil {
			return nil, fmt.Errorf("%q is not a number", s)
		}
		if f != math.Trunc(f) || math.Abs(f) > 1<<53 {
			return nil, fmt.Errorf("%q is not an integer", s)
		}
		return int(f), nil
	case String:
		return strings.TrimSpace(s), nil
	case Floats:
		if strings.TrimSpace(s) == "" {
			return []float64(nil), nil
		}
		var out []float64
		for _, f := range strings.Split(s, ",") {
			v, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
			if err != nil {
				return nil, fmt.Errorf("%q is not a number or a comma-separated list of numbers", s)
			}
			out = append(out, v)
		}
		return out, nil
	}
	return nil, fmt.Errorf("parameter type %d is not known", p.Type)
}

// validate checks v's type against the declaration, then Values and Check.
func (p Param) validate(v any) error {
	ok := false
	switch p.Type {
	case Float:
		_, ok = v.(float64)
	case Int:
		_, ok = v.(int)
	case String:
		_, ok = v.(string)
	case Floats:
		_, ok = v.([]float64)
		ok = ok || v == nil
	}
	if !ok {
		return fmt.Errorf("value %v (%T) is not of the declared type", v, v)
	}
	if p.Values != nil && !slices.Contains(p.Values, v.(string)) {
		return fmt.Errorf("must be one of %s, got %q", strings.Join(p.Values, ", "), v)
	}
	if p.Check != nil {
		return p.Check(v)
	}
	return nil
}

// Detect runs the detector: it checks that in.Form is one it reads, fills
// the default parameters when in.Params is nil, and names the result after
// the detector.
func (d Detector) Detect(in Input) (Result, error) {
	if !slices.Contains(d.Forms, in.Form) {
		return Result{}, fmt.Errorf("%s reads %s samples, not %s", d.Name, formList(d.Forms), in.Form)
	}
	if in.Params == nil {
		p, err := d.ParseParams(nil)
		if err != nil {
			return Result{}, err
		}
		in.Params = p
	}
	r, err := d.Run(in)
	if err != nil {
		return Result{}, err
	}
	r.Detector = d.Name
	return r, nil
}

func formList(fs []Form) string {
	s := make([]string, len(fs))
	for i, f := range fs {
		s[i] = f.String()
	}
	return strings.Join(s, " or ")
}

var (
	registry  = map[string]Detector{}
	validName = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
)

// Register adds a detector; it is called from the init of the file that
// implements it. It panics on an invalid or duplicate registration (a
// programming error, caught by any test of the package).
func Register(d Detector) {
	switch {
	case !validName.MatchString(d.Name):
		panic(fmt.Sprintf("detectors: invalid detector name %q", d.Name))
	case registry[d.Name].Name != "":
		panic(fmt.Sprintf("detectors: %q registered twice", d.Name))
	case d.Run == nil || len(d.Forms) == 0 || d.Kind == 0 || d.Doc == "":
		panic(fmt.Sprintf("detectors: %q needs Kind, Forms, Doc and Run", d.Name))
	}
	seen := map[string]bool{}
	for _, p := range d.Params {
		if !validName.MatchString(p.Name) || seen[p.Name] {
			panic(fmt.Sprintf("detectors: %q: invalid or duplicate parameter %q", d.Name, p.Name))
		}
		seen[p.Name] = true
	}
	registry[d.Name] = d
}

// Lookup finds a registered detector by name.
func Lookup(name string) (Detector, bool) {
	d, ok := registry[name]
	return d, ok
}

// All lists the registered detectors, sorted by name.
func All() []Detector {
	out := make([]Detector, 0, len(registry))
	for _, d := range registry {
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Names lists the registered detectors' names, sorted.
func Names() []string {
	all := All()
	out := make([]string, len(all))
	for i, d := range all {
		out[i] = d.Name
	}
	return out
}

// Parameter constructors and checks shared by the registrations.

func floatParam(name string, def float64, doc string, check func(float64) error) Param {
	p := Param{Name: name, Type: Float, Default: def, Doc: doc}
	if check != nil {
		p.Check = func(v any) error { return check(v.(float64)) }
	}
	return p
}

func intParam(name string, def int, doc string, check func(int) error) Param {
	p := Param{Name: name, Type: Int, Default: def, Doc: doc}
	if check != nil {
		p.Check = func(v any) error { return check(v.(int)) }
	}
	return p
}

func enumParam(name, def, doc string, values ...string) Param {
	return Param{Name: name, Type: String, Default: def, Values: values, Doc: doc}
}

func floatsParam(name, doc string, check func([]float64) error) Param {
	p := Param{Name: name, Type: Floats, Default: []float64(nil), Doc: doc}
	if check != nil {
		p.Check = func(v any) error { f, _ := v.([]float64); return check(f) }
	}
	return p
}

// inUnitInterval: in (0, 1).
func inUnitInterval(v float64) error {
	if !(v > 0 && v < 1) {
		return fmt.Errorf("must be in (0, 1), got %v", v)
	}
	return nil
}

// positive: > 0 and finite.
func positive(v float64) error {
	if !(v > 0) || math.IsInf(v, 0) {
		return fmt.Errorf("must be > 0 and finite, got %v", v)
	}
	return nil
}

// nonNegative: ≥ 0 and finite (0 usually means "choose from the data").
func nonNegative(v float64) error {
	if !(v >= 0) || math.IsInf(v, 0) {
		return fmt.Errorf("must be ≥ 0 and finite, got %v", v)
	}
	return nil
}

// atLeast: an integer ≥ n.
func atLeast(n int) func(int) error {
	return func(v int) error {
		if v < n {
			return fmt.Errorf("must be ≥ %d, got %d", n, v)
		}
		return nil
	}
}

// The parameters most detectors share.

func pValParam() Param {
	return floatParam("p_val", DefaultPVal, "significance level", inUnitInterval)
}

func nPermutationsParam(def int) Param {
	return intParam("n_permutations", def, "permutations of the null", atLeast(1))
}

func correctionParam() Param {
	return enumParam("correction", CorrectionBonferroni, "multiple-test correction across features", CorrectionBonferroni, CorrectionFDR)
}

func thresholdParam() Param {
	return floatParam("threshold", 0, "drift iff some feature's distance is ≥ this; 0: no verdict", nonNegative)
}

func binsParam() Param {
	return intParam("bins", DefaultBins, "bins per feature", atLeast(2))
}

// errNoContext is what a Context detector answers without contexts.
var errNoContext = errors.New("needs the contexts of both samples (one numeric row per sample row)")
