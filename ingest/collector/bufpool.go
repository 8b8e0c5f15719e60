package collector

import (
	"math/bits"
	"sync"
)

// Request buffers. A request's body and the buffer its trace records are
// split into are the collector's largest allocations: in an allocation
// profile of `bench ingest` (2026-12-06, 19:19 UTC) they were 20 % of the
// 25 GB the process allocated in a 15 s closed loop, each a fresh, zeroed
// slice the garbage collector then had to find and free. Both live exactly
// as long as their request's admission ticket (admission.go): the ticket's
// last reference is dropped after the handler has returned and Kafka has
// acknowledged or failed every record — and a record's value is part of
// the records buffer, or the body itself for a one-trace request, so
// nothing reads either buffer after that. So they are taken from pools of
// power-of-two size classes and handed back by the ticket.
//
// Nothing depends on a buffer coming back: one that is not recycled (no
// admission ticket, an error path) is left to the garbage collector.

const (
	minPooledBuf = 64 << 10 // the smallest class
	maxPooledBuf = 32 << 20 // larger buffers are allocated and never pooled
	bufClasses   = 10       // 64 KiB … 32 MiB
)

var bufPools [bufClasses]sync.Pool // of *[]byte of cap exactly minPooledBuf<<class

// bufClass is the class whose buffers hold n bytes, or -1 past the largest.
func bufClass(n int) int {
	if n <= minPooledBuf {
		return 0
	}
	c := bits.Len(uint((n - 1) / minPooledBuf))
	if c >= bufClasses {
		return -1
	}
	return c
}

// getBuf returns an empty buffer of capacity at least n.
func getBuf(n int) []byte {
	c := bufClass(n)
	if c < 0 {
		return make([]byte, 0, n)
	}
	if p, _ := bufPools[c].Get().(*[]byte); p != nil {
		return (*p)[:0]
	}
	return make([]byte, 0, minPooledBuf<<c)
}

// putBuf gives b back for reuse; the caller must not use b afterwards. A
// buffer getBuf did not make (its capacity not a class size) is dropped.
func putBuf(b []byte) {
	c := bufClass(cap(b))
	if c < 0 || cap(b) != minPooledBuf<<c {
		return
	}
	b = b[:0]
	bufPools[c].Put(&b)
}
