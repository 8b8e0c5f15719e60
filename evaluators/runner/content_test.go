package runner_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/chainwatch/chainwatch/evaluators/runner"
	"github.com/chainwatch/chainwatch/schemas"
)

// contentFunc adapts a function to runner.ContentSource.
type contentFunc func(traces, spans []string) (in, out []string, err error)

func (f contentFunc) LogTexts(_ context.Context, traces, spans []string) ([]string, []string, error) {
	return f(traces, spans)
}

// A sampled span with no output of its own is evaluated with the text its
// GenAI events sent as logs (read after the wait), a span whose output
// never came is not (counted as no_content), and a span with its own
// output is not looked up.
func TestSpansWithoutContentReadTheirEvents(t *testing.T) {
	f := &fakeConsumer{pending: []*kgo.Record{spanRecord(t, 7, "", "", "own answer")}}
	cfg := runner.DefaultConfig()
	cfg.Sample.Rate = 1
	cfg.Guards = []string{"pii"}
	cfg.Batch.MaxWait = 50 * time.Millisecond
	var mu sync.Mutex
	var asked []string
	cs := contentFunc(func(traces, spans []string) ([]string, []string, error) {
		mu.Lock()
		asked = append(asked, spans...)
		mu.Unlock()
		in, out := make([]string, len(spans)), make([]string, len(spans))
		for i, s := range spans {
			if s == "7370616e30303030" { // "span0000" in hex
				in[i], out[i] = "question from logs", "write to a.b@example.com"
			}
		}
		return in, out, nil
	})
	m := runner.NewMetrics(nil)
	runFake(t, f, cfg, runner.WithMetrics(m), runner.WithContentSource(cs, 50*time.Millisecond))
	f.mu.Lock()
	defer f.mu.Unlock()
	scored := map[string]float64{}
	for _, r := range f.produced {
		var s schemas.Score
		json.Unmarshal(r.Value, &s)
		if s.Metric == "pii_leak" {
			scored[s.SpanID] = s.Value
		}
	}
	if len(scored) != 2 || scored["7370616e30303030"] != 1 || scored["7370616e30303032"] != 0 {
		t.Errorf("pii scores by span %v; want span0000 (from its events) = 1 and span0002 (its own) = 0, span0001 not scored", scored)
	}
	if len(asked) != 2 {
		t.Errorf("looked up %v; want the two spans without output", asked)
	}
	if got := testutil.ToFloat64(m.Evaluations.WithLabelValues("content", runner.OutcomeNoContent)); got != 1 {
		t.Errorf("no_content = %v, want 1", got)
	}
}
