package experiments

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"

	"github.com/chainwatch/chainwatch/experiments/stats"
)

func f4(v float64) string {
	if math.IsNaN(v) {
		return "–"
	}
	return fmt.Sprintf("%.4g", v)
}

func ciText(m stats.MetricResult) string {
	if m.Bootstrap == nil {
		return "–"
	}
	return fmt.Sprintf("%+.4g [%+.4g, %+.4g]", m.Bootstrap.MeanDiff, m.Bootstrap.CI.Lo, m.Bootstrap.CI.Hi)
}

func testText(m stats.MetricResult) string {
	switch {
	case m.Wilcoxon != nil:
		return fmt.Sprintf("Wilcoxon p=%.3g (%s)", m.Wilcoxon.P, m.Wilcoxon.Method)
	case m.McNemar != nil:
		return fmt.Sprintf("McNemar p=%.3g (%d↓ %d↑)", m.McNemar.P, m.McNemar.BasePassOnly, m.McNemar.CandPassOnly)
	}
	return "–"
}

func noiseText(m stats.MetricResult) string {
	if math.IsNaN(m.NoiseSE) {
		return "–"
	}
	s := fmt.Sprintf("%.3g", m.NoiseSE)
	if m.WithinNoise {
		s += " (diff within noise)"
	}
	return s
}

// WriteText writes the terminal table.
func (r *Report) WriteText(w io.Writer) error {
	fmt.Fprintf(w, "base       %s  %s@%s  prompt %s  model %s\n", r.Base.ID, r.Base.Chain, r.Base.ChainVersion, r.Base.PromptVersion, r.Base.ModelRequested)
	fmt.Fprintf(w, "candidate  %s  %s@%s  prompt %s  model %s\n", r.Candidate.ID, r.Candidate.Chain, r.Candidate.ChainVersion, r.Candidate.PromptVersion, r.Candidate.ModelRequested)
	fmt.Fprintf(w, "dataset    %s@%d, repeats %d/%d, alpha %.3g (split over %d tests), seed %d\n\n", r.Base.Dataset, r.Base.DatasetVersion, r.Base.Repeats, r.Candidate.Repeats, r.Alpha, r.Tests, r.Seed)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "METRIC\tKIND\tN\tBASE\tCANDIDATE\tDIFF [CI]\tTEST\tNOISE SE\tMARGIN\tVERDICT")
	for _, m := range r.Metrics {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t%g\t%s\n", m.Name, m.Kind, m.N, f4(m.BaseMean), f4(m.CandMean), ciText(m), testText(m), noiseText(m), m.Margin, strings.ToUpper(m.Verdict))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if r.WinRate != nil {
		fmt.Fprintf(w, "\npairwise (%s): candidate wins %d, loses %d, ties %d: win rate %.1f%% (ties half); decisive %.1f%% [%.1f%%, %.1f%%]\n", r.WinMetric,
			r.WinRate.Wins, r.WinRate.Losses, r.WinRate.Ties, 100*r.WinRate.Rate, 100*r.WinRate.Decisive, 100*r.WinRate.CI.Lo, 100*r.WinRate.CI.Hi)
	}
	if len(r.Required) > 0 {
		failed := 0
		for _, q := range r.Required {
			if !q.Passed {
				failed++
			}
		}
		fmt.Fprintf(w, "\nrequired rows: %d, failed %d\n", len(r.Required), failed)
	}
	if len(r.Changed) > 0 {
		fmt.Fprintf(w, "\nrows that changed verdict:\n")
		for _, c := range r.Changed {
			fmt.Fprintf(w, "  row %d %s %s: %s\n", c.Row, c.Metric, c.Direction, abbreviate(c.Input))
		}
	}
	for _, x := range r.Warnings {
		fmt.Fprintf(w, "\nwarning: %s", x)
	}
	fmt.Fprintf(w, "\nVERDICT: %s\n", strings.ToUpper(r.Verdict))
	for _, f := range r.Failures {
		fmt.Fprintf(w, "  - %s\n", f)
	}
	return nil
}

// WriteJSON writes the report as one JSON object; a value that does not
// exist (the mean of a metric without scores, the noise without repeats)
// is null.
func (r *Report) WriteJSON(w io.Writer) error {
	type metric struct {
		stats.MetricResult
		BaseMean *float64 `json:"base_mean"`
		CandMean *float64 `json:"candidate_mean"`
		NoiseSE  *float64 `json:"noise_se"`
	}
	num := func(v float64) *float64 {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil
		}
		return &v
	}
	ms := make([]metric, len(r.Metrics))
	for i, m := range r.Metrics {
		ms[i] = metric{MetricResult: m, BaseMean: num(m.BaseMean), CandMean: num(m.CandMean), NoiseSE: num(m.NoiseSE)}
		// the shadowed fields are not encoded; zero them so a NaN there
		// cannot fail the encoder
		ms[i].MetricResult.BaseMean, ms[i].MetricResult.CandMean, ms[i].MetricResult.NoiseSE = 0, 0, 0
	}
	out := struct {
		*Report
		Metrics []metric `json:"metrics"`
	}{r, ms}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// JUnit XML in the shape Jenkins, GitLab and GitHub test reporters read:
