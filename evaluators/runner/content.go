package runner

import (
	"context"
	"time"
)

// ContentSource gives the texts that spans' GenAI events sent as OTLP log
// records add to their input and output (query.Reader.LogTexts, the same
// join every other reader sees): in[i] and out[i] for the span
// (traces[i], spans[i]), empty where none arrived.
type ContentSource interface {
	LogTexts(ctx context.Context, traces, spans []string) (in, out []string, err error)
}

// DefaultContentWait is how long after a span's end the runner waits for
// its GenAI events before reading them.
const DefaultContentWait = 10 * time.Second

// WithContentSource makes the runner evaluate spans whose content came as
// OTLP logs (the OpenTelemetry contrib OpenAI instrumentation for
// JavaScript sends all of it that way): a sampled span of an evaluable
// kind with no output text of its own waits until wait after its end and
// then reads its events' texts through cs. Without it such spans are not
// evaluable (nothing to judge).
func WithContentSource(cs ContentSource, wait time.Duration) Opt {
	return optFunc(func(o *opts) { o.content, o.contentWait = cs, wait })
}

// fillContent gives the jobs that wait for content their events' texts:
// after waiting until the latest of them is contentWait past its end, one
// lookup; the span's own text wins where it has one (query's rule). Jobs
// still without output are dropped (counted as no_content).
func (r *Runner) fillContent(ctx context.Context, jobs []*job) []*job {
	var waiting []*job
	var until time.Time
	for _, j := range jobs {
		if j.needsContent {
			waiting = append(waiting, j)
			if e := j.span.EndTime.Add(r.contentWait); e.After(until) {
				until = e
			}
		}
	}
	if len(waiting) == 0 {
		return jobs
	}
	if d := time.Until(until); d > 0 {
		t := time.NewTimer(min(d, r.contentWait))
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return jobs[:0]
		}
	}
	traces, spans := make([]string, len(waiting)), make([]string, len(waiting))
	for i, j := range waiting {
		traces[i], spans[i] = j.span.TraceID, j.span.SpanID
		j.contentIdx = i
	}
	in, out, err := r.content.LogTexts(ctx, traces, spans)
	if err != nil {
		r.log.Warn("reading the GenAI events of spans without content failed; they are not evaluated this time", "spans", len(waiting), "err", err)
	}
	keep := jobs[:0]
	for _, j := range jobs {
		if j.needsContent {
			i := j.contentIdx
			if err == nil {
				if j.in.Input == "" {
					j.in.Input = in[i]
				}
				j.in.Output = out[i]
			}
			if j.in.Output == "" {
				r.m.Evaluations.WithLabelValues("content", OutcomeNoContent).Inc()
				continue
			}
		}
		keep = append(keep, j)
	}
	return keep
}
