package detectors

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gonum.org/v1/gonum/mat"
)

var updateREADME = flag.Bool("update", false, "rewrite the README's table of detectors from the registry")

// registryPair is the small fixed pair of samples every registered
// detector runs on, in each form: 60 rows a side, the current side shifted.
func registryPair(form Form) (ref, cur Sample) {
	rng := NewRand(7)
	const n, d = 60, 2
	gauss := func(shift float64) *mat.Dense {
		m := mat.NewDense(n, d, nil)
		for i := range n {
			for j := range d {
				m.Set(i, j, rng.NormFloat64()+shift)
			}
		}
		return m
	}
	switch form {
	case Numeric, Vectors:
		ref, cur = Sample{X: gauss(0)}, Sample{X: gauss(0.5)}
	case Binary:
		bin := func(rate float64) *mat.Dense {
			m := mat.NewDense(n, d, nil)
			for i := range n * d {
				if rng.Float64() < rate {
					m.Set(i/d, i%d, 1)
				}
			}
			return m
		}
		ref, cur = Sample{X: bin(0.1)}, Sample{X: bin(0.3)}
	case Categorical:
		cats := func(labels string) [][]string {
			out := make([][]string, n)
			for i := range out {
				out[i] = []string{string(labels[rng.IntN(len(labels))]), string("xy"[rng.IntN(2)])}
			}
			return out
		}
		ref, cur = Sample{Cells: cats("abc")}, Sample{Cells: cats("abcc")}
	case Texts:
		words := strings.Fields("order refund shipping late broken password reset account billing invoice charge card")
		texts := func(from, to int) []string {
			out := make([]string, n)
			for i := range out {
				var w []string
				for range 3 + rng.IntN(8) {
					w = append(w, words[from+rng.IntN(to-from)])
				}
				out[i] = strings.Join(w, " ")
			}
			return out
		}
		ref, cur = Sample{Texts: texts(0, 8)}, Sample{Texts: texts(4, 12)}
	}
	ref.Context, cur.Context = gauss(0), gauss(0.3)
	return ref, cur
}

// TestRegistry: every registered detector has a unique, valid name and a
// kind, forms, a description and parameters whose defaults parse and
// validate; it runs with its defaults on registryPair in each form it
// reads, names its result after itself, and gives the same result twice
// under the same seed.
func TestRegistry(t *testing.T) {
	all := All()
	if len(all) < 16 {
		t.Fatalf("%d detectors registered: %v", len(all), Names())
	}
	seen := map[string]bool{}
	for _, d := range all {
		if seen[d.Name] {
			t.Errorf("%s registered twice", d.Name)
		}
		seen[d.Name] = true
		if got, ok := Lookup(d.Name); !ok || got.Name != d.Name {
			t.Errorf("Lookup(%q) = %v, %v", d.Name, got.Name, ok)
		}
		t.Run(d.Name, func(t *testing.T) {
			if !validName.MatchString(d.Name) || d.Kind < Univariate || d.Kind > Context || d.Doc == "" || len(d.Forms) == 0 {
				t.Fatalf("incomplete registration: %+v", d)
			}
			params, err := d.ParseParams(nil)
			if err != nil {
				t.Fatalf("defaults do not validate: %v", err)
			}
			for _, p := range d.Params {
				if p.Doc == "" {
					t.Errorf("parameter %s has no description", p.Name)
				}
				if err := p.validate(p.Default); err != nil {
					t.Errorf("default of %s: %v", p.Name, err)
				}
				if _, ok := params[p.Name]; !ok {
					t.Errorf("ParseParams(nil) lacks %s", p.Name)
				}
			}
			for _, form := range d.Forms {
				t.Run(form.String(), func(t *testing.T) {
					ref, cur := registryPair(form)
					in := Input{Form: form, Ref: ref, Cur: cur, Params: params, Seed: 3}
					r1, err := d.Detect(in)
					if err != nil {
						t.Fatalf("running on the fixed pair: %v", err)
					}
					r2, err := d.Detect(in)
					if err != nil {
						t.Fatal(err)
					}
					if r1.Detector != d.Name {
						t.Errorf("result names %q", r1.Detector)
					}
					if a, b := fmt.Sprintf("%+v", r1), fmt.Sprintf("%+v", r2); a != b {
						t.Errorf("not deterministic under a seed:\n%s\n%s", a, b)
					}
					if r1.NRef == 0 || r1.NCur == 0 {
						t.Errorf("sample sizes not reported: %+v", r1)
					}
				})
			}
			if !slices.Contains(d.Forms, Categorical) {
				ref, cur := registryPair(Categorical)
				if _, err := d.Detect(Input{Form: Categorical, Ref: ref, Cur: cur}); err == nil {
					t.Errorf("ran on a form it does not read")
				}
			}
		})
	}
}

