package monitor

import (
	"fmt"
	"testing"
	"time"

	"github.com/chainwatch/chainwatch/embedding"
	"github.com/chainwatch/chainwatch/simulate"
)

// BenchmarkMonitorRun: one monitor run over current and reference windows
// of 1,000 and 10,000 LLM spans each (real ClickHouse), broken down into
// query, features, detector and sinks (writing the result row; no alert
// is due). Embedding monitors embed with the lexical embedder, either
// uncached (embedded on every run) or through the ClickHouse cache, warm.
// Embedding windows are subsampled to max_samples (2,000).
//
//	go test -run XXX -bench MonitorRun -benchtime 3x ./monitor/
func BenchmarkMonitorRun(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("spans_%d", n), func(b *testing.B) {
			e := newEnvTB(b)
			t0 := time.Now().Truncate(time.Minute).Add(-3 * time.Minute)
			e.trafficTB(b, simulate.ShiftNone, t0, 2, n, func(int) bool { return false })
			lex := embedding.NewLexical(256, 0)
			for _, tc := range []struct {
				name, feature, detector string
				emb                     Embedder
			}{
				{"output_tokens_ks", "output_tokens", "ks", nil},
				{"input_terms_js", "input_terms", "js", nil},
				{"output_embedding_mmd_uncached", "output_embedding", "mmd", lex},
				{"output_embedding_mmd_cached", "output_embedding", "mmd", embedding.NewCached(lex, e.store.conn)},
			} {
				b.Run(tc.name, func(b *testing.B) {
					r := testRunnerTB(b, e)
					r.Embedder = tc.emb
					m := Monitor{Name: "bench-" + tc.name, Feature: tc.feature, Detector: tc.detector,
						Reference: Reference{Size: time.Minute}, Current: Window{Size: time.Minute}, Schedule: time.Minute, MaxSamples: n}
					if tc.emb != nil {
						m.MaxSamples = min(n, DefaultMaxSamples)
					}
					m = m.withDefaults()
					tick := t0.Add(2 * time.Minute)
					if _, ok := tc.emb.(*embedding.Cached); ok {
						r.Run(b.Context(), m, tick) // warm the cache
					}
					var q, f, d, s time.Duration
					b.ResetTimer()
					for b.Loop() {
						res, tm := r.Run(b.Context(), m, tick)
						if res.Status != "ok" {
							b.Fatalf("%s: %s", res.Status, res.Error)
						}
						t1 := time.Now()
						if err := e.store.InsertResult(b.Context(), res); err != nil {
							b.Fatal(err)
						}
						s += time.Since(t1)
						q, f, d = q+tm.Query, f+tm.Features, d+tm.Detector
					}
					nb := float64(b.N)
					b.ReportMetric(q.Seconds()*1000/nb, "query-ms/op")
					b.ReportMetric(f.Seconds()*1000/nb, "features-ms/op")
					b.ReportMetric(d.Seconds()*1000/nb, "detector-ms/op")
					b.ReportMetric(s.Seconds()*1000/nb, "sinks-ms/op")
				})
			}
		})
	}
}
