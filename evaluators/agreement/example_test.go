package agreement_test

import (
	"fmt"

	"github.com/chainwatch/chainwatch/evaluators/agreement"
)

func ExampleAnalyze() {
	// A 1–5 judge against thumbs: 20 traces both positive, 5 judged good but
	// thumbed down, 10 judged poor but thumbed up, 15 both negative.
	var pairs []agreement.Pair
	for _, c := range []struct {
		n            int
		judge, thumb float64
	}{{20, 5, 1}, {5, 4, 0}, {10, 2, 1}, {15, 1, 0}} {
		for range c.n {
			pairs = append(pairs, agreement.Pair{Judge: c.judge, Human: c.thumb})
		}
	}
	r := agreement.Analyze("judge_pointwise", "quality", pairs, agreement.Options{})
	fmt.Println(r.Verdict)
	fmt.Printf("κ = %.4f, 95%% CI [%.4f, %.4f]\n", r.Kappa.Kappa, r.Kappa.Lower, r.Kappa.Upper)
	// Output:
	// judge agrees with users: fair (κ = 0.40, n = 50)
	// κ = 0.4000, 95% CI [0.1511, 0.6489]
}

func ExampleSpearmanRho() {
	s, _ := agreement.SpearmanRho([]float64{1, 2, 3, 4, 5}, []float64{5, 6, 7, 8, 7})
	fmt.Printf("ρ = %.6f, p = %.6f\n", s.Rho, s.P)
	// Output: ρ = 0.820783, p = 0.088587
}
