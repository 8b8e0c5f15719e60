// Package broker runs the embedded default's Kafka-protocol broker: franz-go's
// kfake in process, one node, its topics bounded because it shares the
// machine's memory.
package broker

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/chainwatch/chainwatch/kafka"
)

// Defaults of the in-process broker's topics unless the config says
// otherwise (they bound its memory).
const (
	TopicRetention      = 6 * time.Hour
	TopicRetentionBytes = 256 << 20 // per partition
	retentionSweep      = "30000"   // ms between retention sweeps
)

// Broker is a running in-process broker.
type Broker struct {
	cluster *kfake.Cluster
	flush   *flusher // nil without a data dir
	mu      sync.Mutex
	lns     map[string]*listener // by address
}

// Start starts kfake on port (0: any free port), persisting its log under
// dataDir ("" keeps it in memory only). It returns kc with the broker's
// address and its in-memory dialer filled in and the retention defaults
// applied where kc leaves them zero, for EnsureTopics to create the topics
// with.
func Start(kc kafka.Config, port int, dataDir string) (*Broker, kafka.Config, error) {
	kc = kc.WithDefaults()
	if kc.TopicRetention == 0 {
		kc.TopicRetention = TopicRetention
	}
	if kc.TopicRetentionBytes == 0 {
		kc.TopicRetentionBytes = TopicRetentionBytes
	}
	opts := []kfake.Opt{kfake.NumBrokers(1), kfake.DefaultNumPartitions(int(kc.Partitions)),
		kfake.BrokerConfigs(map[string]string{
			"message.max.bytes":      fmt.Sprint(kc.MaxRecordBytes + 4096),
			"log.cleaner.backoff.ms": retentionSweep,
		})}
	if port > 0 {
		opts = append(opts, kfake.Ports(port))
	}
	if dataDir != "" {
		opts = append(opts, kfake.DataDir(dataDir))
	}
	b := &Broker{lns: map[string]*listener{}}
	opts = append(opts, kfake.ListenFn(func(network, address string) (net.Listener, error) {
		l, err := listen(network, address)
		if err != nil {
			return nil, err
		}
		b.mu.Lock()
		b.lns[l.Addr().String()] = l
		b.mu.Unlock()
		return l, nil
	}))
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		return nil, kc, fmt.Errorf("starting the in-process kafka broker: %w", err)
	}
	kc.Brokers = c.ListenAddrs()
	b.cluster = c
	if dataDir != "" {
		if b.flush, err = startFlusher(dataDir, FlushEvery, syncFS); err != nil {
			c.Close()
			return nil, kc, fmt.Errorf("the in-process kafka broker's data dir: %w", err)
		}
	}
	kc.Dial = b.Dial
	return b, kc, nil
}

// Dial connects to the broker in memory, and to any other address over the
// network. Start puts it in the config it returns (kafka.Config.Dial), so
// every client of this process built from that config uses it; clients of
// other processes connect to Addrs over TCP as before.
func (b *Broker) Dial(ctx context.Context, network, host string) (net.Conn, error) {
	b.mu.Lock()
	l := b.lns[host]
	b.mu.Unlock()
	if l != nil {
		c, err := l.dial(ctx)
		if !errors.Is(err, net.ErrClosed) {
			return c, err
		}
		// A stopped broker: dial as over the network, so that clients see
		// what they would over TCP (connection refused). franz-go retries
		// net.ErrClosed, and a consumer leaving its group then waited out
		// its whole timeout.
	}
	var d net.Dialer
	return d.DialContext(ctx, network, host)
}

// Addrs are the broker's listen addresses.
func (b *Broker) Addrs() []string { return b.cluster.ListenAddrs() }

// Cluster is the kfake cluster, for fault injection in tests.
func (b *Broker) Cluster() *kfake.Cluster { return b.cluster }

// Stop closes the broker (its persisted log stays in its data dir).
func (b *Broker) Stop() {
	b.flush.Stop()
	b.cluster.Close()
}
