package detectors

import (
	"math"

	"gonum.org/v1/gonum/stat/distuv"
)

// Chi2Contingency is Pearson's chi-square test of independence on an r×c
// contingency table of counts, as scipy.stats.chi2_contingency (default
// correction=True): expected counts E_ij = row_i·col_j/total, dof =
// (r−1)(c−1), stat = Σ (O−E)²/E, p = the chi-square(dof) survival function
// at stat. When dof = 1 Yates' continuity correction is applied as scipy
// does it: each O_ij moves towards E_ij by min(0.5, |O_ij − E_ij|).
//
// One deliberate difference from scipy: rows and columns whose counts are
// all zero are dropped before the test (scipy raises "The internally
// computed table of expected frequencies has a zero element"). An all-zero
// column is a category seen in neither sample — e.g. an empty topic cluster
// — and carries no evidence either way; dof counts the remaining rows and
// columns. When fewer than two non-empty rows or columns remain (dof = 0)
// the result is stat 0, p 1, dof 0, as in scipy.
//
// A ragged table, or a negative, NaN or infinite entry, gives stat and p NaN
// and dof 0; the detector wrapper Chi2 validates its inputs before calling.
func Chi2Contingency(table [][]float64) (stat, p float64, dof int) {
	if len(table) == 0 {
		return 0, 1, 0
	}
	cols := len(table[0])
	for _, row := range table {
		if len(row) != cols {
			return math.NaN(), math.NaN(), 0
		}
		for _, v := range row {
			if v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
				return math.NaN(), math.NaN(), 0
			}
		}
	}
	rowSum := make([]float64, len(table))
	colSum := make([]float64, cols)
	var total float64
	for i, row := range table {
		for j, v := range row {
			rowSum[i] += v
			colSum[j] += v
			total += v
		}
	}
	var rows, cs []int // indices of the non-empty rows and columns
	for i, s := range rowSum {
		if s > 0 {
			rows = append(rows, i)
		}
	}
	for j, s := range colSum {
		if s > 0 {
			cs = append(cs, j)
		}
	}
	dof = (len(rows) - 1) * (len(cs) - 1)
	if dof <= 0 {
		return 0, 1, 0
	}
	for _, i := range rows {
		for _, j := range cs {
			o := table[i][j]
			e := rowSum[i] * colSum[j] / total
			d := o - e
			if dof == 1 {
				// Yates: shrink |O−E| by at most 0.5.
				d = math.Copysign(math.Max(math.Abs(d)-0.5, 0), d)
			}
			stat += d * d / e
		}
	}
	return stat, chi2Survival(stat, dof), dof
}

// chi2Survival is P(χ²_dof ≥ x).
func chi2Survival(x float64, dof int) float64 {
	if x <= 0 {
		return 1
	}
	return distuv.ChiSquared{K: float64(dof)}.Survival(x)
}
