package collector

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Admission: the collector bounds the bytes of the requests it holds —
// bodies being read and decompressed, decoded messages, and records waiting
// for Kafka — by collector.max_inflight_bytes, whatever the number of
// senders. A request takes its share before its body is read (its
// Content-Length; a body of unknown length, and decompressed bytes, as they
// are read, admissionChunk at a time) and gives it back when its records
// are acknowledged or failed by Kafka, or when it is answered without
// producing. A request that cannot get its share within admissionWait is
// answered 503 with Retry-After, its body unread: it pushes back instead of
// queueing (see STYLE.md, "Bounded queues everywhere").
//
// Over gRPC the message is received and decoded by grpc-go before any
// handler runs, so the share is taken on the decoded message's size
// (proto.Size) at the start of Export, and grpc.MaxConcurrentStreams bounds
// the messages one connection can have in reception at once
// (grpcMaxConcurrentStreams × collector.max_body_bytes per connection).

// DefaultMaxInflightBytes is collector.max_inflight_bytes' default, raised
// to twice collector.max_body_bytes when that is larger.
const DefaultMaxInflightBytes = 64 << 20

const (
	// admissionWait is how long a request waits for in-flight bytes before
	// it is answered 503.
	admissionWait = 500 * time.Millisecond
	// admissionChunk is the step in which the bytes of a body of unknown
	// length (chunked, or decompressed) are taken as they are read.
	admissionChunk = 64 << 10
)

// reasonInflightFull is the Rejected reason of a request refused by
// admission (collector.max_inflight_bytes reached).
const reasonInflightFull = "inflight_full"

// inflight is a semaphore over bytes. Waiters are woken on every release
// and race for the bytes; a large request may wait behind small ones, but
// never for longer than admissionWait.
type inflight struct {
	limit int64
	gauge prometheus.Gauge

	mu      sync.Mutex
	used    int64
	peak    int64         // the most ever held, for tests
	changed chan struct{} // closed and replaced on every release
}

func newInflight(limit int64, gauge prometheus.Gauge) *inflight {
	return &inflight{limit: limit, gauge: gauge, changed: make(chan struct{})}
}

// acquire takes n bytes, waiting up to wait (or until ctx is done) for
// others to release them. It reports whether it took them.
func (s *inflight) acquire(ctx context.Context, n int64, wait time.Duration) bool {
	if n <= 0 {
		return true
	}
	if n > s.limit {
		return false
	}
	var timeout <-chan time.Time
	for {
		s.mu.Lock()
		if s.used+n <= s.limit {
			s.used += n
			s.peak = max(s.peak, s.used)
			s.gauge.Set(float64(s.used))
			s.mu.Unlock()
			return true
		}
		changed := s.changed
		s.mu.Unlock()
		if timeout == nil {
			if wait <= 0 {
				return false
			}
			t := time.NewTimer(wait)
			defer t.Stop()
			timeout = t.C
		}
		select {
		case <-changed:
		case <-timeout:
			return false
		case <-ctx.Done():
			return false
		}
	}
}

func (s *inflight) release(n int64) {
	if n <= 0 {
		return
	}
	s.mu.Lock()
	s.used -= n
	s.gauge.Set(float64(s.used))
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
}

// held and maxHeld are the bytes held now and the most ever held.
func (s *inflight) held() (now, peak int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.used, s.peak
}

// A ticket is one request's share of the in-flight bytes. The handler holds
// one reference, produce takes another for the records it hands to Kafka
// (dropped by their last promise), and the bytes go back when both are
// dropped: a request answered at its produce deadline keeps its share until
// Kafka has acknowledged or failed its records, as their memory is held
// until then.
type ticket struct {
	sem   *inflight
	bytes atomic.Int64
	refs  atomic.Int32

	mu   sync.Mutex
	bufs [][]byte // given back to their pools with the bytes (bufpool.go)
}

