package detectors

import (
	"hash/fnv"
	"maps"
	"math"
	"slices"
	"strings"
	"unicode"

	"gonum.org/v1/gonum/mat"
)

// LexicalEmbedder is the built-in offline text embedder of the embedded
// default: hashed word unigrams and bigrams and character trigrams (the
// "hashing trick", Weinberger et al. 2009) with sublinear counts, projected
// to Dim dimensions by a fixed random ±1 projection drawn from Seed, then
// L2-normalised. It needs no model and no network; texts that share words
// and spellings land near each other, which is what drift on vocabulary,
// topic and language needs. It is not a semantic model: paraphrases with no
// shared words are far apart.
type LexicalEmbedder struct {
	Dim     int    // output dimensions (default 256)
	Buckets int    // hashed feature space (default 1<<16)
	Seed    uint64 // the projection; embeddings are comparable only under the same seed
}

// DefaultLexicalDim is LexicalEmbedder.Dim's default.
const DefaultLexicalDim = 256

// Embed returns one row per text (nil for no texts: gonum has no empty
// matrices).
func (e LexicalEmbedder) Embed(texts []string) *mat.Dense {
	if len(texts) == 0 {
		return nil
	}
	dim, buckets := e.Dim, e.Buckets
	if dim <= 0 {
		dim = DefaultLexicalDim
	}
	if buckets <= 0 {
		buckets = 1 << 16
	}
	out := mat.NewDense(len(texts), dim, nil)
	counts := map[uint32]float64{}
	for i, t := range texts {
		clear(counts)
		lexicalFeatures(t, uint32(buckets), counts)
		row := out.RawRowView(i)
		// Features in a fixed order: the sums below are then the same on
		// every run (in map order their last bits varied run to run).
		for _, f := range slices.Sorted(maps.Keys(counts)) {
			w := 1 + math.Log(counts[f]) // sublinear term frequency
			// The projection column of feature f: dim signs from a hash of
			// (seed, f), so no dim × buckets matrix is stored.
			h := splitmix(e.Seed ^ uint64(f)*0x9e3779b97f4a7c15)
			for j := 0; j < dim; j++ {
				if j%64 == 0 && j > 0 {
					h = splitmix(h)
				}
				if h>>(j%64)&1 == 1 {
					row[j] += w
				} else {
					row[j] -= w
				}
			}
		}
		var norm float64
		for _, v := range row {
			norm += v * v
		}
		if norm > 0 {
			norm = 1 / math.Sqrt(norm)
			for j := range row {
				row[j] *= norm
			}
		}
	}
	return out
}

func lexicalFeatures(text string, buckets uint32, counts map[uint32]float64) {
	words := strings.FieldsFunc(strings.ToLower(text), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsNumber(r) })
	add := func(kind byte, s string) {
		h := fnv.New32a()
		h.Write([]byte{kind})
		h.Write([]byte(s))
		counts[h.Sum32()%buckets]++
	}
	for i, w := range words {
		add('w', w)
		if i > 0 {
			add('b', words[i-1]+" "+w)
		}
		r := []rune(" " + w + " ")
		for j := 0; j+3 <= len(r); j++ {
			add('c', string(r[j:j+3]))
		}
	}
}

func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}