// TestRegistryParamErrors: every parameter refuses an invalid value with a
// message that names the parameter and the value given; unknown keys are
// named with the known ones.
func TestRegistryParamErrors(t *testing.T) {
	bad := map[ParamType][2]string{ // value given, as the message shows it
		Float:  {"-inf", "-Inf"},
		Int:    {"-1000000", "-1000000"},
		String: {"bogus", `"bogus"`},
		Floats: {"-1", "-1"},
	}
	for _, d := range All() {
		for _, p := range d.Params {
			v := bad[p.Type]
			_, err := d.ParseParams(map[string]string{p.Name: v[0]})
			var pe ParamErrors
			if !errors.As(err, &pe) || len(pe) != 1 {
				t.Errorf("%s %s=%s: got %v, want one ParamErrors entry", d.Name, p.Name, v[0], err)
				continue
			}
			if msg := pe[0].Error(); !strings.HasPrefix(msg, p.Name+": ") || !strings.Contains(msg, "got "+v[1]) {
				t.Errorf("%s %s=%s: %q does not name the parameter and the value given", d.Name, p.Name, v[0], msg)
			}
		}
		_, err := d.ParseParams(map[string]string{"p_vl": "0.1"})
		if err == nil || !strings.Contains(err.Error(), "p_vl: unknown for "+d.Name+" (known: ") {
			t.Errorf("%s: unknown key: %v", d.Name, err)
		}
	}
	for _, tc := range []struct {
		det, key, value, want string
	}{
		{"mmd", "n_permutations", "0", "n_permutations: must be ≥ 1, got 0"},
		{"ks", "p_val", "0", "p_val: must be in (0, 1), got 0"},
		{"ks", "p_val", "x", `p_val: "x" is not a number`},
		{"ks", "mode", "fast", `mode: must be one of asymp, exact, got "fast"`},
		{"psi", "bins", "1", "bins: must be ≥ 2, got 1"},
		{"learned_kernel_mmd", "epochs", "2.5", `epochs: "2.5" is not an integer`},
		{"mmd_online", "ert", "1", "ert: must be > 1 and finite, got 1"},
		{"context_mmd", "lambda", "1,2,3", "lambda: takes one value or two (reference,current), got 3"},
		{"mmd", "sigma", "0,1", "sigma: each bandwidth must be > 0 and finite, got 0"},
	} {
		d, _ := Lookup(tc.det)
		_, err := d.ParseParams(map[string]string{tc.key: tc.value})
		if err == nil || err.Error() != tc.want {
			t.Errorf("%s %s=%s: got %v, want %q", tc.det, tc.key, tc.value, err, tc.want)
		}
	}
}

const (
	readmeBegin = "<!-- detectors:begin (generated from the registry: go test ./detectors -run TestREADME -update) -->"
	readmeEnd   = "<!-- detectors:end -->"
)

// detectorTable is the README's table of detectors, from the registry.
func detectorTable() string {
	var b strings.Builder
	b.WriteString("| detector | kind | reads | parameters (defaults) | question |\n|---|---|---|---|---|\n")
	for _, d := range All() {
		ps := make([]string, len(d.Params))
		for i, p := range d.Params {
			def := p.DefaultString()
			if def == "" {
				def = "—"
			}
			ps[i] = fmt.Sprintf("`%s` %s", p.Name, def)
		}
		fs := make([]string, len(d.Forms))
		for i, f := range d.Forms {
			fs[i] = f.String()
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s |\n", d.Name, d.Kind, strings.Join(fs, ", "), strings.Join(ps, ", "), d.Doc)
	}
	return b.String()
}

// TestREADME: the README has one table row per registered detector and no
// row for an unregistered one, and the table is the registry's (run with
// -update to rewrite it).
func TestREADME(t *testing.T) {
	const path = "../README.md"
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	i, j := strings.Index(s, readmeBegin), strings.Index(s, readmeEnd)
	if i < 0 || j < i {
		t.Fatalf("README.md lacks the markers %q … %q around the table of detectors", readmeBegin, readmeEnd)
	}
	table := s[i+len(readmeBegin)+1 : j]
	want := detectorTable()
	if *updateREADME && table != want {
		s = s[:i+len(readmeBegin)+1] + want + s[j:]
		if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		table = want
	}
	row := regexp.MustCompile("(?m)^\\| `([a-z0-9_]+)` \\|")
	var rows []string
	for _, m := range row.FindAllStringSubmatch(table, -1) {
		rows = append(rows, m[1])
	}
	for _, name := range Names() {
		if n := countOf(rows, name); n != 1 {
			t.Errorf("README.md's table of detectors has %d rows for %s, want 1", n, name)
		}
	}
	for _, name := range rows {
		if _, ok := Lookup(name); !ok {
			t.Errorf("README.md's table of detectors has a row for %s, which is not registered", name)
		}
	}
	if table != want {
		t.Errorf("README.md's table of detectors is not the registry's; run go test ./detectors -run TestREADME -update\ngot:\n%s\nwant:\n%s", table, want)
	}
}

func countOf(s []string, v string) int {
	n := 0
	for _, x := range s {
		if x == v {
			n++
		}
	}
	return n
}
