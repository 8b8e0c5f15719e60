package tokenize

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/pkoukk/tiktoken-go-loader/assets"
)

// netAttempts counts HTTP requests made through the default transport while
// the tests run; tiktoken-go's default loader fetches rank files with
// http.Get, so any attempt to download would land here.
var netAttempts atomic.Int64

type refuseTransport struct{}

func (refuseTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	netAttempts.Add(1)
	return nil, errors.New("network disabled in tests: " + r.URL.String())
}

func TestMain(m *testing.M) {
	http.DefaultTransport = refuseTransport{}
	cacheDir, err := os.MkdirTemp("", "tiktoken-cache")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	// tiktoken-go's default loader would read and write its cache here.
	os.Setenv("TIKTOKEN_CACHE_DIR", cacheDir)
	os.Setenv("HTTPS_PROXY", "http://127.0.0.1:1")
	code := m.Run()
	entries, _ := os.ReadDir(cacheDir)
	os.RemoveAll(cacheDir)
	if n := netAttempts.Load(); n != 0 {
		fmt.Fprintf(os.Stderr, "FAIL: %d network attempts while building tokenizers\n", n)
		code = 1
	}
	if len(entries) != 0 {
		fmt.Fprintf(os.Stderr, "FAIL: the tiktoken download cache was written (%d entries)\n", len(entries))
		code = 1
	}
	os.Exit(code)
}

// Expected ids from openai/tiktoken's tests/test_encoding.py (cl100k_base:
// "hello world", "rer", "'rer", "today\n …", the emoji), OpenAI's cookbook
// ("tiktoken is great!" → 6 tokens) and published o200k_base vectors
// ("hello world" → [24912 2375]).
func TestKnownEncodings(t *testing.T) {
	tests := []struct {
		enc, text string
		want      []int
	}{
		{CL100kBase, "hello world", []int{15339, 1917}},
		{CL100kBase, "tiktoken is great!", []int{83, 1609, 5963, 374, 2294, 0}},
		{CL100kBase, "rer", []int{38149}},
		{CL100kBase, "'rer", []int{2351, 81}},
		{CL100kBase, "today\n ", []int{31213, 198, 220}},
		{CL100kBase, "today\n \n", []int{31213, 27907}},
		{CL100kBase, "today\n  \n", []int{31213, 14211}},
		{CL100kBase, "👍", []int{9468, 239, 235}},
		{CL100kBase, "hello world!你好，世界！", []int{15339, 1917, 0, 57668, 53901, 3922, 3574, 244, 98220, 6447}},
		{CL100kBase, "", nil},
		{O200kBase, "hello world", []int{24912, 2375}},
		{O200kBase, "a\n\n", []int{64, 279}},
	}
	for _, tc := range tests {
		t.Run(tc.enc+"/"+tc.text, func(t *testing.T) {
			tok, err := New(tc.enc)
			if err != nil {
				t.Fatal(err)
			}
			got := tok.Encode(tc.text)
			if len(got) == 0 && len(tc.want) == 0 {
				got = nil
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Encode(%q) = %v, want %v", tc.text, got, tc.want)
			}
			if n := tok.Count(tc.text); n != len(tc.want) {
				t.Errorf("Count(%q) = %d, want %d", tc.text, n, len(tc.want))
			}
			if tc.text != "" {
				if back := tok.Decode(got); back != tc.text {
					t.Errorf("Decode(Encode(%q)) = %q", tc.text, back)
				}
			}
		})
	}
}

// Special-token strings in captured text are ordinary text.
func TestSpecialTokensAreText(t *testing.T) {
	tok, err := New(CL100kBase)
	if err != nil {
		t.Fatal(err)
	}
	ids := tok.Encode("hello <|endoftext|>")
	for _, id := range ids {
		if id == 100257 {
			t.Fatalf("Encode treated <|endoftext|> as a control token: %v", ids)
		}
	}
	if tok.Decode(ids) != "hello <|endoftext|>" {
		t.Errorf("round trip failed: %v", ids)
	}
}

// The embedded rank files are byte-for-byte the ones openai/tiktoken pins
// (expected_hash in tiktoken_ext/openai_public.py).
func TestEmbeddedRanksAreOpenAIs(t *testing.T) {
	want := map[string]string{
		"cl100k_base.tiktoken": "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
		"o200k_base.tiktoken":  "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
	}
	for name, sum := range want {
		b, err := assets.Assets.ReadFile(name)
		if err != nil {
			t.Fatalf("%s not embedded: %v", name, err)
		}
		got := sha256.Sum256(b)
		if hex.EncodeToString(got[:]) != sum {
			t.Errorf("%s sha256 = %x, want %s", name, got, sum)
		}
	}
}

func TestNewRejectsUnknown(t *testing.T) {
	if _, err := New("gpt2"); err == nil {
		t.Fatal("New(gpt2) succeeded")
	}
	a, err := New(CL100kBase)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := New(CL100kBase)
	if a != b {
		t.Error("New does not reuse the loaded encoding")
	}
	if a.Name() != CL100kBase {
		t.Errorf("Name() = %q", a.Name())
	}
}

func TestConcurrentCount(t *testing.T) {
	tok, err := New(CL100kBase)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				if n := tok.Count("tiktoken is great!"); n != 6 {
					t.Errorf("Count = %d", n)
					return
				}
			}
		}()
	}
	wg.Wait()
}

func BenchmarkCount(b *testing.B) {
	tok, err := New(CL100kBase)
	if err != nil {
		b.Fatal(err)
	}
	text := "The quick brown fox jumps over the lazy dog. Observability for generative-AI applications needs token counts."
	b.ReportAllocs()
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		tok.Count(text)
	}
}
