package writer

import (
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/chainwatch/chainwatch/kafka"
)

// ConsumerOpts are kafka.ConsumerOpts for the writer group, which must
// never skip a record silently:
//   - a position Kafka no longer holds (retention deleted records before
//     they were stored) is not reset quietly: the fetch fails with
//     OffsetOutOfRange and the writer counts, logs and repositions
//     (Writer.expired);
//   - a shorter session timeout (writer.session_timeout, default 10 s), so
//     the partitions of a killed writer move to the others in seconds, not
//     Kafka's 45 s; and a rebalance timeout (writer.rebalance_timeout,
//     default 20 s) that bounds how long a rebalance waits for a member
//     that does not rejoin (a member busy inserting a batch past it is
//     dropped from the generation; its batch is delivered again);
//   - with writer.instance_id ("-": none), static membership: a writer
//     restarted under the same id takes its partitions back without a
//     rebalance.
func ConsumerOpts(c kafka.Config, w Config, topics ...string) []kgo.Opt {
	w = w.WithDefaults()
	opts := append(kafka.ConsumerOpts(c, w.Group, topics...),
		kgo.ConsumeStartOffset(kgo.NewOffset().AtStart()),
		kgo.ConsumeResetOffset(kgo.NoResetOffset()),
		kgo.SessionTimeout(w.SessionTimeout),
		kgo.HeartbeatInterval(max(100*time.Millisecond, w.SessionTimeout/10)),
		kgo.RebalanceTimeout(w.RebalanceTimeout),
	)
	if w.InstanceID != "" && w.InstanceID != "-" {
		opts = append(opts, kgo.InstanceID(w.InstanceID))
	}
	return opts
}
