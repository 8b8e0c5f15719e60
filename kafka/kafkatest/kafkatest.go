// Package kafkatest starts an in-process Kafka-protocol broker (franz-go's
// kfake) for tests.
package kafkatest

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"
)

// NewCluster starts a kfake cluster, stopped in tb.Cleanup. It returns the
// cluster (for fault injection with ControlKey) and its seed brokers.
func NewCluster(tb testing.TB, opts ...kfake.Opt) (*kfake.Cluster, []string) {
	tb.Helper()
	c, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1)}, opts...)...)
	if err != nil {
		tb.Fatalf("starting kfake: %v", err)
	}
	tb.Cleanup(c.Close)
	return c, c.ListenAddrs()
}
