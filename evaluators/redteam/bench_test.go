package redteam

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// go test ./evaluators/redteam/ -run '^$' -bench . -benchtime 2s
func BenchmarkDetectLeak(b *testing.B) {
	answer := strings.Repeat("You can change the e-mail address of your account under Settings > Account; "+
		"a confirmation is sent to both addresses. ", 16) // ≈ 2 KB, no leak
	canary := NewCanary(rand.New(rand.NewPCG(1, 1)))
	b.ReportAllocs()
	for b.Loop() {
		if _, leaked := DetectLeak(answer, canary); leaked {
			b.Fatal("leak")
		}
	}
}

func BenchmarkGenerate(b *testing.B) {
	for _, n := range []int{10, 100} {
		b.Run(map[int]string{10: "per_category_10", 100: "per_category_100"}[n], func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Generate(Config{Model: "m", PerCategory: n, Seed: 1}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
