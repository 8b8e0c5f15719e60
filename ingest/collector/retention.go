package collector

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/chainwatch/chainwatch/kafka"
)

// DefaultRetentionHeadroom is the share of a partition's retention that
// records not yet stored may fill before the collector refuses new ones.
const DefaultRetentionHeadroom = kafka.DefaultRetentionHeadroom

// RetentionGuard keeps the collector from acknowledging what could expire
// unread. Every few seconds it compares, for each partition of the topics
// the writers consume, what the writer group has not stored yet (the log
// between the group's committed offset and the log end) with the topic's
// retention:
//
//   - bytes: the partition's size (DescribeLogDirs) × the unstored share of
//     its records, against retention.bytes;
//   - time: whether the oldest unstored record is older than headroom ×
//     retention.ms (ListOffsets by timestamp).
//
// When either reaches the headroom, Refusal returns the reason and the
// collector answers 503 with Retry-After until the writers catch up: the
// sender keeps the data instead of Kafka deleting it. Under the embedded
// broker chainwatch sets the retention itself, so this makes the loss
// impossible as long as senders retry. Under an external Kafka whose
// configs or log dirs this client may not read, the parts it cannot see are
// skipped (logged once) and the writer's expiry alarm
// (chainwatch_writer_records_expired_total) is what remains.
type RetentionGuard struct {
	adm      *kadm.Client
	group    string
	topics   []string
	headroom float64
	// Interval is the time between checks (2 s); set it before Run.
	Interval time.Duration
	m        *Metrics
	log      *slog.Logger

	refusal atomic.Pointer[string]
	warned  sync.Map // what could not be read, logged once each
}

// NewRetentionGuard watches topics for the writer group. cl may be the
// collector's producer client (it is not closed by the guard).
func NewRetentionGuard(cl *kgo.Client, group string, topics []string, headroom float64, m *Metrics, log *slog.Logger) *RetentionGuard {
	if headroom <= 0 {
		headroom = DefaultRetentionHeadroom
	}
	if log == nil {
		log = slog.Default()
	}
	if m == nil {
		m = NewMetrics(nil)
	}
	return &RetentionGuard{adm: kadm.NewClient(cl), group: group, topics: topics, headroom: headroom, Interval: 2 * time.Second, m: m, log: log}
}

// Refusal is "" while the collector may accept, else why not.
func (g *RetentionGuard) Refusal() string {
	if r := g.refusal.Load(); r != nil {
		return *r
	}
	return ""
}

