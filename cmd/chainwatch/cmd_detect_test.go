package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chainwatch/chainwatch/detectors"
)

func gaussianCSV(t *testing.T, name string, n, d int, shift float64, seed uint64) string {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 1))
	var b strings.Builder
	for i := 0; i < n; i++ {
		for j := 0; j < d; j++ {
			if j > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, "%.5f", rng.NormFloat64()+shift)
		}
		b.WriteByte('\n')
	}
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// detectJSON runs the command's detector path and decodes its output.
func detectJSON(t *testing.T, args ...string) (map[string]any, error) {
	t.Helper()
	old := os.Stdout
	r, w, _ := os.Pipe()
	os.Stdout = w
	err := runDetect(t.Context(), args)
	w.Close()
	os.Stdout = old
	var buf bytes.Buffer
	buf.ReadFrom(r)
	if err != nil {
		return nil, err
	}
	var out map[string]any
	if e := json.Unmarshal(buf.Bytes(), &out); e != nil {
		t.Fatalf("output is not JSON: %v\n%s", e, buf.String())
	}
	return out, nil
}

func TestDetectCLI(t *testing.T) {
	ref := gaussianCSV(t, "ref.csv", 200, 3, 0, 1)
	same := gaussianCSV(t, "same.csv", 200, 3, 0, 2)
	shifted := gaussianCSV(t, "shifted.csv", 200, 3, 1, 3)
	for _, det := range []string{"mmd", "lsdd", "learned_kernel_mmd", "energy", "ks", "cvm", "mmd_online", "lsdd_online"} {
		t.Run(det, func(t *testing.T) {
			out, err := detectJSON(t, det, "--ref", ref, "--cur", shifted, "--seed", "1", "--json")
			if err != nil {
				t.Fatal(err)
			}
			for _, k := range []string{"detector", "statistic", "p_value", "threshold", "drift", "n_ref", "n_cur", "params", "seconds"} {
				if _, ok := out[k]; !ok {
					t.Errorf("output lacks %q: %v", k, out)
				}
			}
			if out["detector"] != det || out["drift"] != true || out["n_ref"].(float64) != 200 {
				t.Errorf("shift of 1σ: %v", out)
			}
		})
	}
	out, err := detectJSON(t, "mmd", "--ref", ref, "--cur", same, "--seed", "1", "--json")
	if err != nil {
		t.Fatal(err)
	}
	if out["drift"] != false {
		t.Errorf("no shift, yet drift: %v", out)
	}
	if sig, ok := out["params"].(map[string]any)["sigma"]; !ok || sig == nil {
		t.Errorf("the bandwidth used is not reported: %v", out["params"])
	}
}

func TestDetectCLIErrors(t *testing.T) {
	ref := gaussianCSV(t, "ref.csv", 20, 2, 0, 1)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"mmd", "--ref", ref, "--cur", ref, "--param", "p_vl=0.1"}, "--param p_vl: unknown"},
		{[]string{"mmd", "--ref", ref, "--cur", ref, "--param", "p_val=x"}, "not a number"},
		{[]string{"nope", "--ref", ref, "--cur", ref}, `unknown detector "nope"`},
		{[]string{"mmd", "--ref", ref}, "--ref and --cur are required"},
		{[]string{"context_mmd", "--ref", ref, "--cur", ref}, "context"},
		{[]string{"mmd", "--ref", ref, "--cur", filepath.Join(t.TempDir(), "missing.csv")}, "no such file"},
	} {
		_, err := detectJSON(t, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: got %v, want an error containing %q", tc.args, err, tc.want)
		}
	}
}

// TestDetectCLIContext: x = c + noise in both windows, the current
// window's contexts shifted (p(c) changes, p(x | c) does not) → no drift;
// x = c + 1 + noise in the current window → drift.
func TestDetectCLIContext(t *testing.T) {
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(5, 1))
	write := func(name string, n int, cShift, xShift float64) (xs, cs string) {
		var xb, cb strings.Builder
		for range n {
			c := rng.NormFloat64() + cShift
			fmt.Fprintf(&cb, "%.5f\n", c)
			fmt.Fprintf(&xb, "%.5f,%.5f\n", c+xShift+0.3*rng.NormFloat64(), 0.3*rng.NormFloat64())
		}
		xs, cs = filepath.Join(dir, name+"_x.csv"), filepath.Join(dir, name+"_c.csv")
		os.WriteFile(xs, []byte(xb.String()), 0o644)
		os.WriteFile(cs, []byte(cb.String()), 0o644)
		return xs, cs
	}
	rx, rc := write("ref", 80, 0, 0)
	ox, oc := write("ctxonly", 80, 0.7, 0)
	sx, sc := write("shift", 80, 0, 1)
	for _, tc := range []struct {
		x, c  string
		drift bool
	}{{ox, oc, false}, {sx, sc, true}} {
		out, err := detectJSON(t, "context_mmd", "--ref", rx, "--cur", tc.x, "--context-ref", rc, "--context-cur", tc.c,
			"--param", "n_permutations=200", "--seed", "3", "--json")
		if err != nil {
			t.Fatal(err)
		}
		if out["drift"] != tc.drift {
			t.Errorf("%s: drift %v, want %v: %v", tc.x, out["drift"], tc.drift, out)
		}
		pr := out["params"].(map[string]any)
		for _, k := range []string{"sigma", "sigma_c", "lambda", "n_held"} {
			if pr[k] == nil {
				t.Errorf("params lack %s: %v", k, pr)
			}
		}
	}
}

