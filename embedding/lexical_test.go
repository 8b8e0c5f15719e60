package embedding_test

import (
	"context"
	"math"
	"testing"

	"github.com/chainwatch/chainwatch/detectors"
	"github.com/chainwatch/chainwatch/embedding"
)

func TestLexicalDeterministic(t *testing.T) {
	ctx := context.Background()
	in := []string{"The refund policy allows 30 days.", "Die Rückgabe ist 30 Tage möglich.", "", "The refund policy allows 30 days."}
	a, err := embedding.NewLexical(64, 7).Embed(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	b, err := embedding.NewLexical(64, 7).Embed(ctx, in) // another instance
	if err != nil {
		t.Fatal(err)
	}
	bitsEqual(t, a, b)
	bitsEqual(t, a[:1], a[3:]) // equal texts, equal vectors
	// The float32 vectors are the detectors' float64 ones, rounded.
	m := detectors.LexicalEmbedder{Dim: 64, Seed: 7}.Embed(in)
	for i := range in {
		for j, x := range m.RawRowView(i) {
			if a[i][j] != float32(x) {
				t.Fatalf("text %d dim %d: %v, detectors gives %v", i, j, a[i][j], x)
			}
		}
	}
	var norm float64
	for _, x := range a[0] {
		norm += float64(x) * float64(x)
	}
	if math.Abs(norm-1) > 1e-5 {
		t.Fatalf("|v|² = %v, want 1", norm)
	}
	c, err := embedding.NewLexical(64, 8).Embed(ctx, in[:1])
	if err != nil {
		t.Fatal(err)
	}
	same := true
	for j := range c[0] {
		same = same && c[0][j] == a[0][j]
	}
	if same {
		t.Fatal("seeds 7 and 8 gave the same vector")
	}
}

func TestLexicalIDAndShape(t *testing.T) {
	for _, tc := range []struct {
		dim  int
		seed uint64
		id   string
		want int
	}{
		{0, 0, "lexical-v1/dim=256/seed=0", 256},
		{32, 42, "lexical-v1/dim=32/seed=42", 32},
	} {
		l := embedding.NewLexical(tc.dim, tc.seed)
		if l.ID() != tc.id {
			t.Errorf("ID %q, want %q", l.ID(), tc.id)
		}
		v, err := l.Embed(context.Background(), []string{"a b", "c"})
		if err != nil || len(v) != 2 || len(v[0]) != tc.want || len(v[1]) != tc.want {
			t.Errorf("dim %d: got %d vectors, err %v", tc.dim, len(v), err)
		}
	}
	v, err := embedding.NewLexical(8, 0).Embed(context.Background(), nil)
	if err != nil || len(v) != 0 {
		t.Fatalf("no texts: %v %v", v, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := embedding.NewLexical(8, 0).Embed(ctx, []string{"a"}); err == nil {
		t.Fatal("a cancelled context embedded")
	}
}