// Run checks every two seconds until ctx ends.
func (g *RetentionGuard) Run(ctx context.Context) {
	t := time.NewTicker(g.Interval)
	defer t.Stop()
	for {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		if err := g.Check(cctx); err != nil && ctx.Err() == nil {
			g.log.Debug("retention check failed; keeping the previous state", "err", err)
		}
		cancel()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

type partitionKey struct {
	topic     string
	partition int32
}

// Check evaluates once and updates Refusal and the gauges. An error (Kafka
// unreachable) leaves the previous state.
func (g *RetentionGuard) Check(ctx context.Context) error {
	starts, err := g.adm.ListStartOffsets(ctx, g.topics...)
	if err == nil {
		err = starts.Error()
	}
	if err != nil {
		return fmt.Errorf("listing log starts: %w", err)
	}
	ends, err := g.adm.ListEndOffsets(ctx, g.topics...)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return fmt.Errorf("listing log ends: %w", err)
	}
	committed, err := g.adm.FetchOffsetsForTopics(ctx, g.group, g.topics...)
	if errors.Is(err, kerr.GroupIDNotFound) {
		committed, err = nil, nil // no writer has committed yet: nothing is stored
	}
	if err != nil {
		return fmt.Errorf("fetching the offsets of group %s: %w", g.group, err)
	}
	retBytes, retMs := map[string]int64{}, map[string]int64{}
	if cfgs, err := g.adm.DescribeTopicConfigs(ctx, g.topics...); err != nil {
		g.warnOnce("configs", "cannot read the topics' retention; the collector will not refuse before it", err)
	} else {
		for _, rc := range cfgs {
			for _, c := range rc.Configs {
				if c.Value == nil {
					continue
				}
				v, _ := strconv.ParseInt(*c.Value, 10, 64)
				switch c.Key {
				case "retention.bytes":
					retBytes[rc.Name] = v
				case "retention.ms":
					retMs[rc.Name] = v
				}
			}
		}
	}
	sizes := map[partitionKey]int64{}
	watched := kadm.TopicsSet{} // only our partitions: a shared cluster has many more
	starts.Each(func(o kadm.ListedOffset) {
		if watched[o.Topic] == nil {
			watched[o.Topic] = map[int32]struct{}{}
		}
		watched[o.Topic][o.Partition] = struct{}{}
	})
	if dirs, err := g.adm.DescribeAllLogDirs(ctx, watched); err != nil {
		g.warnOnce("logdirs", "cannot read partition sizes (DescribeLogDirs); only the time retention is watched", err)
	} else {
		dirs.Each(func(d kadm.DescribedLogDir) {
			for t, ps := range d.Topics {
				for p, dp := range ps {
					k := partitionKey{t, p}
					sizes[k] = max(sizes[k], dp.Size)
				}
			}
		})
	}
	// The first record younger than headroom × retention.ms, per topic.
	after := map[string]kadm.ListedOffsets{}
	now := time.Now()
	for _, t := range g.topics {
		if ms := retMs[t]; ms > 0 {
			lo, err := g.adm.ListOffsetsAfterMilli(ctx, now.UnixMilli()-int64(float64(ms)*g.headroom), t)
			if err == nil && lo.Error() == nil {
				after[t] = lo
			}
		}
	}

	var worst float64
	var reason string
	starts.Each(func(s kadm.ListedOffset) {
		e, ok := ends.Lookup(s.Topic, s.Partition)
		if !ok {
			return
		}
		c := s.Offset // no commit yet: nothing of the log is stored
		if o, ok := committed.Lookup(s.Topic, s.Partition); ok && o.Err == nil && o.At >= 0 {
			c = max(o.At, s.Offset)
		}
		unstored, total := e.Offset-c, e.Offset-s.Offset
		var ratio float64
		var why string
		if rb, size := retBytes[s.Topic], sizes[partitionKey{s.Topic, s.Partition}]; rb > 0 && size > 0 && unstored > 0 && total > 0 {
			ub := float64(size) * float64(unstored) / float64(total)
			if r := ub / float64(rb); r > ratio {
				ratio = r
				why = fmt.Sprintf("%s/%d holds %.1f MiB not yet stored, %.0f %% of its retention.bytes (%.1f MiB)",
					s.Topic, s.Partition, ub/(1<<20), 100*r, float64(rb)/(1<<20))
			}
		}
		if lo, ok := after[s.Topic]; ok && unstored > 0 {
			if a, ok := lo.Lookup(s.Topic, s.Partition); ok && c < a.Offset && g.headroom > ratio {
				ratio = g.headroom
				why = fmt.Sprintf("%s/%d holds records not yet stored that are older than %.0f %% of its retention.ms (%v)",
					s.Topic, s.Partition, 100*g.headroom, time.Duration(retMs[s.Topic])*time.Millisecond)
			}
		}
		g.m.UnstoredShare.WithLabelValues(s.Topic, strconv.Itoa(int(s.Partition))).Set(ratio)
		if ratio > worst {
			worst, reason = ratio, why
		}
	})
	if worst >= g.headroom {
		msg := "the writers are behind: " + reason + "; accepting more could let Kafka delete records before they are stored — retry later"
		if g.Refusal() == "" {
			g.log.Warn("refusing new records until the writers catch up", "reason", reason, "headroom", g.headroom)
		}
		g.refusal.Store(&msg)
		g.m.WritersBehind.Set(1)
	} else {
		if g.Refusal() != "" {
			g.log.Info("the writers caught up; accepting records again")
		}
		g.refusal.Store(nil)
		g.m.WritersBehind.Set(0)
	}
	return nil
}

func (g *RetentionGuard) warnOnce(key, msg string, err error) {
	if _, loaded := g.warned.LoadOrStore(key, true); !loaded {
		g.log.Warn(msg, "err", err)
	}
}

// SetRetentionGuard makes the collector refuse (503, Retry-After) while g
// says the writers are too far behind; call it before Start.
func (c *Collector) SetRetentionGuard(g *RetentionGuard) { c.guard = g }
