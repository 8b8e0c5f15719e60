// Package broker runs the embedded default's Kafka-protocol broker: franz-go's
// kfake in process, one node, its topics bounded because it shares the
// machine's memory.
package broker

import (
	"fmt"
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
}

// Start starts kfake on port (0: any free port), persisting its log under
// dataDir ("" keeps it in memory only). It returns kc with the broker's
// address filled in and the retention defaults applied where kc leaves them
// zero, for EnsureTopics to create the topics with.
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
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		return nil, kc, fmt.Errorf("starting the in-process kafka broker: %w", err)
	}
	kc.Brokers = c.ListenAddrs()
	return &Broker{cluster: c}, kc, nil
}

// Addrs are the broker's listen addresses.
func (b *Broker) Addrs() []string { return b.cluster.ListenAddrs() }

// Cluster is the kfake cluster, for fault injection in tests.
func (b *Broker) Cluster() *kfake.Cluster { return b.cluster }

// Stop closes the broker (its persisted log stays in its data dir).
func (b *Broker) Stop() { b.cluster.Close() }
