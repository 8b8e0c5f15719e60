package broker

import (
	"context"
	"errors"
	"net"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/chainwatch/chainwatch/kafka"
)

// This process's clients reach the broker in memory; a client of another
// process (a plain kgo client, dialling TCP) reads what they wrote and
// writes what they read; after Stop, a dial is refused as over TCP.
func TestClientsConnectInMemoryAndOverTCP(t *testing.T) {
	b, kc, err := Start(kafka.Config{}, 0, "")
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	defer func() {
		if !stopped {
			b.Stop()
		}
	}()
	if kc.Dial == nil {
		t.Fatal("Start returned a config without the in-memory dialer")
	}
	var mu sync.Mutex
	networks := map[string]int{}
	dial := kc.Dial
	kc.Dial = func(ctx context.Context, network, host string) (net.Conn, error) {
		c, err := dial(ctx, network, host)
		if err == nil {
			mu.Lock()
			networks[c.LocalAddr().Network()]++
			mu.Unlock()
		}
		return c, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := kafka.EnsureTopics(ctx, kc); err != nil {
		t.Fatal(err)
	}
	topic := kc.Topics.Spans

	// In memory → TCP.
	mem, err := kafka.NewClient(kc, kafka.ProducerOpts(kc)...)
	if err != nil {
		t.Fatal(err)
	}
	defer mem.Close()
	if err := mem.ProduceSync(ctx, &kgo.Record{Topic: topic, Key: []byte("k"), Value: []byte("from memory")}).FirstErr(); err != nil {
		t.Fatalf("producing in memory: %v", err)
	}
	tcp, err := kgo.NewClient(kgo.SeedBrokers(b.Addrs()...), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer tcp.Close()
	if got := poll(ctx, t, tcp); got != "from memory" {
		t.Fatalf("TCP consumer read %q", got)
	}

	// TCP → in memory.
	if err := tcp.ProduceSync(ctx, &kgo.Record{Topic: topic, Key: []byte("k"), Value: []byte("over tcp")}).FirstErr(); err != nil {
		t.Fatalf("producing over TCP: %v", err)
	}
	cons, err := kafka.NewClient(kc, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	got := map[string]bool{poll(ctx, t, cons): true, poll(ctx, t, cons): true} // two partitions: either order
	if !got["from memory"] || !got["over tcp"] {
		t.Fatalf("in-memory consumer read %v", got)
	}
	mu.Lock()
	if networks["pipe"] == 0 || len(networks) != 1 {
		t.Fatalf("connections by network %v, want pipes only", networks)
	}
	mu.Unlock()

	addr := b.Addrs()[0]
	b.Stop()
	stopped = true
	if c, err := dial(ctx, "tcp", addr); err == nil {
		c.Close()
		t.Fatal("dialled the broker in memory after Stop")
	} else if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("dial after Stop: %v, want connection refused, as over TCP", err)
	}
}

func poll(ctx context.Context, t *testing.T, cl *kgo.Client) string {
	t.Helper()
	for ctx.Err() == nil {
		fs := cl.PollRecords(ctx, 1)
		if err := fs.Err0(); err != nil && !errors.Is(err, context.DeadlineExceeded) {
			t.Fatal(err)
		}
		if rs := fs.Records(); len(rs) > 0 {
			return string(rs[0].Value)
		}
	}
	t.Fatal("no record")
	return ""
}
