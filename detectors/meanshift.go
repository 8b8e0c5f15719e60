package detectors

import (
	"math"

	"gonum.org/v1/gonum/mat"
)

// Mean-shift z-test: did a numeric feature's mean move? For each feature,
// z = (ȳ − x̄) / sqrt(s²_x/n + s²_y/m) with the sample variances (n − 1),
// and the two-sided normal p-value erfc(|z|/√2) — Welch's statistic with the
// large-sample normal reference, fine from a few dozen rows a side. Blind to
// changes that keep the mean (spread, shape): use ks or cvm for those.
// Two constant features with equal means give z = 0, p = 1; with different
// means, z = ±Inf, p = 0.

func init() {
	Register(Detector{
		Name: "mean_shift", Kind: Univariate, Forms: []Form{Numeric},
		Doc:    "did a numeric feature's mean move? Welch z-test per feature (normal p-value), corrected across features",
		Params: []Param{pValParam(), correctionParam()},
		Run: func(in Input) (Result, error) {
			return MeanShift(in.Ref.X, in.Cur.X, univariateOptions(in.Params))
		},
	})
}

// MeanShift runs MeanZTest on every feature of x (reference) and y
// (current), at least two rows each, and corrects across features.
// Statistics are the z's, PValues their two-sided p-values.
func MeanShift(x, y *mat.Dense, o UnivariateOptions) (Result, error) {
	if err := checkSamples(x, y, 2); err != nil {
		return Result{}, err
	}
	return perFeature("mean_shift", x, y, o, MeanZTest)
}

// MeanZTest is the two-sample z statistic of mean(b) − mean(a) and its
// two-sided normal p-value.
func MeanZTest(a, b []float64) (z, p float64) {
	ma, va := meanVar(a)
	mb, vb := meanVar(b)
	se := math.Sqrt(va/float64(len(a)) + vb/float64(len(b)))
	switch d := mb - ma; {
	case se > 0:
		z = d / se
	case d == 0:
		return 0, 1
	default:
		z = math.Copysign(math.Inf(1), d)
	}
	return z, math.Erfc(math.Abs(z) / math.Sqrt2)
}

// meanVar is the mean and the sample variance (n − 1).
func meanVar(v []float64) (mean, variance float64) {
	for _, x := range v {
		mean += x
	}
	mean /= float64(len(v))
	for _, x := range v {
		variance += (x - mean) * (x - mean)
	}
	return mean, variance / float64(len(v)-1)
}
