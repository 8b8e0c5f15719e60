package embedding

import (
	"context"
	"fmt"

	"github.com/chainwatch/chainwatch/detectors"
)

// LexicalVersion names the feature scheme of detectors.LexicalEmbedder
// (hashed word unigrams and bigrams and character trigrams into 2¹⁶
// buckets). It is part of Lexical's ID: bump it whenever that scheme
// changes, so cached vectors of the old scheme are not reused.
const LexicalVersion = "lexical-v1"

// Lexical is the built-in offline embedder (detectors.LexicalEmbedder):
// hashed word and character n-grams with a fixed random projection to Dim
// dimensions drawn from Seed, L2-normalised. It needs no model and no
// network, is deterministic, and is the embedded default. It is lexical, not
// semantic: see detectors.LexicalEmbedder.
type Lexical struct {
	e  detectors.LexicalEmbedder
	id string
}

var _ Embedder = (*Lexical)(nil)

// NewLexical returns a lexical embedder of dim dimensions (0 takes
// DefaultDim) under seed.
func NewLexical(dim int, seed uint64) *Lexical {
	if dim <= 0 {
		dim = DefaultDim
	}
	return &Lexical{
		e:  detectors.LexicalEmbedder{Dim: dim, Seed: seed},
		id: fmt.Sprintf("%s/dim=%d/seed=%d", LexicalVersion, dim, seed),
	}
}

// ID is "lexical-v1/dim=D/seed=S".
func (l *Lexical) ID() string { return l.id }

// Embed embeds texts on the calling goroutine; the float64 results of the
// projection are rounded to float32.
func (l *Lexical) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("embedding %d texts: %w", len(texts), err)
	}
	if len(texts) == 0 {
		return [][]float32{}, nil
	}
	m := l.e.Embed(texts)
	_, dim := m.Dims()
	flat := make([]float32, len(texts)*dim) // one allocation for all rows
	out := make([][]float32, len(texts))
	for i := range texts {
		row := m.RawRowView(i)
		v := flat[i*dim : (i+1)*dim : (i+1)*dim]
		for j, x := range row {
			v[j] = float32(x)
		}
		out[i] = v
	}
	return out, nil
}
