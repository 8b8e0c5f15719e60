package evaluators

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// JudgeOpt configures a judge beyond its JudgeConfig.
type JudgeOpt interface{ apply(*judgeOpts) }

type judgeOpts struct {
	budget    *TokenBudget
	hasBudget bool
	now       func() time.Time
}

type judgeOptFunc func(*judgeOpts)

func (f judgeOptFunc) apply(o *judgeOpts) { f(o) }

// WithBudget makes the judge spend from b (which several judges may share)
// instead of a budget of its own sized by JudgeConfig.TokensPerHour. A nil b
// is unlimited.
func WithBudget(b *TokenBudget) JudgeOpt {
	return judgeOptFunc(func(o *judgeOpts) { o.budget, o.hasBudget = b, true })
}

// WithClock sets the clock of the judge's own budget and latencies (tests).
func WithClock(now func() time.Time) JudgeOpt {
	return judgeOptFunc(func(o *judgeOpts) { o.now = now })
}

// judgeCore is what the pointwise and pairwise judges share: the client,
// budget, cache and the ask-parse-retry loop.
type judgeCore struct {
	client ChatClient
	cfg    JudgeConfig
	budget *TokenBudget
	cache  *lru
	now    func() time.Time
}

func newJudgeCore(client ChatClient, cfg JudgeConfig, opts []JudgeOpt) (*judgeCore, error) {
	if client == nil {
		return nil, errors.New("a chat client is required")
	}
	if cfg.Model == "" {
		return nil, errors.New("judge.model must be set")
	}
	if cfg.ParseRetries < 0 {
		return nil, fmt.Errorf("judge.parse_retries must be >= 0, got %d", cfg.ParseRetries)
	}
	o := judgeOpts{now: time.Now}
	for _, opt := range opts {
		opt.apply(&o)
	}
	if !o.hasBudget {
		o.budget = NewTokenBudget(cfg.TokensPerHour, o.now)
	}
	return &judgeCore{client: client, cfg: cfg, budget: o.budget, cache: newLRU(cfg.CacheSize), now: o.now}, nil
}

// callStats accumulates the cost of one evaluation over its attempts.
type callStats struct {
	usage   Usage
	latency time.Duration
	model   string
}

func (s callStats) costUSD(cfg JudgeConfig) float64 {
	return (float64(s.usage.PromptTokens)*cfg.InputUSDPerMTok + float64(s.usage.CompletionTokens)*cfg.OutputUSDPerMTok) / 1e6
}

// ask sends msgs and hands the answer to parse; a malformed answer is shown
// back to the judge with the parse error and the request repeated, up to
// ParseRetries times. It returns a *malformedError when every answer was
// malformed, ctx's error when ctx is done, an ErrBudgetExhausted error when
// the budget refuses, and the client's error otherwise.
func (j *judgeCore) ask(ctx context.Context, msgs []Message, parse func(content string) error) (callStats, error) {
	stats := callStats{model: j.cfg.Model}
	var lastErr error
	for attempt := 0; attempt <= j.cfg.ParseRetries; attempt++ {
		if err := j.budget.Allow(); err != nil {
			return stats, err
		}
		start := j.now()
		resp, err := j.client.Chat(ctx, ChatRequest{
			Model: j.cfg.Model, Messages: msgs, Temperature: 0,
			MaxTokens: j.cfg.MaxTokens, JSONMode: j.cfg.JSONMode,
		})
		stats.latency += j.now().Sub(start)
		if err != nil {
			if ctx.Err() != nil {
				return stats, ctx.Err()
			}
			return stats, fmt.Errorf("asking judge %s: %w", j.cfg.Model, err)
		}
		if resp.Model != "" {
			stats.model = resp.Model
		}
		stats.usage.PromptTokens += resp.Usage.PromptTokens
		stats.usage.CompletionTokens += resp.Usage.CompletionTokens
		j.budget.Record(resp.Usage.Total())

		if lastErr = parse(resp.Content); lastErr == nil {
			return stats, nil
		}
		msgs = append(msgs[:len(msgs):len(msgs)],
			Message{Role: "assistant", Content: compactJSON(resp.Content)},
			Message{Role: "user", Content: fmt.Sprintf("That reply was invalid (%v). Reply again with only the JSON object described above and nothing else.", lastErr)},
		)
	}
	return stats, &malformedError{attempts: j.cfg.ParseRetries + 1, err: lastErr}
}

// fatal reports whether err from ask means "record nothing": ctx done or
// budget exhausted.
func fatal(ctx context.Context, err error) bool {
	return ctx.Err() != nil || errors.Is(err, ErrBudgetExhausted)
}

// fromCache returns cached results marked as such, with no cost or latency.
func (j *judgeCore) fromCache(k cacheKey) ([]Result, bool) {
	rs, ok := j.cache.get(k)
	if !ok {
		return nil, false
	}
	out := make([]Result, len(rs))
	for i, r := range rs {
		r.Cached, r.CostUSD, r.Tokens, r.Latency = true, 0, 0, 0
		out[i] = r
	}
	return out, true
}

// CacheLen is the number of cached evaluations (tests, metrics).
func (j *judgeCore) CacheLen() int { return j.cache.len() }