// one testsuite, a testcase per metric and per required row; a regression
// or a failed required row is a <failure>, a metric without scores an
// <error>, an inconclusive metric passes with its reason in system-out.
type junitSuites struct {
	XMLName xml.Name     `xml:"testsuites"`
	Suites  []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Errors   int         `xml:"errors,attr"`
	Cases    []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Failure   *junitMessage `xml:"failure,omitempty"`
	Error     *junitMessage `xml:"error,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitMessage struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

// WriteJUnit writes the JUnit XML report.
func (r *Report) WriteJUnit(w io.Writer) error {
	s := junitSuite{Name: fmt.Sprintf("chainwatch experiment %s vs %s", r.Base.ID, r.Candidate.ID)}
	class := "chainwatch.experiment." + r.Candidate.Chain
	for _, m := range r.Metrics {
		c := junitCase{Name: "metric " + m.Name, Classname: class,
			SystemOut: fmt.Sprintf("%s; base %s, candidate %s; %s; noise SE %s", m.Reason, f4(m.BaseMean), f4(m.CandMean), testText(m), noiseText(m))}
		switch m.Verdict {
		case stats.Regression:
			c.Failure = &junitMessage{Message: m.Name + " regressed", Type: "regression", Text: m.Reason}
			s.Failures++
		case stats.Error:
			c.Error = &junitMessage{Message: m.Name + " produced no valid scores", Type: "no_scores", Text: m.Reason}
			s.Errors++
		}
		s.Cases = append(s.Cases, c)
	}
	for _, q := range r.Required {
		c := junitCase{Name: fmt.Sprintf("required row %d", q.Row), Classname: class, SystemOut: abbreviate(q.Input)}
		if !q.Passed {
			c.Failure = &junitMessage{Message: "required row failed", Type: "required", Text: strings.Join(q.Failed, ", ")}
			s.Failures++
		}
		s.Cases = append(s.Cases, c)
	}
	if r.WinRate != nil {
		c := junitCase{Name: "pairwise " + r.WinMetric, Classname: class,
			SystemOut: fmt.Sprintf("win rate %.3f (ties half); decisive %.3f [%.3f, %.3f]", r.WinRate.Rate, r.WinRate.Decisive, r.WinRate.CI.Lo, r.WinRate.CI.Hi)}
		if r.WinRate.CI.Hi < 0.5 {
			c.Failure = &junitMessage{Message: "candidate loses side by side", Type: "pairwise", Text: c.SystemOut}
			s.Failures++
		}
		s.Cases = append(s.Cases, c)
	}
	s.Tests = len(s.Cases)
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(junitSuites{Suites: []junitSuite{s}}); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

func mdEscape(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	s = strings.ReplaceAll(s, "\n", " ")
	return s
}

// WriteMarkdown writes a pull-request comment.
func (r *Report) WriteMarkdown(w io.Writer) error {
	icon := map[string]string{GatePass: "✅", GateRegression: "❌", GateError: "⚠️"}[r.Verdict]
	fmt.Fprintf(w, "### %s chainwatch experiment: %s\n\n", icon, strings.ToUpper(r.Verdict))
	fmt.Fprintf(w, "`%s@%s` (%s) → `%s@%s` (%s) on dataset `%s@%d`, α = %.3g split over %d tests.\n\n",
		r.Base.Chain, r.Base.ChainVersion, r.Base.ID, r.Candidate.Chain, r.Candidate.ChainVersion, r.Candidate.ID,
		r.Base.Dataset, r.Base.DatasetVersion, r.Alpha, r.Tests)
	fmt.Fprintln(w, "| metric | n | base | candidate | difference [CI] | test | noise SE | margin | verdict |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---|---|---|---:|---|")
	for _, m := range r.Metrics {
		fmt.Fprintf(w, "| %s | %d | %s | %s | %s | %s | %s | %g | **%s** |\n", mdEscape(m.Name), m.N, f4(m.BaseMean), f4(m.CandMean),
			ciText(m), mdEscape(testText(m)), mdEscape(noiseText(m)), m.Margin, m.Verdict)
	}
	if r.WinRate != nil {
		fmt.Fprintf(w, "\nSide by side (%s, both orders): candidate wins %d, loses %d, ties %d — win rate **%.1f%%** (ties half); among decisive judgments %.1f%% [%.1f%%, %.1f%%].\n",
			r.WinMetric, r.WinRate.Wins, r.WinRate.Losses, r.WinRate.Ties, 100*r.WinRate.Rate, 100*r.WinRate.Decisive, 100*r.WinRate.CI.Lo, 100*r.WinRate.CI.Hi)
	}
	if len(r.Failures) > 0 {
		fmt.Fprintln(w, "\n**Why it fails:**")
		for _, f := range r.Failures {
			fmt.Fprintf(w, "- %s\n", mdEscape(f))
		}
	}
	if len(r.Changed) > 0 {
		fmt.Fprintf(w, "\n<details><summary>%d rows changed verdict</summary>\n\n| row | metric | change | input |\n|---:|---|---|---|\n", len(r.Changed))
		for _, c := range r.Changed {
			fmt.Fprintf(w, "| %d | %s | %s | %s |\n", c.Row, mdEscape(c.Metric), c.Direction, mdEscape(abbreviate(c.Input)))
		}
		fmt.Fprintln(w, "\n</details>")
	}
	for _, x := range r.Warnings {
		fmt.Fprintf(w, "\n> ⚠️ %s\n", mdEscape(x))
	}
	return nil
}