func TestDetectCLIText(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, lines []string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(strings.Join(lines, "\n")+"\n"), 0o644)
		return p
	}
	var en, es []string
	for i := 0; i < 100; i++ {
		en = append(en, fmt.Sprintf("Where is my order number %d? It has not arrived yet.", 100+i))
		es = append(es, fmt.Sprintf("¿Dónde está mi pedido número %d? Todavía no ha llegado.", 100+i))
	}
	ref, cur := write("en.txt", en), write("es.txt", es)
	out, err := detectJSON(t, "js", "--text", "--ref", ref, "--cur", cur, "--json")
	if err != nil {
		t.Fatal(err)
	}
	if ntr := out["params"].(map[string]any)["new_term_rate"].(float64); ntr < 0.5 {
		t.Errorf("a language switch has new-term rate %v", ntr)
	}
	out, err = detectJSON(t, "mmd", "--text", "--ref", ref, "--cur", cur, "--seed", "2", "--json")
	if err != nil || out["drift"] != true {
		t.Errorf("mmd on lexical embeddings missed a language switch: %v %v", out, err)
	}
	out, err = detectJSON(t, "ks", "--text", "--ref", ref, "--cur", ref, "--json")
	if err != nil || out["drift"] != false {
		t.Errorf("ks on identical texts: %v %v", out, err)
	}
}

// TestDetectHelpFromRegistry: `chainwatch detect` with no detector lists
// every registered detector with its kind and each parameter with its
// default; `detect NAME -h` shows that detector's parameters.
func TestDetectHelpFromRegistry(t *testing.T) {
	err := runDetect(t.Context(), nil)
	if err == nil {
		t.Fatal("no usage error")
	}
	help := err.Error()
	for _, d := range detectors.All() {
		if !strings.Contains(help, "  "+d.Name+" ") || !strings.Contains(help, d.Kind.String()) {
			t.Errorf("usage lacks %s (%s)", d.Name, d.Kind)
		}
		for _, p := range d.Params {
			if !strings.Contains(help, p.Name+"="+p.DefaultString()) {
				t.Errorf("usage lacks %s's %s=%s", d.Name, p.Name, p.DefaultString())
			}
		}
		if h := detectorHelp(d); !strings.Contains(h, d.Doc) {
			t.Errorf("detect %s -h lacks its description", d.Name)
		}
	}
	if err := runDetect(t.Context(), []string{"lsdd", "-h"}); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("detect lsdd -h: %v", err)
	}
}

// TestDetectAcceptsEveryREADMEParam: every parameter the README's detector
// table names (with the default it states) is accepted by
// `chainwatch detect NAME --param key=value` — the command then fails only
// on the missing sample files — and the distances' `threshold`, which the
// README tells users to set, reaches the verdict.
func TestDetectAcceptsEveryREADMEParam(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(readme)
	begin, end := strings.Index(text, "<!-- detectors:begin"), strings.Index(text, "<!-- detectors:end")
	if begin < 0 || end < begin {
		t.Fatal("README has no detectors table")
	}
	// A value for the parameters whose default the table shows as "—".
	unset := map[string]string{"sigma": "1", "lambda": "0.1"}
	missing := filepath.Join(t.TempDir(), "missing.csv")
	named := 0
	for _, line := range strings.Split(text[begin:end], "\n") {
		cells := strings.Split(line, "|")
		if len(cells) < 6 || !strings.HasPrefix(strings.TrimSpace(cells[1]), "`") {
			continue
		}
		name := strings.Trim(strings.TrimSpace(cells[1]), "`")
		for _, p := range strings.Split(cells[4], ",") {
			f := strings.Fields(p)
			if len(f) != 2 {
				continue
			}
			key, val := strings.Trim(f[0], "`"), f[1]
			if val == "—" {
				val = unset[key]
			}
			args := []string{name, "--ref", missing, "--cur", missing, "--param", key + "=" + val}
			if name == "context_mmd" {
				args = append(args, "--context-ref", missing, "--context-cur", missing)
			}
			named++
			err := runDetect(t.Context(), args)
			if err == nil || strings.Contains(err.Error(), "--param") || !strings.Contains(err.Error(), "no such file") {
				t.Errorf("detect %s --param %s=%s: %v (want only the missing file)", name, key, val, err)
			}
		}
	}
	if named < 40 {
		t.Fatalf("read only %d parameters from the README table", named)
	}
	ref := gaussianCSV(t, "ref.csv", 200, 2, 0, 1)
	cur := gaussianCSV(t, "cur.csv", 200, 2, 1, 2)
	for _, det := range []string{"psi", "wasserstein", "js"} {
		for _, tc := range []struct {
			threshold string
			drift     bool
		}{{"0.01", true}, {"1000", false}} {
			out, err := detectJSON(t, det, "--ref", ref, "--cur", cur, "--param", "threshold="+tc.threshold, "--json")
			if err != nil {
				t.Fatalf("%s threshold=%s: %v", det, tc.threshold, err)
			}
			if out["drift"] != tc.drift || fmt.Sprint(out["threshold"]) != tc.threshold {
				t.Errorf("%s threshold=%s: drift %v threshold %v, want drift %v", det, tc.threshold, out["drift"], out["threshold"], tc.drift)
			}
		}
	}
}
