package evaluators

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Schema is a compiled JSON Schema in the small subset structured outputs
// need. Supported keywords:
//
//	type                     a name or a list of names: object, array, string,
//	                         number, integer (a whole number, 1.0 included), boolean, null
//	enum, const              compared as JSON values (1 equals 1.0)
//	properties, required,    objects; additionalProperties only as a boolean
//	additionalProperties
//	items                    one schema for every element (not the tuple form)
//	minItems, maxItems       arrays
//	minLength, maxLength     strings, counted in Unicode code points
//	pattern                  strings, RE2 syntax, unanchored as in JSON Schema
//	minimum, maximum,        numbers; exclusive* as numbers (draft 6 and later)
//	exclusiveMinimum, exclusiveMaximum
//
// Annotations ($schema, $id, $comment, title, description, default,
// examples, format) are accepted and ignored; any other keyword ($ref,
// anyOf, oneOf, allOf, not, patternProperties, …) makes CompileSchema fail
// rather than be silently unenforced.
type Schema struct {
	types                      []string
	enum                       []any
	properties                 map[string]*Schema
	required                   []string
	additional                 *bool
	items                      *Schema
	minItems, maxItems         *int
	minLength, maxLength       *int
	pattern                    *regexp.Regexp
	minimum, maximum           *float64
	exclusiveMin, exclusiveMax *float64
}

var schemaAnnotations = map[string]bool{"$schema": true, "$id": true, "$comment": true, "title": true,
	"description": true, "default": true, "examples": true, "format": true}

var schemaTypes = []string{"object", "array", "string", "number", "integer", "boolean", "null"}

// CompileSchema parses a JSON Schema document in the supported subset.
func CompileSchema(doc []byte) (*Schema, error) {
	var v any
	dec := json.NewDecoder(strings.NewReader(string(doc)))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("parsing JSON schema: %w", err)
	}
	s, err := compileSchema(v, "#")
	if err != nil {
		return nil, fmt.Errorf("compiling JSON schema: %w", err)
	}
	return s, nil
}

func compileSchema(v any, path string) (*Schema, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s: a schema must be an object", path)
	}
	s := &Schema{}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	intKw := func(k string, val any) (*int, error) {
		n, ok := val.(json.Number)
		i, err := strconv.Atoi(string(n))
		if !ok || err != nil || i < 0 {
			return nil, fmt.Errorf("%s/%s must be a non-negative integer", path, k)
		}
		return &i, nil
	}
	numKw := func(k string, val any) (*float64, error) {
		n, ok := val.(json.Number)
		f, err := n.Float64()
		if !ok || err != nil {
			return nil, fmt.Errorf("%s/%s must be a number", path, k)
		}
		return &f, nil
	}
	var err error
	for _, k := range keys {
		val := m[k]
		switch k {
		case "type":
			switch t := val.(type) {
			case string:
				s.types = []string{t}
			case []any:
				for _, e := range t {
					str, ok := e.(string)
					if !ok {
						return nil, fmt.Errorf("%s/type must hold strings", path)
					}
					s.types = append(s.types, str)
				}
			default:
				return nil, fmt.Errorf("%s/type must be a string or a list of strings", path)
			}
			for _, t := range s.types {
				if !slices.Contains(schemaTypes, t) {
					return nil, fmt.Errorf("%s/type: unknown type %q", path, t)
				}
			}
		case "enum":
			e, ok := val.([]any)
			if !ok {
				return nil, fmt.Errorf("%s/enum must be an array", path)
			}
			s.enum = e
		case "const":
			s.enum = []any{val}
		case "properties":
			pm, ok := val.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("%s/properties must be an object", path)
			}
			s.properties = make(map[string]*Schema, len(pm))
			for name, sub := range pm {
				if s.properties[name], err = compileSchema(sub, path+"/properties/"+name); err != nil {
					return nil, err
				}
			}
		case "required":
			r, ok := val.([]any)
			if !ok {
				return nil, fmt.Errorf("%s/required must be an array of strings", path)
			}
			for _, e := range r {
				str, ok := e.(string)
				if !ok {
					return nil, fmt.Errorf("%s/required must be an array of strings", path)
				}
				s.required = append(s.required, str)
			}
		case "additionalProperties":
			b, ok := val.(bool)
			if !ok {
				return nil, fmt.Errorf("%s/additionalProperties: only true or false is supported", path)
			}
			s.additional = &b
		case "items":
			if s.items, err = compileSchema(val, path+"/items"); err != nil {
				return nil, err
			}
		case "minItems":
			s.minItems, err = intKw(k, val)
		case "maxItems":
			s.maxItems, err = intKw(k, val)
		case "minLength":
			s.minLength, err = intKw(k, val)
		case "maxLength":
			s.maxLength, err = intKw(k, val)
		case "minimum":
			s.minimum, err = numKw(k, val)
		case "maximum":
			s.maximum, err = numKw(k, val)
		case "exclusiveMinimum":
			s.exclusiveMin, err = numKw(k, val)
		case "exclusiveMaximum":
			s.exclusiveMax, err = numKw(k, val)
		case "pattern":
			str, ok := val.(string)
			if !ok {
				return nil, fmt.Errorf("%s/pattern must be a string", path)
			}
			if s.pattern, err = regexp.Compile(str); err != nil {
				return nil, fmt.Errorf("%s/pattern: %w", path, err)
			}
		default:
			if !schemaAnnotations[k] {
				return nil, fmt.Errorf("%s: keyword %q is not in the supported subset (see evaluators.Schema)", path, k)
			}
		}
		if err != nil {
			return nil, err
		}
	}
	return s, nil
}