func (s *inflight) newTicket() *ticket {
	t := &ticket{sem: s}
	t.refs.Store(1)
	return t
}

// acquire adds n bytes to the ticket; a nil ticket (no admission) takes
// everything.
func (t *ticket) acquire(ctx context.Context, n int64, wait time.Duration) bool {
	if t == nil {
		return true
	}
	if !t.sem.acquire(ctx, n, wait) {
		return false
	}
	t.bytes.Add(n)
	return true
}

func (t *ticket) hold() {
	if t != nil {
		t.refs.Add(1)
	}
}

// done drops a reference; the last one releases the ticket's bytes and
// recycles its buffers.
func (t *ticket) done() {
	if t != nil && t.refs.Add(-1) == 0 {
		t.sem.release(t.bytes.Swap(0))
		t.mu.Lock()
		bufs := t.bufs
		t.bufs = nil
		t.mu.Unlock()
		for _, b := range bufs {
			putBuf(b)
		}
	}
}

// recycle hands b back to its pool when the ticket's last reference is
// dropped: b (the body, the records buffer) must not be read after the
// request is answered and its records acknowledged or failed. Without a
// ticket b is left to the garbage collector.
func (t *ticket) recycle(b []byte) {
	if t == nil || cap(b) == 0 {
		return
	}
	t.mu.Lock()
	t.bufs = append(t.bufs, b)
	t.mu.Unlock()
}

type ticketKey struct{}

func withTicket(ctx context.Context, t *ticket) context.Context {
	return context.WithValue(ctx, ticketKey{}, t)
}

func ticketFrom(ctx context.Context) *ticket {
	t, _ := ctx.Value(ticketKey{}).(*ticket)
	return t
}

// admitted gives each request of h a ticket, released when h returns and
// its records are acknowledged or failed.
func (c *Collector) admitted(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		t := c.inflight.newTicket()
		defer t.done()
		h(w, r.WithContext(withTicket(r.Context(), t)))
	}
}

func (c *Collector) overloaded() *httpError {
	return &httpError{http.StatusServiceUnavailable, reasonInflightFull,
		fmt.Sprintf("the collector already holds collector.max_inflight_bytes (%d) of requests; retry later", c.cfg.MaxInflightBytes)}
}

var errInflightFull = errors.New("collector.max_inflight_bytes reached while reading the body")

// admittedReader takes bytes of its ticket for what it reads beyond the
// have bytes taken up front, admissionChunk at a time as they arrive (one
// read beyond have is at most admissionChunk bytes, so a request overshoots
// its share by less than that before it is refused).
type admittedReader struct {
	ctx  context.Context
	r    io.Reader
	t    *ticket
	have int64 // bytes taken for this reader
	read int64
}

func (a *admittedReader) Read(p []byte) (int, error) {
	if a.t != nil && a.read+int64(len(p)) > a.have {
		p = p[:max(a.have-a.read, min(int64(len(p)), admissionChunk))]
	}
	n, err := a.r.Read(p)
	a.read += int64(n)
	if a.t != nil && a.read > a.have {
		need := (a.read - a.have + admissionChunk - 1) / admissionChunk * admissionChunk
		if !a.t.acquire(a.ctx, need, admissionWait) {
			return 0, errInflightFull
		}
		a.have += need
	}
	return n, err
}

// readAll is io.ReadAll into pooled buffers (bufpool.go), starting from
// one of the expected size (a known Content-Length) so that such a body is
// read without copies. The buffer is returned on error too.
func readAll(r io.Reader, hint int64) ([]byte, error) {
	b := getBuf(int(hint) + 1) // +1: EOF is seen without growing
	for {
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err != nil {
			if err == io.EOF {
				err = nil
			}
			return b, err
		}
		if len(b) == cap(b) {
			nb := append(getBuf(2*cap(b)), b...)
			putBuf(b)
			b = nb
		}
	}
}
