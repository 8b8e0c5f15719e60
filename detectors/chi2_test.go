package detectors

import (
	"math"
	"testing"
)

func TestChi2ContingencyFixtures(t *testing.T) {
	for _, tc := range []struct {
		name    string
		table   [][]float64
		stat, p float64
		dof     int
	}{
		// DETECTORS.md fixtures (scipy.stats.chi2_contingency).
		{"2x3", [][]float64{{10, 20, 30}, {15, 15, 10}}, 8.035714285714285, 0.017991476826658487, 2},
		{"2x2 Yates", [][]float64{{30, 20}, {18, 32}}, 4.847756410256411, 0.02768211649783557, 1},
		// Hand-checkable: |O−E| = 0.25 < 0.5, Yates takes it to 0.
		{"2x2 small diff", [][]float64{{5, 5}, {5, 6}}, 0, 1, 1},
		// One category only: dof 0, scipy returns (0, 1.0, 0).
		{"single column", [][]float64{{3}, {7}}, 0, 1, 0},
		// An all-zero column is dropped (scipy would raise).
		{"empty category", [][]float64{{10, 0, 20, 30}, {15, 0, 15, 10}}, 8.035714285714285, 0.017991476826658487, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stat, p, dof := Chi2Contingency(tc.table)
			if dof != tc.dof || !uniClose(stat, tc.stat, 1e-12) || !uniClose(p, tc.p, 1e-9) {
				t.Errorf("got (%.10g, %.10g, %d), want (%.10g, %.10g, %d)", stat, p, dof, tc.stat, tc.p, tc.dof)
			}
		})
	}
}

func TestChi2ContingencyBadInput(t *testing.T) {
	for _, table := range [][][]float64{
		{{1, 2}, {3}},
		{{1, -2}, {3, 4}},
		{{1, math.NaN()}, {3, 4}},
		{{1, math.Inf(1)}, {3, 4}},
	} {
		if stat, p, _ := Chi2Contingency(table); !math.IsNaN(stat) || !math.IsNaN(p) {
			t.Errorf("%v: got (%g, %g), want NaN", table, stat, p)
		}
	}
}

// uniClose reports whether got is within rel relative (or absolute, near 0)
// tolerance of want.
func uniClose(got, want, rel float64) bool {
	if math.IsNaN(got) || math.IsNaN(want) {
		return math.IsNaN(got) && math.IsNaN(want)
	}
	return math.Abs(got-want) <= rel*math.Max(math.Abs(want), 1e-300) || math.Abs(got-want) < 1e-300
}
