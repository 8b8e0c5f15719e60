package embedding_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/chainwatch/chainwatch/embedding"
)

// BenchmarkCached embeds a window of 1,000 texts with the lexical provider
// (256 dimensions) — short texts (~25 bytes) and 1 KB texts — alone
// (uncached), through the cache when every text is cached (lookups only),
// and through the cache when none is (lookups, embedding and the insert),
// against the test ClickHouse.
//
//	go test ./embed/ -run '^$' -bench Cached -benchtime 20x -count 3
func BenchmarkCached(b *testing.B) {
	ctx := context.Background()
	lex := embedding.NewLexical(embedding.DefaultDim, 0)
	round := 0 // outside b.Run: -count reruns the sub-benchmarks, and misses must stay misses
	for _, size := range []struct {
		name string
		mk   func(prefix string) []string
	}{
		{"short", func(p string) []string { return texts(p, 1000) }},
		{"1KB", func(p string) []string {
			in := texts(p, 1000)
			for i := range in {
				in[i] = strings.Repeat(in[i]+" about refunds, shipping and the returns policy. ", 25)[:1024]
			}
			return in
		}},
	} {
		in := size.mk("bench")
		b.Run("lexical_uncached/"+size.name+"_1000", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := lex.Embed(ctx, in); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("cache_hit/"+size.name+"_1000", func(b *testing.B) {
			c := embedding.NewCached(lex, migrated(b)) // a table of its own: lookups slow down as parts pile up
			if _, err := c.Embed(ctx, in); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.Embed(ctx, in); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("cache_miss/"+size.name+"_1000", func(b *testing.B) {
			c := embedding.NewCached(lex, migrated(b))
			b.ReportAllocs()
			for b.Loop() {
				round++
				if _, err := c.Embed(ctx, size.mk(fmt.Sprint("miss", round))); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
