package monitor

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"sync"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/chainwatch/chainwatch/kafka"
)

// Owner says which monitors this worker runs. With several workers, each
// monitor must be run by one of them per tick.
type Owner interface {
	Owns(monitor string) bool
}

// OwnAll runs every monitor: the owner of a single worker.
type OwnAll struct{}

// Owns reports true.
func (OwnAll) Owns(string) bool { return true }

var _ Owner = OwnAll{}

// DefaultCoordinationPartitions is the partition count of the
// coordination topic: the most workers that can share the monitors.
const DefaultCoordinationPartitions = 16

// KafkaOwner shares the monitors among the workers of one Kafka consumer
// group. Each monitor hashes to a partition of a coordination topic (which
// carries no records); the group's assignor spreads the partitions over the
// live workers, and a worker runs the monitors of the partitions it holds.
// When a worker joins, leaves or dies, Kafka rebalances and the monitors
// move. During a rebalance two workers may briefly both believe they own
// a monitor; that costs at most one repeated run of a tick, which replaces
// itself in detector_results (ReplacingMergeTree on (monitor, tick)) and
// re-sends an identical alert that Alertmanager deduplicates.
type KafkaOwner struct {
	cl         *kgo.Client
	partitions int32
	mu         sync.RWMutex
	owned      map[int32]bool
	cancel     context.CancelFunc
	done       chan struct{}
}

var _ Owner = (*KafkaOwner)(nil)

// NewKafkaOwner joins group on topic (created with partitions partitions
// when missing) and starts tracking the assignment.
func NewKafkaOwner(ctx context.Context, kc kafka.Config, topic, group string, partitions int32) (*KafkaOwner, error) {
	if partitions <= 0 {
		partitions = DefaultCoordinationPartitions
	}
	adm, err := kafka.NewAdmin(kc)
	if err != nil {
		return nil, err
	}
	resp, err := adm.CreateTopic(ctx, partitions, -1, nil, topic)
	adm.Close()
	if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		return nil, fmt.Errorf("creating coordination topic %s: %w", topic, err)
	}
	if resp.Err != nil && !errors.Is(resp.Err, kerr.TopicAlreadyExists) {
		return nil, fmt.Errorf("creating coordination topic %s: %w", topic, resp.Err)
	}
	o := &KafkaOwner{partitions: partitions, owned: map[int32]bool{}, done: make(chan struct{})}
	set := func(ps map[string][]int32, v bool) {
		o.mu.Lock()
		defer o.mu.Unlock()
		for _, p := range ps[topic] {
			if v {
				o.owned[p] = true
			} else {
				delete(o.owned, p)
			}
		}
	}
	o.cl, err = kafka.NewClient(kc,
		kgo.ConsumerGroup(group),
		kgo.ConsumeTopics(topic),
		kgo.DisableAutoCommit(),
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, ps map[string][]int32) { set(ps, true) }),
		kgo.OnPartitionsRevoked(func(_ context.Context, _ *kgo.Client, ps map[string][]int32) { set(ps, false) }),
		kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, ps map[string][]int32) { set(ps, false) }),
	)
	if err != nil {
		return nil, fmt.Errorf("joining worker group %s: %w", group, err)
	}
	pctx, cancel := context.WithCancel(context.Background())
	o.cancel = cancel
	go func() { // keeps the member polling; the topic carries no records
		defer close(o.done)
		for pctx.Err() == nil {
			o.cl.PollFetches(pctx)
		}
	}()
	return o, nil
}

// Owns reports whether this worker holds the monitor's partition.
func (o *KafkaOwner) Owns(monitor string) bool {
	h := fnv.New32a()
	h.Write([]byte(monitor))
	p := int32(h.Sum32() % uint32(o.partitions))
	o.mu.RLock()
	defer o.mu.RUnlock()
	return o.owned[p]
}

// Close leaves the group, so the others take over at once.
func (o *KafkaOwner) Close() {
	o.cancel()
	<-o.done
	o.cl.Close()
}
