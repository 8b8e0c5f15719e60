// Package embedding turns texts into embedding vectors for the monitors: the
// Embedder interface, two providers (Lexical, the built-in offline default,
// and OpenAI, any OpenAI-compatible /v1/embeddings endpoint), a ClickHouse
// cache in front of either (Cached), their Prometheus metrics and the
// "embeddings" section of the config (Config, New).
//
//	e, err := embedding.New(cfg.Embeddings, conn, prometheus.DefaultRegisterer)
//	vecs, err := e.Embed(ctx, texts) // one vector per text, in order
package embedding

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
)

// Embedder turns texts into vectors.
//
// ID names the model and everything that shapes its output — provider,
// model, dimension, seed, endpoint — for example "lexical-v1/dim=256/seed=0"
// or "openai:text-embedding-3-small@https://api.openai.com". Two embedders
// with the same ID must return the same vector for the same text (up to the
// provider's own non-determinism), and vectors are comparable only between
// equal IDs: the ID is the key of the ClickHouse cache (with the text's
// hash), a label on the metrics, and what a monitor records beside its
// results. It is constant for the life of the value, never contains
// credentials, and changes whenever the output would.
//
// Embed returns exactly one vector per text, in the order of texts, all of
// the same dimension, or an error and no vectors: never a partial answer.
// An empty texts returns an empty result and no error. Embed is safe for
// concurrent use, honours ctx's cancellation and deadline, and does not
// modify texts. Callers must not modify the returned vectors either: a
// cache may hand the same slice to several positions (equal texts).
type Embedder interface {
	ID() string
	Embed(ctx context.Context, texts []string) ([][]float32, error)
}

// TextHash is the cache key of a text: the hex SHA-256 of its UTF-8 bytes.
func TextHash(text string) string {
	sum := sha256.Sum256([]byte(text))
	return hex.EncodeToString(sum[:])
}

// checkDims reports an error unless every vector has the same, non-zero
// dimension (and, when want > 0, that dimension is want). what names the
// vectors in the message.
func checkDims(vecs [][]float32, want int, what string) error {
	if len(vecs) == 0 {
		return nil
	}
	d := len(vecs[0])
	if want > 0 && d != want {
		return fmt.Errorf("%s: vector 0 has %d dimensions, want %d", what, d, want)
	}
	for i, v := range vecs {
		if len(v) == 0 {
			return fmt.Errorf("%s: vector %d is empty", what, i)
		}
		if len(v) != d {
			return fmt.Errorf("%s: vector %d has %d dimensions, vector 0 has %d", what, i, len(v), d)
		}
	}
	return nil
}