func jsonTypeOf(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case string:
		return "string"
	case json.Number:
		if f, err := x.Float64(); err == nil && math.Trunc(f) == f {
			return "integer"
		}
		return "number"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return "unknown"
}

// jsonEqual compares decoded JSON values; numbers compare by value.
func jsonEqual(a, b any) bool {
	switch x := a.(type) {
	case json.Number:
		y, ok := b.(json.Number)
		if !ok {
			return false
		}
		fx, e1 := x.Float64()
		fy, e2 := y.Float64()
		return e1 == nil && e2 == nil && fx == fy
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !jsonEqual(x[i], y[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			w, ok := y[k]
			if !ok || !jsonEqual(v, w) {
				return false
			}
		}
		return true
	}
	return a == b
}

// Validate checks a decoded JSON value (decoded with UseNumber) against s
// and returns every violation, each prefixed by its JSON pointer.
func (s *Schema) Validate(v any) []string {
	var errs []string
	s.validate(v, "", &errs)
	return errs
}

func (s *Schema) validate(v any, ptr string, errs *[]string) {
	at := ptr
	if at == "" {
		at = "/"
	}
	bad := func(format string, args ...any) { *errs = append(*errs, at+": "+fmt.Sprintf(format, args...)) }
	t := jsonTypeOf(v)
	if len(s.types) > 0 {
		ok := slices.Contains(s.types, t) || (t == "integer" && slices.Contains(s.types, "number"))
		if !ok {
			bad("type %s, want %s", t, strings.Join(s.types, " or "))
			return
		}
	}
	if s.enum != nil && !slices.ContainsFunc(s.enum, func(e any) bool { return jsonEqual(e, v) }) {
		bad("value not in enum")
	}
	switch x := v.(type) {
	case map[string]any:
		for _, r := range s.required {
			if _, ok := x[r]; !ok {
				bad("missing required property %q", r)
			}
		}
		names := make([]string, 0, len(x))
		for k := range x {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			child := ptr + "/" + strings.NewReplacer("~", "~0", "/", "~1").Replace(k)
			if sub, ok := s.properties[k]; ok {
				sub.validate(x[k], child, errs)
			} else if s.additional != nil && !*s.additional {
				bad("additional property %q not allowed", k)
			}
		}
	case []any:
		if s.minItems != nil && len(x) < *s.minItems {
			bad("%d items, want at least %d", len(x), *s.minItems)
		}
		if s.maxItems != nil && len(x) > *s.maxItems {
			bad("%d items, want at most %d", len(x), *s.maxItems)
		}
		if s.items != nil {
			for i, e := range x {
				s.items.validate(e, ptr+"/"+strconv.Itoa(i), errs)
			}
		}
	case string:
		n := utf8.RuneCountInString(x)
		if s.minLength != nil && n < *s.minLength {
			bad("length %d, want at least %d", n, *s.minLength)
		}
		if s.maxLength != nil && n > *s.maxLength {
			bad("length %d, want at most %d", n, *s.maxLength)
		}
		if s.pattern != nil && !s.pattern.MatchString(x) {
			bad("does not match pattern %q", s.pattern.String())
		}
	case json.Number:
		f, _ := x.Float64()
		if s.minimum != nil && f < *s.minimum {
			bad("%v < minimum %v", f, *s.minimum)
		}
		if s.maximum != nil && f > *s.maximum {
			bad("%v > maximum %v", f, *s.maximum)
		}
		if s.exclusiveMin != nil && f <= *s.exclusiveMin {
			bad("%v <= exclusiveMinimum %v", f, *s.exclusiveMin)
		}
		if s.exclusiveMax != nil && f >= *s.exclusiveMax {
			bad("%v >= exclusiveMaximum %v", f, *s.exclusiveMax)
		}
	}
}

// JSONGuard checks structured outputs: metric "json_valid" (1 when the
// output is one JSON value and nothing else) and, when a schema is set,
// "json_schema_valid" (1 when it also satisfies the schema; 0 when it is not
// JSON at all).
type JSONGuard struct {
	schema     *Schema
	allowFence bool
	version    string
}

var _ Evaluator = (*JSONGuard)(nil)

// JSONGuardOptions configures a JSONGuard.
type JSONGuardOptions struct {
	// Schema is a JSON Schema document in the subset Schema documents;
	// nil checks validity only.
	Schema []byte
	// AllowFence accepts output wrapped in one ```json Markdown fence.
	AllowFence bool
}

// NewJSONGuard compiles o.Schema and returns the guard.
func NewJSONGuard(o JSONGuardOptions) (*JSONGuard, error) {
	g := &JSONGuard{allowFence: o.AllowFence, version: "1"}
	if o.AllowFence {
		g.version += "-fence"
	}
	if o.Schema != nil {
		s, err := CompileSchema(o.Schema)
		if err != nil {
			return nil, fmt.Errorf("creating JSON guard: %w", err)
		}
		g.schema = s
		// The schema is part of the version: another schema, another series.
		g.version += "+schema-" + fmt.Sprintf("%x", makeCacheKey(string(o.Schema)))[:12]
	}
	return g, nil
}

// Name is "guard_json".
func (g *JSONGuard) Name() string { return "guard_json" }

// Version is "1", with "-fence" when fences are allowed and the schema's
// hash when one is set.
func (g *JSONGuard) Version() string { return g.version }

// parseJSONOutput decodes exactly one JSON value.
func parseJSONOutput(s string, allowFence bool) (any, error) {
	if allowFence {
		s = unfence(s)
	}
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("text after the JSON value")
	}
	return v, nil
}

// Evaluate checks in.Output.
func (g *JSONGuard) Evaluate(_ context.Context, in Input) ([]Result, error) {
	v, err := parseJSONOutput(in.Output, g.allowFence)
	valid := Result{Metric: "json_valid", Value: 1, Reasoning: "output is valid JSON"}
	if err != nil {
		valid.Value, valid.Reasoning = 0, "output is not valid JSON: "+err.Error()
	}
	if g.schema == nil {
		return []Result{valid}, nil
	}
	sv := Result{Metric: "json_schema_valid", Reasoning: "output is not JSON"}
	if err == nil {
		if errs := g.schema.Validate(v); len(errs) == 0 {
			sv.Value, sv.Reasoning = 1, "output satisfies the schema"
		} else {
			if len(errs) > 5 {
				errs = append(errs[:5], fmt.Sprintf("and %d more", len(errs)-5))
			}
			sv.Reasoning = "schema violations: " + strings.Join(errs, "; ")
		}
	}
	return []Result{valid, sv}, nil
}
