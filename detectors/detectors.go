// Package detectors holds chainwatch's statistical drift tests: pure
// functions over a reference sample and a current sample (and, for the
// context-aware test, their contexts). No I/O; deterministic under a seed.
// Definitions follow ../shared/DETECTORS.md (the literature and Alibi
// Detect's conventions); deviations are documented where they are made.
//
// Multivariate samples are *mat.Dense (gonum), one row per instance;
// univariate ones []float64; categorical ones []string.
package detectors

import (
	"errors"
	"fmt"
	"math/rand/v2"

	"gonum.org/v1/gonum/mat"
)

// DefaultPVal is the significance level every test defaults to.
const DefaultPVal = 0.05

// Result is what every test returns. Multivariate tests fill Statistic and
// PValue; per-feature tests (KS, chi-square, CvM, …) fill Statistics and
// PValues, one per feature, and report the corrected verdict in Drift and
// Threshold. Distances without a p-value leave HasPValue false.
type Result struct {
	Detector   string
	Statistic  float64
	PValue     float64
	Statistics []float64
	PValues    []float64
	HasPValue  bool
	Threshold  float64 // on the statistic for permutation tests; on the p-value for corrected per-feature tests
	Drift      bool
	NRef, NCur int
	// Params are the effective parameters, defaults and data-derived values
	// (e.g. the bandwidth the median heuristic chose) included.
	Params map[string]any
}

// NewRand is the package's seeded generator: the same seed gives the same
// stream on every platform.
func NewRand(seed uint64) *rand.Rand {
	return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
}

// checkSamples validates a pair of multivariate samples.
func checkSamples(x, y *mat.Dense, minRows int) error {
	if x == nil || y == nil {
		return errors.New("reference and current samples are required")
	}
	nx, dx := x.Dims()
	ny, dy := y.Dims()
	if dx != dy {
		return fmt.Errorf("reference has %d features, current has %d", dx, dy)
	}
	if nx < minRows || ny < minRows {
		return fmt.Errorf("need at least %d rows in each sample, got %d and %d", minRows, nx, ny)
	}
	return nil
}

// orDefault is v, or def when v is its type's zero value (the options'
// "zero takes the default" rule).
func orDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}
