package evaluators

import (
	"fmt"
	"sync"
	"time"
)

// budgetBuckets is the resolution of the sliding hour: spending is kept per
// minute, so a token spent at 12:00:30 is forgotten at 13:00:00–13:01:00.
const budgetBuckets = 60

// TokenBudget limits judge tokens over a sliding hour. Spending is recorded
// after each call from the API's usage field, so calls already in flight when
// the budget runs out may overshoot it by their own size; every call that
// starts after that is refused with ErrBudgetExhausted. One budget may be
// shared by several judges. Safe for concurrent use.
type TokenBudget struct {
	limit int
	now   func() time.Time

	mu      sync.Mutex
	minutes [budgetBuckets]int64 // unix minute each bucket holds
	tokens  [budgetBuckets]int
}

// NewTokenBudget returns a budget of tokensPerHour; 0 or less is unlimited
// (a nil *TokenBudget is also unlimited). A nil now means time.Now.
func NewTokenBudget(tokensPerHour int, now func() time.Time) *TokenBudget {
	if tokensPerHour <= 0 {
		return nil
	}
	if now == nil {
		now = time.Now
	}
	return &TokenBudget{limit: tokensPerHour, now: now}
}

// Spent is the tokens recorded over the last hour.
func (b *TokenBudget) Spent() int {
	if b == nil {
		return 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.spentLocked(b.now().Unix() / 60)
}

func (b *TokenBudget) spentLocked(minute int64) int {
	sum := 0
	for i, m := range b.minutes {
		if m > minute-budgetBuckets && m <= minute {
			sum += b.tokens[i]
		}
	}
	return sum
}

// Allow returns an error wrapping ErrBudgetExhausted when the last hour's
// spending has reached the limit.
func (b *TokenBudget) Allow() error {
	if b == nil {
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if spent := b.spentLocked(b.now().Unix() / 60); spent >= b.limit {
		return fmt.Errorf("checking judge budget: %d of %d tokens spent in the last hour: %w", spent, b.limit, ErrBudgetExhausted)
	}
	return nil
}

// Record adds tokens spent now.
func (b *TokenBudget) Record(tokens int) {
	if b == nil || tokens <= 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	m := b.now().Unix() / 60
	i := int(m % budgetBuckets)
	if b.minutes[i] != m {
		b.minutes[i], b.tokens[i] = m, 0
	}
	b.tokens[i] += tokens
}
