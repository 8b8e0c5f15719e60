package agreement

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Defaults for Options.
const (
	// DefaultJudgeThreshold: a judge score ≥ 4 on the built-in 1–5 rubrics
	// is a positive verdict.
	DefaultJudgeThreshold = 4
	// UnitThreshold replaces the judge threshold for a metric whose values
	// all lie in [0, 1] (guards, similarity metrics, side-by-side outcomes),
	// where a threshold of 4 would make every verdict negative.
	UnitThreshold = 0.5
	// ThumbsThreshold: a trace's thumbs (0/1, averaged when a trace has
	// several) are positive at ≥ 0.5, so a split vote counts as positive.
	ThumbsThreshold = 0.5
	// DefaultRatingThreshold: a 1–5 rating ≥ 4 is positive.
	DefaultRatingThreshold = 4
	// DefaultMinPairs is the number of pairs below which the verdict warns
	// that the interval is too wide to rely on.
	DefaultMinPairs = 30
)

// Scale is what the users' feedback values mean.
type Scale string

// Feedback scales.
const (
	// ScaleAuto decides from the values: ratings when any value is above 1,
	// else thumbs. Every value exactly 1 is ambiguous (all thumbs up, or all
	// ratings of 1) and taken as thumbs; name the scale when that matters.
	ScaleAuto   Scale = ""
	ScaleThumbs Scale = "thumbs" // 0 down, 1 up
	ScaleRating Scale = "rating" // 1–5
)

// ParseScale reads "auto", "thumbs" or "rating" (also "ratings").
func ParseScale(s string) (Scale, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "auto":
		return ScaleAuto, nil
	case "thumbs":
		return ScaleThumbs, nil
	case "rating", "ratings":
		return ScaleRating, nil
	}
	return "", fmt.Errorf("feedback scale %q: want auto, thumbs or rating", s)
}

// DetectScale applies ScaleAuto's rule to human values.
func DetectScale(human []float64) Scale {
	for _, h := range human {
		if h > 1 {
			return ScaleRating
		}
	}
	return ScaleThumbs
}

// Pair is one trace that has both a judge score and user feedback.
type Pair struct {
	TraceID string  `json:"trace_id"`
	Judge   float64 `json:"judge"` // the evaluator's value (averaged when it scored the trace more than once)
	Human   float64 `json:"human"` // the feedback score (averaged over the trace's feedback)
}

// Options set the binarisation. Zero values take the defaults.
type Options struct {
	// JudgeThreshold: judge ≥ JudgeThreshold is positive (default 4); for a
	// metric whose values all lie in [0, 1], UnitThreshold is used instead.
	JudgeThreshold float64
	// Scale of the human values (default: detected, see ScaleAuto).
	Scale Scale
	// RatingThreshold: a rating ≥ RatingThreshold is positive (default 4).
	// Thumbs use ThumbsThreshold.
	RatingThreshold float64
	// MinPairs below which the verdict warns (default DefaultMinPairs).
	MinPairs int
}

// Counts is the 2×2 table behind kappa.
type Counts struct {
	BothPositive int `json:"both_positive"`
	JudgeOnly    int `json:"judge_positive_user_negative"`
	UserOnly     int `json:"judge_negative_user_positive"`
	BothNegative int `json:"both_negative"`
}

// Report is the agreement of one evaluator's metric with the users.
type Report struct {
	Evaluator string `json:"evaluator"`
	Metric    string `json:"metric"`
	N         int    `json:"n"`
	Scale     Scale  `json:"feedback_scale"`
	// JudgeThreshold and HumanThreshold are the thresholds actually used
	// to binarise (value ≥ threshold ⇒ positive).
	JudgeThreshold float64 `json:"judge_threshold"`
	HumanThreshold float64 `json:"feedback_threshold"`
	Counts         Counts  `json:"counts"`
	// Kappa is nil when it is undefined (every pair in one category).
	Kappa *Kappa `json:"kappa,omitempty"`
	// Spearman is set for ratings only (thumbs have two values: kappa says
	// it all), and nil when undefined (fewer than 3 pairs, a constant side).
	Spearman *Spearman `json:"spearman,omitempty"`
	// Verdict is one plain line, e.g.
	// "judge agrees with users: substantial (κ = 0.71, n = 240)".
	Verdict string `json:"verdict"`
}

