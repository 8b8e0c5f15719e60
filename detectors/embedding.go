package detectors

import (
	"errors"
	"math"

	"gonum.org/v1/gonum/mat"
)

// PermutationOptions configures the permutation tests on embeddings (Energy,
// CentroidCosine). Zero values take the defaults.
type PermutationOptions struct {
	PVal          float64 `yaml:"p_val"`          // significance level (default 0.05)
	NPermutations int     `yaml:"n_permutations"` // B (default DefaultNPermutations, 100)
	Seed          uint64  `yaml:"seed"`           // the permutations are drawn from NewRand(Seed)
}

// Validate reports every invalid field, naming its YAML key.
func (o PermutationOptions) Validate() error {
	return errors.Join(validatePVal(o.PVal), validateNPermutations(o.NPermutations))
}

func (o PermutationOptions) withDefaults() PermutationOptions {
	o.PVal = orDefault(o.PVal, DefaultPVal)
	o.NPermutations = orDefault(o.NPermutations, DefaultNPermutations)
	return o
}

// EnergyDistance is the energy distance between the empirical distributions
// of the rows of x (n × d) and y (m × d), scipy.stats.energy_distance's
// definition generalised from 1-D to Euclidean distances in d dimensions:
//
//	D(X, Y) = sqrt(2·A − B − C),
//	A = (1/(n·m)) Σ_i Σ_j ‖x_i − y_j‖,
//	B = (1/n²) Σ_i Σ_j ‖x_i − x_j‖,   C = (1/m²) Σ_i Σ_j ‖y_i − y_j‖
//
// (V-statistics: the zero i = j terms are included, as in scipy, which
// computes the same quantity as √2 times the L2 distance between the two
// empirical CDFs). D² is Székely & Rizzo's energy statistic E_{n,m} up to the
// factor n·m/(n+m); D ≥ 0, and D = 0 iff the two samples have the same
// empirical distribution. For d = 1 it equals scipy's value (tested against
// scipy 1.10.1). Distances come from PairwiseSqDist (‖a‖² + ‖b‖² − 2a·b
// with the dot products from gram.go's kernel), so a distance between nearly coincident points carries an
// absolute error of about 1e-8·‖a‖; D is accurate to that order. NaN for
// nil, empty or mismatched inputs. Memory and time are O((n+m)²·d).
func EnergyDistance(x, y *mat.Dense) float64 {
	if checkSamples(x, y, 1) != nil {
		return math.NaN()
	}
	n, _ := x.Dims()
	m, _ := y.Dims()
	xx, yy, xy := energyBlockSum(x, x, true), energyBlockSum(y, y, true), energyBlockSum(x, y, false)
	return energyFromSums(xx, yy, xy, n, m)
}

// energyBlockSum is Σ_i Σ_j ‖a_i − b_j‖; with self set (a == b) the
// diagonal is taken as exactly 0.
func energyBlockSum(a, b *mat.Dense, self bool) float64 {
	sq := PairwiseSqDist(a, b)
	r, c := sq.Dims()
	var s float64
	for i := 0; i < r; i++ {
		row := sq.RawRowView(i)
		for j := 0; j < c; j++ {
			if self && i == j {
				continue
			}
			s += embDist(row[j])
		}
	}
	return s
}

func energyFromSums(xx, yy, xy float64, n, m int) float64 {
	fn, fm := float64(n), float64(m)
	e2 := 2*xy/(fn*fm) - xx/(fn*fn) - yy/(fm*fm)
	return math.Sqrt(math.Max(e2, 0))
}

// Energy is the energy-distance two-sample test on embeddings: does the
// distribution of the current embeddings differ from the reference's in any
// way (location, spread, shape)? The statistic is EnergyDistance(x, y); its
// null distribution is simulated by B random relabellings of the pooled
// rows (drawn from NewRand(o.Seed)), reusing one pooled distance matrix.
// p = PermutationPValue (the share of permuted statistics ≥ the observed
// one, no +1), Threshold = PermutationThreshold (the permuted statistic at
// index ⌊p_val·B⌋ in descending order), Drift iff p < p_val — the shared
// conventions of ../shared/DETECTORS.md. Memory O((n+m)²); time
// O((n+m)²·d + B·min(n,m)²).
func Energy(x, y *mat.Dense, o PermutationOptions) (Result, error) {
	if err := o.Validate(); err != nil {
		return Result{}, err
	}
	o = o.withDefaults()
	if err := checkSamples(x, y, 1); err != nil {
		return Result{}, err
	}
	n, _ := x.Dims()
	m, _ := y.Dims()
	N := n + m
	z := stackRows(x, y)
	dist := PairwiseSqDist(z, z)
	// Euclidean distances in place; exact zeros on the diagonal.
	for i := 0; i < N; i++ {
		row := dist.RawRowView(i)
		for j := range row {
			if i == j {
				row[j] = 0
			} else {
				row[j] = embDist(row[j])
			}
		}
	}
	rowSum := make([]float64, N)
	var total float64
	for i := 0; i < N; i++ {
		for _, v := range dist.RawRowView(i) {
			rowSum[i] += v
		}
		total += rowSum[i]
	}
	// stat for the split whose first n indices of idx are the reference.
	// Only the smaller group's within-sum is computed directly (O(min²)):
	// Σ_AB = Σ_{i∈A} r_i − Σ_AA and Σ_BB = S − Σ_AA − 2·Σ_AB.
	stat := func(idx []int) float64 {
		small := idx[:n]
		if m < n {
			small = idx[n:]
		}
		var within, rows float64
		for _, i := range small {
			row := dist.RawRowView(i)
			rows += rowSum[i]
			for _, j := range small {
				within += row[j]
			}
		}
		between := rows - within
		other := total - within - 2*between
		if m < n {
			return energyFromSums(other, within, between, n, m)
		}
		return energyFromSums(within, other, between, n, m)
	}
	return relabelTest("energy", n, m, o, stat), nil
}

