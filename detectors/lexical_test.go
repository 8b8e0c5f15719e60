package detectors

import (
	"math"
	"testing"

	"gonum.org/v1/gonum/floats"
)

func TestLexicalEmbedder(t *testing.T) {
	e := LexicalEmbedder{Dim: 128, Seed: 7}
	x := e.Embed([]string{
		"How do I reset my password?",
		"how can I reset the password",
		"¿Cómo restablezco mi contraseña?",
		"What is the refund policy for damaged items?",
	})
	r, c := x.Dims()
	if r != 4 || c != 128 {
		t.Fatalf("dims %d×%d", r, c)
	}
	cos := func(i, j int) float64 { return floats.Dot(x.RawRowView(i), x.RawRowView(j)) }
	for i := 0; i < 4; i++ {
		if n := cos(i, i); math.Abs(n-1) > 1e-9 {
			t.Fatalf("row %d norm² %v", i, n)
		}
	}
	if !(cos(0, 1) > cos(0, 3) && cos(0, 1) > cos(0, 2)) {
		t.Fatalf("paraphrase sharing words not nearest: same %.3f, other language %.3f, other topic %.3f", cos(0, 1), cos(0, 2), cos(0, 3))
	}
	again := LexicalEmbedder{Dim: 128, Seed: 7}.Embed([]string{"How do I reset my password?"})
	if !floats.Equal(again.RawRowView(0), x.RawRowView(0)) {
		t.Fatal("not deterministic under a seed")
	}
}
