// Package tokenize counts and encodes text with OpenAI's byte-pair
// encodings (cl100k_base for GPT-3.5/4, o200k_base for GPT-4o and later),
// so that chainwatch's token-count features mean what a provider bills.
//
// The BPE itself is github.com/pkoukk/tiktoken-go (a Go port of
// openai/tiktoken). The rank files are the ones
// github.com/pkoukk/tiktoken-go-loader embeds with go:embed; their SHA-256
// digests equal the expected_hash values in openai/tiktoken's
// tiktoken_ext/openai_public.py (checked in the tests). Nothing is
// downloaded or cached on disk at run time: this package installs the
// loader's offline loader before any encoding is built, so tiktoken-go's
// default loader (HTTP GET plus a cache under $TIKTOKEN_CACHE_DIR) is never
// reached.
package tokenize

import (
	"fmt"
	"sync"

	"github.com/pkoukk/tiktoken-go"
	tiktokenloader "github.com/pkoukk/tiktoken-go-loader"
)

// Encoding names supported.
const (
	CL100kBase = "cl100k_base"
	O200kBase  = "o200k_base"
)

// Encodings lists the encodings New accepts.
var Encodings = []string{CL100kBase, O200kBase}

func init() {
	// tiktoken-go keeps its loader in a package variable; set it once, here,
	// before any caller can build an encoding, so no goroutine ever sees the
	// network loader.
	tiktoken.SetBpeLoader(tiktokenloader.NewOfflineLoader())
}

// Tokenizer encodes text with one BPE encoding. It is safe for concurrent
// use.
type Tokenizer struct {
	name string
	enc  *tiktoken.Tiktoken
}

var (
	mu    sync.Mutex
	cache = map[string]*Tokenizer{}
)

// New returns the tokenizer for encoding ("cl100k_base" or "o200k_base").
// The first call for an encoding parses its embedded rank file (about
// 0.1–0.5 s); later calls return the same Tokenizer.
func New(encoding string) (*Tokenizer, error) {
	switch encoding {
	case CL100kBase, O200kBase:
	default:
		return nil, fmt.Errorf("unknown encoding %q (supported: %v)", encoding, Encodings)
	}
	mu.Lock()
	defer mu.Unlock()
	if t, ok := cache[encoding]; ok {
		return t, nil
	}
	enc, err := tiktoken.GetEncoding(encoding)
	if err != nil {
		return nil, fmt.Errorf("loading encoding %s: %w", encoding, err)
	}
	t := &Tokenizer{name: encoding, enc: enc}
	cache[encoding] = t
	return t, nil
}

// Name is the encoding's name.
func (t *Tokenizer) Name() string { return t.name }

// Encode returns the token ids of text. Special-token strings such as
// "<|endoftext|>" are encoded as ordinary text (tiktoken's encode_ordinary):
// text captured from an application is data, never control tokens.
func (t *Tokenizer) Encode(text string) []int {
	return t.enc.EncodeOrdinary(text)
}

// Count is len(Encode(text)).
func (t *Tokenizer) Count(text string) int {
	if text == "" {
		return 0
	}
	return len(t.enc.EncodeOrdinary(text))
}

// Decode returns the text of token ids.
func (t *Tokenizer) Decode(ids []int) string {
	return t.enc.Decode(ids)
}
