package serving

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"time"
)

// key is an API key at run time: its rules and its usage. Usage survives a
// reload for a key whose hash is unchanged.
type key struct {
	cfg KeyConfig
	lim *limiter
}

func (k *key) allows(kind, name string) bool {
	list := k.cfg.Routes
	if kind == "chain" {
		list = k.cfg.Chains
	}
	return slices.Contains(list, "*") || slices.Contains(list, name)
}

// keyring finds keys by hash.
type keyring struct {
	byHash map[[32]byte]*key
}

func newKeyring(cfgs []KeyConfig, old *keyring) *keyring {
	kr := &keyring{byHash: map[[32]byte]*key{}}
	for _, c := range cfgs {
		var h [32]byte
		b, _ := hex.DecodeString(strings.ToLower(c.SHA256)) // validated
		copy(h[:], b)
		k := &key{cfg: c}
		if old != nil {
			if ok := old.byHash[h]; ok != nil {
				k.lim = ok.lim
				k.lim.setLimits(c)
			}
		}
		if k.lim == nil {
			k.lim = newLimiter(c)
		}
		kr.byHash[h] = k
	}
	return kr
}

// lookup finds the key whose hash is the SHA-256 of presented; the
// comparison of hashes is constant-time.
func (kr *keyring) lookup(presented string) *key {
	h := hashBytes(presented)
	k := kr.byHash[h]
	if k == nil {
		return nil
	}
	var want [32]byte
	b, _ := hex.DecodeString(strings.ToLower(k.cfg.SHA256))
	copy(want[:], b)
	if subtle.ConstantTimeCompare(h[:], want[:]) != 1 {
		return nil
	}
	return k
}

// limiter holds one key's request and token accounting over a sliding
// minute, its in-flight token reservations and its lifetime budget. Every
// admission decision is taken under one mutex with the reservations of the
// requests in flight counted, so parallel requests cannot overshoot a limit
// by more than the difference between one request's estimate and its
// actual use (Envoy#680 is the failure this prevents).
type limiter struct {
	mu       sync.Mutex
	rpm, tpm int
	budget   int64
	reqs     []time.Time // admissions in the last minute
	toks     []tokenUse  // token uses in the last minute
	reserved int64       // estimates of requests in flight
	spent    int64       // lifetime tokens
}

type tokenUse struct {
	at time.Time
	n  int64
}

func newLimiter(c KeyConfig) *limiter {
	l := &limiter{}
	l.setLimits(c)
	return l
}

func (l *limiter) setLimits(c KeyConfig) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.rpm, l.tpm, l.budget = c.RPM, c.TPM, c.BudgetTokens
}

// rejection is why a request was not admitted.
type rejection struct {
	reason     string // "rpm", "tpm", "budget"
	msg        string
	retryAfter time.Duration // 0: none (a spent budget)
}

// admit reserves estimate tokens and one request, or says why not.
func (l *limiter) admit(now time.Time, estimate int64) *rejection {
	l.mu.Lock()
	defer l.mu.Unlock()
	cut := now.Add(-time.Minute)
	for len(l.reqs) > 0 && !l.reqs[0].After(cut) {
		l.reqs = l.reqs[1:]
	}
	for len(l.toks) > 0 && !l.toks[0].at.After(cut) {
		l.toks = l.toks[1:]
	}
	if l.budget > 0 && l.spent+l.reserved+estimate > l.budget {
		return &rejection{reason: "budget", msg: fmt.Sprintf("the key's token budget is spent or reserved: %d used, %d in flight, this request needs up to %d, budget %d", l.spent, l.reserved, estimate, l.budget)}
	}
	if l.rpm > 0 && len(l.reqs) >= l.rpm {
		wait := l.reqs[0].Add(time.Minute).Sub(now)
		return &rejection{reason: "rpm", msg: fmt.Sprintf("requests per minute limit of %d reached", l.rpm), retryAfter: wait}
	}
	if l.tpm > 0 {
		var used int64
		for _, t := range l.toks {
			used += t.n
		}
		if used+l.reserved+estimate > int64(l.tpm) {
			wait := time.Minute
			if len(l.toks) > 0 {
				wait = l.toks[0].at.Add(time.Minute).Sub(now)
			}
			if estimate > int64(l.tpm) {
				return &rejection{reason: "tpm", msg: fmt.Sprintf("this request may use up to %d tokens, more than the key's tokens per minute limit of %d (lower max_tokens)", estimate, l.tpm), retryAfter: time.Minute}
			}
			return &rejection{reason: "tpm", msg: fmt.Sprintf("tokens per minute limit of %d reached: %d used in the last minute, %d in flight, this request needs up to %d", l.tpm, used, l.reserved, estimate), retryAfter: wait}
		}
	}
	l.reqs = append(l.reqs, now)
	l.reserved += estimate
	return nil
}

// settle replaces a reservation by the tokens actually used.
func (l *limiter) settle(now time.Time, estimate, used int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.reserved -= estimate
	if used > 0 {
		l.toks = append(l.toks, tokenUse{at: now, n: used})
		l.spent += used
	}
}

// retryAfterSeconds is Retry-After's value: whole seconds, at least 1.
func retryAfterSeconds(d time.Duration) string {
	return fmt.Sprint(max(1, int64(math.Ceil(d.Seconds()))))
}

func hashBytes(s string) [32]byte { return sha256.Sum256([]byte(s)) }
