package detectors

import (
	"errors"
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"
)

// Reducer maps embeddings (one row per instance) to fewer dimensions before
// a multivariate test, as Alibi Detect's preprocess_fn does with PCA or an
// untrained autoencoder. A Reducer is fitted (if at all) on the reference
// window only and then applied unchanged to both windows, so the reduction
// itself cannot hide or create drift between them.
type Reducer interface {
	Reduce(x *mat.Dense) *mat.Dense
}

var (
	_ Reducer = (*PCA)(nil)
	_ Reducer = (*RandomProjection)(nil)
)

// PCA is a principal-component projection fitted on a reference sample.
type PCA struct {
	mean       []float64  // reference column means (length d)
	components *mat.Dense // d × k, orthonormal columns, by decreasing variance
	variance   []float64  // variance along each kept component (ddof 1)
	ratio      []float64  // share of the reference's total variance per component
}

// FitPCA fits k principal components to ref (n × d): centre by the column
// means of ref, take the thin SVD ref_c = U S Vᵀ, keep the first k right
// singular vectors. Each component's sign is fixed so that its largest
// absolute loading is positive, which makes the projection deterministic
// across platforms (LAPACK may return either sign). Needs 1 ≤ k ≤ min(n, d)
// and n ≥ 2.
func FitPCA(ref *mat.Dense, k int) (*PCA, error) {
	if ref == nil {
		return nil, errors.New("fitting pca: reference sample is required")
	}
	n, d := ref.Dims()
	if n < 2 {
		return nil, fmt.Errorf("fitting pca: need at least 2 reference rows, got %d", n)
	}
	if k < 1 || k > d || k > n {
		return nil, fmt.Errorf("fitting pca: k must be in [1, min(n, d)] = [1, %d], got %d", min(n, d), k)
	}
	mean := make([]float64, d)
	for i := 0; i < n; i++ {
		for j, v := range ref.RawRowView(i) {
			mean[j] += v
		}
	}
	for j := range mean {
		mean[j] /= float64(n)
	}
	centred := mat.NewDense(n, d, nil)
	for i := 0; i < n; i++ {
		row, src := centred.RawRowView(i), ref.RawRowView(i)
		for j := range row {
			row[j] = src[j] - mean[j]
		}
	}
	var svd mat.SVD
	if !svd.Factorize(centred, mat.SVDThinV) {
		return nil, errors.New("fitting pca: singular value decomposition did not converge")
	}
	s := svd.Values(nil)
	var v mat.Dense
	svd.VTo(&v)
	var total float64
	for _, sv := range s {
		total += sv * sv
	}
	comps := mat.NewDense(d, k, nil)
	variance := make([]float64, k)
	ratio := make([]float64, k)
	for c := 0; c < k; c++ {
		// Sign convention: the largest |loading| is positive.
		var big float64
		for j := 0; j < d; j++ {
			if a := v.At(j, c); math.Abs(a) > math.Abs(big) {
				big = a
			}
		}
		sign := 1.0
		if big < 0 {
			sign = -1
		}
		for j := 0; j < d; j++ {
			comps.Set(j, c, sign*v.At(j, c))
		}
		variance[c] = s[c] * s[c] / float64(n-1)
		if total > 0 {
			ratio[c] = s[c] * s[c] / total
		}
	}
	return &PCA{mean: mean, components: comps, variance: variance, ratio: ratio}, nil
}

// Reduce projects x (m × d) onto the components: (x − mean_ref) · V_k.
// It panics if x does not have the reference's d columns.
func (p *PCA) Reduce(x *mat.Dense) *mat.Dense {
	m, d := x.Dims()
	if d != len(p.mean) {
		panic(fmt.Sprintf("pca: input has %d features, fitted on %d", d, len(p.mean)))
	}
	centred := mat.NewDense(m, d, nil)
	for i := 0; i < m; i++ {
		row, src := centred.RawRowView(i), x.RawRowView(i)
		for j := range row {
			row[j] = src[j] - p.mean[j]
		}
	}
	_, k := p.components.Dims()
	out := mat.NewDense(m, k, nil)
	out.Mul(centred, p.components)
	return out
}

// Components returns a copy of the d × k loading matrix.
func (p *PCA) Components() *mat.Dense { return mat.DenseCopyOf(p.components) }

// ExplainedVariance is the reference variance (ddof 1) along each component.
func (p *PCA) ExplainedVariance() []float64 { return append([]float64(nil), p.variance...) }

// ExplainedVarianceRatio is each component's share of the reference's total
// variance; the sum is the share the k components keep.
func (p *PCA) ExplainedVarianceRatio() []float64 { return append([]float64(nil), p.ratio...) }

// RandomProjection is an untrained Gaussian random projection
// (Johnson–Lindenstrauss): R is d × k with entries N(0, 1)/√k, so
// E‖xR‖² = ‖x‖² and pairwise distances are kept within 1 ± ε with high
// probability once k ≳ 8 ln(n)/ε² (Dasgupta & Gupta 2003). Alibi Detect's
// "untrained autoencoder" reducer serves the same purpose; a linear
// projection needs no training and no framework.
type RandomProjection struct {
	r *mat.Dense // d × k
}

// NewRandomProjection draws the d × k projection from NewRand(seed). The same
// (d, k, seed) gives the same projection on every platform. It panics if d
// or k is not positive.
func NewRandomProjection(d, k int, seed uint64) *RandomProjection {
	if d <= 0 || k <= 0 {
		panic(fmt.Sprintf("random projection: d and k must be > 0, got %d and %d", d, k))
	}
	rng := NewRand(seed)
	scale := 1 / math.Sqrt(float64(k))
	data := make([]float64, d*k)
	for i := range data {
		data[i] = rng.NormFloat64() * scale
	}
	return &RandomProjection{r: mat.NewDense(d, k, data)}
}

// Reduce returns x · R (m × k). It panics if x does not have d columns.
func (p *RandomProjection) Reduce(x *mat.Dense) *mat.Dense {
	m, d := x.Dims()
	rd, k := p.r.Dims()
	if d != rd {
		panic(fmt.Sprintf("random projection: input has %d features, projection expects %d", d, rd))
	}
	out := mat.NewDense(m, k, nil)
	out.Mul(x, p.r)
	return out
}
