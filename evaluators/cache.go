package evaluators

import (
	"container/list"
	"crypto/sha256"
	"encoding/binary"
	"sync"
)

// cacheKey hashes its parts with their lengths, so ("ab","c") and ("a","bc")
// differ.
type cacheKey [sha256.Size]byte

func makeCacheKey(parts ...string) cacheKey {
	h := sha256.New()
	var n [8]byte
	for _, p := range parts {
		binary.LittleEndian.PutUint64(n[:], uint64(len(p)))
		h.Write(n[:])
		h.Write([]byte(p))
	}
	var k cacheKey
	h.Sum(k[:0])
	return k
}

// inputKey is the cache key of one evaluation: the evaluator's identity
// (name, version, model) and every field of the input it reads.
func inputKey(name, version, model string, in Input) cacheKey {
	parts := []string{name, version, model, in.Input, in.Output, in.Alternative, in.Reference}
	parts = append(parts, in.Context...)
	return makeCacheKey(parts...)
}

// lru is a bounded least-recently-used cache of valid results. Failed
// evaluations are never cached. Safe for concurrent use; a nil or
// zero-capacity lru caches nothing.
type lru struct {
	cap int

	mu    sync.Mutex
	order *list.List // front = most recent; values are *lruEntry
	items map[cacheKey]*list.Element
}

type lruEntry struct {
	key     cacheKey
	results []Result
}

func newLRU(capacity int) *lru {
	if capacity <= 0 {
		return nil
	}
	return &lru{cap: capacity, order: list.New(), items: make(map[cacheKey]*list.Element)}
}

func (c *lru) get(k cacheKey) ([]Result, bool) {
	if c == nil {
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.items[k]
	if !ok {
		return nil, false
	}
	c.order.MoveToFront(e)
	return e.Value.(*lruEntry).results, true
}

func (c *lru) put(k cacheKey, results []Result) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[k]; ok {
		e.Value.(*lruEntry).results = results
		c.order.MoveToFront(e)
		return
	}
	c.items[k] = c.order.PushFront(&lruEntry{key: k, results: results})
	for c.order.Len() > c.cap {
		last := c.order.Back()
		c.order.Remove(last)
		delete(c.items, last.Value.(*lruEntry).key)
	}
}

func (c *lru) len() int {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}