// CentroidCosine is the cosine distance between the mean reference
// embedding and the mean current embedding, 1 − cos(x̄, ȳ), with a
// permutation p-value under the shared conventions (see Energy). It asks
// whether the average direction of the embeddings moved — the cheapest
// embedding-drift signal, blind to changes that keep the mean (a change in
// spread or a split into two topics with the same centroid). Cosine distance
// ignores the mean's length; it is meaningful for embeddings whose mean is
// away from the origin (typical of sentence-embedding models); for centred
// data use Energy. By convention the distance is 0 when both means are
// zero vectors and 1 when exactly one is. Time O(B·min(n,m)·d).
func CentroidCosine(x, y *mat.Dense, o PermutationOptions) (Result, error) {
	if err := o.Validate(); err != nil {
		return Result{}, err
	}
	o = o.withDefaults()
	if err := checkSamples(x, y, 1); err != nil {
		return Result{}, err
	}
	n, d := x.Dims()
	m, _ := y.Dims()
	N := n + m
	z := stackRows(x, y)
	total := make([]float64, d)
	for i := 0; i < N; i++ {
		for j, v := range z.RawRowView(i) {
			total[j] += v
		}
	}
	sumA, sumB := make([]float64, d), make([]float64, d)
	// stat for the split whose first n indices of idx are the reference.
	// Sums (not means) suffice: cosine ignores length.
	stat := func(idx []int) float64 {
		small, a, b := idx[:n], sumA, sumB
		if m < n {
			small, a, b = idx[n:], sumB, sumA
		}
		clear(a)
		for _, i := range small {
			for j, v := range z.RawRowView(i) {
				a[j] += v
			}
		}
		for j := range b {
			b[j] = total[j] - a[j]
		}
		return embCosineDistance(sumA, sumB)
	}
	return relabelTest("centroid_cosine", n, m, o, stat), nil
}

// relabelTest runs a permutation test over a statistic of a relabelling:
// stat(idx) treats the rows idx[:n] of the pooled sample as the reference.
// The observed split is the identity; B seeded shuffles give the null.
func relabelTest(name string, n, m int, o PermutationOptions, stat func(idx []int) float64) Result {
	idx := make([]int, n+m)
	for i := range idx {
		idx[i] = i
	}
	observed := stat(idx)
	rng := NewRand(o.Seed)
	permuted := make([]float64, o.NPermutations)
	for b := range permuted {
		rng.Shuffle(len(idx), func(i, j int) { idx[i], idx[j] = idx[j], idx[i] })
		permuted[b] = stat(idx)
	}
	r := Result{
		Detector: name,
		NRef:     n,
		NCur:     m,
		Params: map[string]any{
			"p_val":          o.PVal,
			"n_permutations": o.NPermutations,
			"seed":           o.Seed,
		},
	}
	permutationResult(&r, observed, permuted, o.PVal)
	return r
}

// embCosineDistance is 1 − a·b/(‖a‖‖b‖); 0 when both are zero, 1 when one is.
func embCosineDistance(a, b []float64) float64 {
	var dot, na, nb float64
	for i := range a {
		dot += a[i] * b[i]
		na += a[i] * a[i]
		nb += b[i] * b[i]
	}
	switch {
	case na == 0 && nb == 0:
		return 0
	case na == 0 || nb == 0:
		return 1
	}
	c := dot / (math.Sqrt(na) * math.Sqrt(nb))
	return 1 - math.Max(-1, math.Min(1, c))
}

// embDist turns a squared distance from PairwiseSqDist into a distance,
// mapping its MinSqDist floor back to 0 (energy sums distances, and
// √1e-30 = 1e-15 per coincident pair would otherwise keep D(X, X) off 0).
func embDist(sq float64) float64 {
	if sq <= MinSqDist {
		return 0
	}
	return math.Sqrt(sq)
}

func init() {
	perm := func(name, doc string, test func(x, y *mat.Dense, o PermutationOptions) (Result, error)) Detector {
		return Detector{
			Name: name, Kind: Multivariate, Forms: []Form{Vectors}, Doc: doc,
			Params: []Param{pValParam(), nPermutationsParam(DefaultNPermutations)},
			Run: func(in Input) (Result, error) {
				p := in.Params
				return test(in.Ref.X, in.Cur.X, PermutationOptions{PVal: p.Float("p_val"), NPermutations: p.Int("n_permutations"), Seed: in.Seed})
			},
		}
	}
	Register(perm("energy", "did the embedding distribution change (location, spread, shape)? Energy distance, permutation p-value", Energy))
	Register(perm("centroid_cosine", "did the embeddings' average direction move? Cosine distance of the centroids, permutation p-value", CentroidCosine))
}