// Analyze binarises pairs as opts say and computes the report. It never
// fails: statistics that are undefined are left nil and the verdict says why.
func Analyze(evaluator, metric string, pairs []Pair, opts Options) Report {
	if opts.JudgeThreshold == 0 {
		opts.JudgeThreshold = DefaultJudgeThreshold
	}
	if opts.RatingThreshold == 0 {
		opts.RatingThreshold = DefaultRatingThreshold
	}
	if opts.MinPairs == 0 {
		opts.MinPairs = DefaultMinPairs
	}
	judge := make([]float64, len(pairs))
	human := make([]float64, len(pairs))
	unit := true
	for i, p := range pairs {
		judge[i], human[i] = p.Judge, p.Human
		if p.Judge < 0 || p.Judge > 1 {
			unit = false
		}
	}
	r := Report{Evaluator: evaluator, Metric: metric, N: len(pairs), Scale: opts.Scale, JudgeThreshold: opts.JudgeThreshold}
	if r.Scale == ScaleAuto {
		r.Scale = DetectScale(human)
	}
	if unit && len(pairs) > 0 {
		r.JudgeThreshold = UnitThreshold
	}
	r.HumanThreshold = ThumbsThreshold
	if r.Scale == ScaleRating {
		r.HumanThreshold = opts.RatingThreshold
	}
	jb, hb := make([]bool, len(pairs)), make([]bool, len(pairs))
	for i := range pairs {
		jb[i], hb[i] = judge[i] >= r.JudgeThreshold, human[i] >= r.HumanThreshold
		switch {
		case jb[i] && hb[i]:
			r.Counts.BothPositive++
		case jb[i]:
			r.Counts.JudgeOnly++
		case hb[i]:
			r.Counts.UserOnly++
		default:
			r.Counts.BothNegative++
		}
	}
	if len(pairs) == 0 {
		r.Verdict = "no traces with both a judge score and user feedback"
		return r
	}
	table, _ := BinaryTable(jb, hb) // same lengths by construction
	k, kerr := CohenKappa(table)
	if kerr == nil {
		r.Kappa = &k
	}
	if r.Scale == ScaleRating && len(pairs) >= 3 {
		if s, err := SpearmanRho(judge, human); err == nil {
			r.Spearman = &s
		}
	}
	r.Verdict = verdict(r, kerr, opts.MinPairs)
	return r
}

func verdict(r Report, kerr error, minPairs int) string {
	var b strings.Builder
	switch {
	case r.Kappa != nil && r.Kappa.Kappa < 0:
		fmt.Fprintf(&b, "judge disagrees with users: %s (κ = %s, n = %d)", LandisKoch(r.Kappa.Kappa), num(r.Kappa.Kappa), r.N)
	case r.Kappa != nil:
		fmt.Fprintf(&b, "judge agrees with users: %s (κ = %s, n = %d)", LandisKoch(r.Kappa.Kappa), num(r.Kappa.Kappa), r.N)
	case errors.Is(kerr, ErrUndefined):
		side := "positive"
		if r.Counts.BothNegative > 0 {
			side = "negative"
		}
		fmt.Fprintf(&b, "agreement undefined: judge and users called every trace %s (n = %d)", side, r.N)
	default:
		fmt.Fprintf(&b, "agreement undefined: %v (n = %d)", kerr, r.N)
	}
	if r.Spearman != nil {
		fmt.Fprintf(&b, "; ranks: %s (ρ = %s, p = %s)", CorrelationStrength(r.Spearman.Rho), num(r.Spearman.Rho), pval(r.Spearman.P))
	}
	if r.N < minPairs {
		fmt.Fprintf(&b, "; few pairs (< %d), read with care", minPairs)
	}
	return b.String()
}

// num formats a statistic with two decimals and a true minus sign, as in
// "κ = −0.12"; −0.00 is written 0.00.
func num(v float64) string {
	s := strconv.FormatFloat(v, 'f', 2, 64)
	if s == "-0.00" {
		return "0.00"
	}
	return strings.Replace(s, "-", "−", 1)
}

// pval formats a p-value: three significant digits, "< 0.0001" below that.
func pval(p float64) string {
	switch {
	case math.IsNaN(p):
		return "n/a"
	case p < 1e-4:
		return "< 0.0001"
	default:
		return strconv.FormatFloat(p, 'g', 3, 64)
	}
}
