package writer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/chainwatch/chainwatch/clickhouse"
	"github.com/chainwatch/chainwatch/genai"
	"github.com/chainwatch/chainwatch/internal/backoff"
	"github.com/chainwatch/chainwatch/kafka"
	"github.com/chainwatch/chainwatch/schemas"
)

// Dead-letter record headers.
const (
	HeaderDLQReason    = "chainwatch.dlq.reason"
	HeaderDLQTopic     = "chainwatch.dlq.topic"
	HeaderDLQPartition = "chainwatch.dlq.partition"
	HeaderDLQOffset    = "chainwatch.dlq.offset"
)

// Writer consumes spans, feedback and evaluation scores from Kafka and inserts them into
// ClickHouse in batches. Offsets are committed only after a batch is stored
// (or, for a record that can never be decoded or stored, after it is in the
// dead-letter topic). Retryable insert errors back off and retry the same
// batch without polling more; nothing is dropped.
//
// Several writers in the same consumer group share the partitions. Delivery
// is at least once: a writer that dies between insert and commit leaves its
// batch to be inserted again, and the ReplacingMergeTree tables deduplicate.
type Writer struct {
	cfg    Config
	topics kafka.Topics
	cl     kafka.Consumer
	store  clickhouse.Store
	m      *Metrics
	log    *slog.Logger

	// afterInsert, when set (tests), runs between a stored batch and its
	// commit; returning true aborts the writer there, as a crash would.
	afterInsert func() bool

	cancel    context.CancelFunc
	done      chan struct{}
	abort     chan struct{} // closed when Shutdown's deadline passes: stop retrying
	once      sync.Once
	abortOnce sync.Once
	err       error
}

// New wires a writer; cl must be a consumer built with kafka.ConsumerOpts.
func New(cfg Config, topics kafka.Topics, cl kafka.Consumer, store clickhouse.Store, m *Metrics, log *slog.Logger) *Writer {
	if log == nil {
		log = slog.Default()
	}
	return &Writer{cfg: cfg.WithDefaults(), topics: topics, cl: cl, store: store, m: m, log: log, done: make(chan struct{}), abort: make(chan struct{})}
}

// topicAdder is the part of *kgo.Client that adds topics to a running
// consumer.
type topicAdder interface{ AddConsumeTopics(topics ...string) }

// Start runs the consume loop in the background and returns at once. When
// the topics name a scores topic and the consumer can add topics (a
// *kgo.Client can), the writer subscribes to it too, so a consumer built
// for spans and feedback alone also lands evaluation scores.
func (w *Writer) Start(ctx context.Context) error {
	if ta, ok := w.cl.(topicAdder); ok {
		for _, t := range []string{w.topics.Scores, w.topics.Logs} {
			if t != "" {
				ta.AddConsumeTopics(t)
			}
		}
	}
	ctx, w.cancel = context.WithCancel(context.WithoutCancel(ctx))
	go func() {
		defer close(w.done)
		w.err = w.run(ctx)
	}()
	return nil
}

// Shutdown stops polling, flushes the batch in hand, commits it and leaves
// the group. Idempotent.
func (w *Writer) Shutdown(ctx context.Context) error {
	w.once.Do(func() {
		if w.cancel != nil {
			w.cancel()
		}
	})
	select {
	case <-w.done:
		return w.err
	case <-ctx.Done():
		w.abortOnce.Do(func() { close(w.abort) })
		<-w.done
		return fmt.Errorf("writer shutdown: %w (the unstored batch stays uncommitted in Kafka)", ctx.Err())
	}
}

// SetAfterInsert installs a fault-injection hook for tests: f runs after a
// batch is stored and before its offsets are committed; when it returns
// true the writer stops right there, as if the process had been killed.
// Call it before Start.
func (w *Writer) SetAfterInsert(f func() bool) { w.afterInsert = f }

// Done is closed when the loop has stopped.
func (w *Writer) Done() <-chan struct{} { return w.done }

type batch struct {
	spans    []schemas.Span
	feedback []schemas.Feedback
	scores   []schemas.Score
	logs     []schemas.LogRecord
	dead     []*kgo.Record
	last     map[int64]*kgo.Record // per topic-partition: the batch's last record, to commit
	bytes    int
	records  int
	first    time.Time
	// after is closed when the batch handed off before this one is
	// committed; committed, when this one is; stored, when its insert is
	// done.
	after, committed, stored chan struct{}
}

// reset empties b for reuse. The rows it held are zeroed, not only cut
// off: a decoded span's strings alias its record (genai/wire.go), and a
// record aliases the whole fetch response it came in (up to
// kafka.ConsumerOpts' 16 MiB a partition), so a stale row beyond len kept
// that response alive until overwritten. In `bench ingest` (2026-12-06)
// such rows held 468 of the writer process's 872 MiB of live heap after a
// run, and the peak RSS of three short runs fell from 2,208-2,747 to
// 1,614-1,692 MiB with them zeroed (the GC then runs more often: CPU a
// span 11.3-12.4 against 10.9-11.6 µs, within the runs' noise).
func (b *batch) reset() {
	clear(b.spans[:cap(b.spans)])
	clear(b.feedback[:cap(b.feedback)])
	clear(b.scores[:cap(b.scores)])
	clear(b.logs[:cap(b.logs)])
	clear(b.dead[:cap(b.dead)])
	b.spans, b.feedback, b.scores, b.logs, b.dead = b.spans[:0], b.feedback[:0], b.scores[:0], b.logs[:0], b.dead[:0]
	clear(b.last)
	b.bytes, b.records, b.first = 0, 0, time.Time{}
}

func (b *batch) rows() int { return len(b.spans) + len(b.feedback) + len(b.scores) + len(b.logs) }

// run is a pipeline: this goroutine polls and decodes the next batch while
// up to cfg.Inserts insert goroutines store the batches before it (a
// second insert starting only when the one in flight has run for
// batch.max_wait). Each inserter then commits exactly its batch's offsets,
// in batch order: a batch's commit waits for the batches handed off before
// it, since a later offset committed first would, after a crash, skip an
// earlier batch not yet stored. At most Inserts+1 batches are in hand
// (bounded memory); when the inserters fall behind (ClickHouse slow or
// down), polling stops.
//
// Offsets committed are always of records already stored, whatever the
// rebalances in between, so nothing is lost; a rebalance while a batch is in
// flight can only make its records arrive twice, which the tables dedupe.
func (w *Writer) run(ctx context.Context) error {
	defer func() {
		// Leaving the group waits for a blocked rebalance; unblock it first.
		// Offsets not committed by now are not committed by Close either.
		w.cl.AllowRebalance()
		w.cl.Close()
	}()
	n := w.cfg.Inserts
	free := make(chan *batch, n+1)
	for range n + 1 {
		free <- &batch{last: map[int64]*kgo.Record{}}
	}
	full := make(chan *batch)
	insErr := make(chan error, n)
	idle := make(chan struct{}, 1) // an inserter waits for a batch
	stop := make(chan struct{})    // closed when an inserter fails: later batches' turns never come
	var stopOnce sync.Once
	for range n {
		go func() {
			err := w.insertLoop(ctx, full, free, idle, stop)
			if err != nil {
				stopOnce.Do(func() { close(stop) })
			}
			insErr <- err
		}()
	}
	prev := make(chan struct{}) // the last handed-off batch's commit
	close(prev)
	var lastStored chan struct{} // the last handed-off batch's insert
	var lastStart time.Time
	// inFlight: an insert handed off has not finished storing.
	inFlight := func() bool {
		if lastStored == nil {
			return false
		}
		select {
		case <-lastStored:
			return false
		default:
			return true
		}
	}
	// gap is how long a batch must still wait before an insert may start
	// beside the one in flight: another starts only once that one has run
	// for batch.max_wait — a shorter wait costs less than two inserts
	// contending (ClickHouse spent about a fifth more CPU a span with every
	// insert overlapping, bench ingest 2026-12-06).
	gap := func() time.Duration {
		if !inFlight() {
			return 0
		}
		return time.Until(lastStart.Add(w.cfg.Batch.MaxWait))
	}
	// handOff gives b to an inserter: at once if one is free and the gap
	// allows (now), else only if wait, by blocking until then. It reports
	// whether b was handed off.
	handOff := func(b *batch, wait bool) (bool, error) {
		if d := gap(); d > 0 {
			if !wait {
				return false, nil
			}
			t := time.NewTimer(d)
			select {
			case <-lastStored:
			case <-t.C:
			case err := <-insErr:
				insErr <- err
				t.Stop()
				return false, errInserterStopped
			}
			t.Stop()
		}
		// Set before the send: the inserter reads them once it has b.
		b.after, b.committed, b.stored = prev, make(chan struct{}), make(chan struct{})
		if wait {
			select {
			case full <- b:
			case err := <-insErr:
				insErr <- err
				return false, errInserterStopped
			}
		} else {
			select {
			case full <- b:
			default:
				return false, nil
			}
		}
		prev, lastStored, lastStart = b.committed, b.stored, time.Now()
		select {
		case <-idle: // from before this hand-off: stale now
		default:
		}
		return true, nil
	}
	// waitInserter waits until an inserter may take the next batch: with
	// one inserter, until it says it is about to take one; with more,
	// until one does so or the gap has passed. (Another of several idle
	// inserters' word may have been taken as stale by handOff; the gap
	// bounds the wait, and once it has passed nothing is waited for.)
	waitInserter := func() error {
		var after <-chan time.Time
		if n > 1 {
			t := time.NewTimer(max(gap(), 0))
			defer t.Stop()
			after = t.C
		}
		select {
		case <-idle:
		case <-after:
		case <-ctx.Done():
		case err := <-insErr:
			insErr <- err
			return errInserterStopped
		}
		return nil
	}
	finish := func(err error) error {
		close(full)
		var first error
		for range n {
			if ierr := <-insErr; first == nil && ierr != nil && !errors.Is(ierr, errCrashed) && !errors.Is(ierr, errInserterStopped) {
				first = ierr
			}
		}
		if first != nil {
			return first
		}
		return err
	}
	var b *batch
	due := false // b has reached a limit and waits for an inserter
	for {
		if b == nil {
			select {
			case b = <-free:
				due = false
			case err := <-insErr:
				insErr <- err
				return finish(nil)
			}
		}
		// Not yet due, a batch polls until max_wait from its first
		// record, for the rows max_rows has left. Due while every
		// inserter is busy, it waits for one to be free and then takes
		// what has arrived meanwhile, up to max_bytes: those records would
		// otherwise wait in Kafka for the batch after, and a larger insert
		// costs ClickHouse less a row. It does not poll while it waits:
		// franz-go goes on fetching into its buffer meanwhile, and one
		// poll then takes that whole buffer, where polling all along would
		// drain it in many small fetches.
		wait, count := w.cfg.Batch.MaxWait, w.cfg.Batch.MaxRows-b.rows()
		switch {
		case due:
			if err := waitInserter(); err != nil {
				return finish(nil)
			}
			wait, count = time.Millisecond, b.records*(w.cfg.Batch.MaxBytes-b.bytes)/b.bytes
		case !b.first.IsZero():
			wait = time.Until(b.first.Add(w.cfg.Batch.MaxWait))
		}
		if ctx.Err() == nil && wait > 0 && count > 0 {
			pctx, cancel := context.WithTimeout(ctx, wait)
			fetches := w.cl.PollRecords(pctx, count)
			cancel()
			if fetches.IsClientClosed() {
				return finish(nil)
			}
			fetches.EachError(func(t string, p int32, err error) {
				switch {
				case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled):
				case errors.Is(err, kerr.OffsetOutOfRange):
					w.expired(ctx, t, p)
				default:
					w.log.Warn("kafka fetch error", "topic", t, "partition", p, "err", err)
				}
			})
			fetches.EachPartition(func(p kgo.FetchTopicPartition) {
				if n := len(p.Records); n > 0 {
					lag := p.HighWatermark - p.Records[n-1].Offset - 1
					w.m.ConsumerLag.WithLabelValues(p.Topic, strconv.Itoa(int(p.Partition))).Set(float64(lag))
				}
			})
			fetches.EachRecord(func(r *kgo.Record) { w.add(b, r) })
		}
		stopping := ctx.Err() != nil
		atMax, waited := b.bytes >= w.cfg.Batch.MaxBytes, due
		due = due || b.records > 0 && (stopping || atMax || b.rows() >= w.cfg.Batch.MaxRows ||
			time.Since(b.first) >= w.cfg.Batch.MaxWait)
		if due {
			// Wait for an inserter at once when the batch can grow no
			// more, has waited for one already, or none is busy storing
			// (one is starting or committing: nothing to gather for).
			handed, err := handOff(b, stopping || atMax || waited || !inFlight())
			if err != nil {
				return finish(nil)
			}
			if handed {
				b = nil
			}
		}
		if b != nil && b.records == 0 {
			// Nothing in hand: an inserter that stopped (failed, or a
			// simulated crash) ends the run now, not at the next batch,
			// which may never come.
			select {
			case err := <-insErr:
				insErr <- err
				return finish(nil)
			default:
			}
		}
		if b == nil || b.records == 0 {
			// No batch in hand: a rebalance now costs at most a
			// redelivery of the batch being inserted. An idle member
			// must allow it too — with BlockRebalanceOnPoll every poll,
			// empty or not, blocks rebalances until this call, and a
			// member that never calls it stalls the whole group.
			w.cl.AllowRebalance()
		}
		if stopping && (b == nil || b.records == 0) {
			return finish(nil)
		}
	}
}

var (
	errInserterStopped = errors.New("inserter stopped")
	errCrashed         = errors.New("simulated crash")
)

// insertLoop stores each batch (retrying as long as it takes), then, once
// the batch handed off before it is committed, commits its offsets and
// returns the batch for reuse. It returns when full is closed, when storing
// fails, or when another inserter has stopped (stop closed) before this
// batch's turn came.
func (w *Writer) insertLoop(ctx context.Context, full <-chan *batch, free chan<- *batch, idle chan<- struct{}, stop <-chan struct{}) error {
	for {
		// About to wait for a batch: a due batch waiting for an inserter
		// stops gathering and comes.
		select {
		case idle <- struct{}{}:
		default:
		}
		b, ok := <-full
		if !ok {
			return nil
		}
		if err := w.flush(ctx, b); err != nil {
			return err
		}
		close(b.stored)
		if w.afterInsert != nil && w.afterInsert() {
			return errCrashed // stored, not committed
		}
		select {
		case <-b.after:
		case <-stop:
			return errInserterStopped // stored, not committed: delivered again
		}
		recs := make([]*kgo.Record, 0, len(b.last))
		for _, r := range b.last {
			recs = append(recs, r)
		}
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		if err := w.cl.CommitRecords(cctx, recs...); err != nil {
			// Fenced by a rebalance, or Kafka away: the records come back
			// to whoever owns the partitions and are deduplicated there.
			w.m.CommitErrors.Inc()
			w.log.Warn("committing offsets failed; the batch will be delivered again", "err", err)
		}
		cancel()
		close(b.committed)
		b.reset()
		free <- b
	}
}

func (w *Writer) add(b *batch, r *kgo.Record) {
	if b.records == 0 {
		b.first = time.Now()
	}
	b.records++
	b.bytes += len(r.Value)
	b.last[int64(r.Partition)<<32|int64(w.topicIndex(r.Topic))] = r
	switch r.Topic {
	case w.topics.Spans:
		// The application's own evaluations (gen_ai.evaluation.result
		// events) land in eval_scores beside the evaluator's.
		spans, scores, err := genai.AppendRecord(b.spans, b.scores, r.Value)
		if err != nil {
			var re *genai.RecordError
			errors.As(err, &re)
			w.deadLetter(b, r, re.Reason, re.Msg)
			return
		}
		b.spans, b.scores = spans, scores
	case w.topics.Logs:
		// GenAI events sent as log records, their evaluation results, and
		// every other log record (genai.AppendLogs).
		logs, scores, err := genai.AppendLogRecord(b.logs, b.scores, r.Value, r.Timestamp)
		if err != nil {
			var re *genai.RecordError
			errors.As(err, &re)
			w.deadLetter(b, r, re.Reason, re.Msg)
			return
		}
		b.logs, b.scores = logs, scores
	case w.topics.Feedback:
		var f schemas.Feedback
		if err := json.Unmarshal(r.Value, &f); err != nil {
			w.deadLetter(b, r, reasonDecode, fmt.Sprintf("decoding feedback JSON: %v", err))
			return
		}
		if f.ID == "" || f.TraceID == "" {
			w.deadLetter(b, r, reasonInvalid, "feedback without id or trace_id")
			return
		}
		b.feedback = append(b.feedback, f)
	case w.topics.Scores:
		var s schemas.Score
		if err := json.Unmarshal(r.Value, &s); err != nil {
			w.deadLetter(b, r, reasonDecode, fmt.Sprintf("decoding score JSON: %v", err))
			return
		}
		if s.TraceID == "" || s.Evaluator == "" || s.Metric == "" {
			w.deadLetter(b, r, reasonInvalid, "score without trace_id, evaluator or metric")
			return
		}
		b.scores = append(b.scores, s)
	default:
		w.deadLetter(b, r, reasonInvalid, "record from an unexpected topic "+r.Topic)
	}
}

// topicIndex numbers the consumed topics for the batch's commit map.
func (w *Writer) topicIndex(t string) int {
	switch t {
	case w.topics.Spans:
		return 0
	case w.topics.Feedback:
		return 1
	case w.topics.Scores:
		return 2
	case w.topics.Logs:
		return 3
	}
	return 4
}

func (w *Writer) deadLetter(b *batch, r *kgo.Record, reason, msg string) {
	w.log.Warn("dead-lettering record", "topic", r.Topic, "partition", r.Partition, "offset", r.Offset, "reason", reason, "err", msg)
	w.m.DeadLetters.WithLabelValues(r.Topic, reason).Inc()
	b.dead = append(b.dead, &kgo.Record{
		Topic: w.topics.DeadLetter,
		Key:   r.Key,
		Value: r.Value,
		Headers: append(append([]kgo.RecordHeader(nil), r.Headers...),
			kgo.RecordHeader{Key: HeaderDLQReason, Value: []byte(reason + ": " + msg)},
			kgo.RecordHeader{Key: HeaderDLQTopic, Value: []byte(r.Topic)},
			kgo.RecordHeader{Key: HeaderDLQPartition, Value: []byte(strconv.Itoa(int(r.Partition)))},
			kgo.RecordHeader{Key: HeaderDLQOffset, Value: []byte(strconv.FormatInt(r.Offset, 10))},
		),
	})
}

// flush stores the batch, retrying retryable errors with exponential backoff
// for as long as it takes; each kind goes through insertRows.
func (w *Writer) flush(ctx context.Context, b *batch) error {
	if err := w.retry(ctx, "spans", func(c context.Context) error { return insertRows(c, w, b, w.spansTable(b)) }); err != nil {
		return err
	}
	if err := w.retry(ctx, "feedback", func(c context.Context) error { return insertRows(c, w, b, w.feedbackTable(b)) }); err != nil {
		return err
	}
	if err := w.retry(ctx, "eval_scores", func(c context.Context) error { return insertRows(c, w, b, w.scoresTable(b)) }); err != nil {
		return err
	}
	if err := w.retry(ctx, "logs", func(c context.Context) error { return insertRows(c, w, b, w.logsTable(b)) }); err != nil {
		return err
	}
	if len(b.dead) > 0 {
		if err := w.retry(ctx, "dead_letter", func(c context.Context) error {
			return w.cl.ProduceSync(c, b.dead...).FirstErr()
		}); err != nil {
			return err
		}
	}
	return nil
}

// table is one record kind's way into ClickHouse: where its rows wait in
// the batch, how they are inserted, and how a row that ClickHouse refuses
// is keyed on the dead-letter topic.
type table[T any] struct {
	name   string // the metrics' table label
	rows   *[]T
	insert func(context.Context, []T) error
	topic  string
	key    func(*T) string
	stored func([]T) // after a whole batch is in (nil: nothing more)
}

// insertRows stores t's rows; the one insert path of every kind. A
// permanent error makes it insert row by row, dead-lettering the rows
// ClickHouse refuses and keeping the good ones; a retryable error returns
// with the rows not yet stored still in the batch.
func insertRows[T any](ctx context.Context, w *Writer, b *batch, t table[T]) error {
	rows := *t.rows
	if len(rows) == 0 {
		return nil
	}
	start := time.Now()
	err := t.insert(ctx, rows)
	if err == nil {
		w.m.InsertSeconds.WithLabelValues(t.name).Observe(time.Since(start).Seconds())
		w.m.BatchRows.WithLabelValues(t.name).Observe(float64(len(rows)))
		w.m.RowsWritten.WithLabelValues(t.name).Add(float64(len(rows)))
		if t.stored != nil {
			t.stored(rows)
		}
		*t.rows = rows[:0]
		return nil
	}
	if !clickhouse.IsPermanent(err) {
		return err
	}
	w.m.InsertErrors.WithLabelValues(t.name, "permanent").Inc()
	w.log.Error("permanent error inserting a batch; inserting row by row to isolate the bad rows", "table", t.name, "rows", len(rows), "err", err)
	for i := range rows {
		switch e := t.insert(ctx, rows[i:i+1]); {
		case e == nil:
			w.m.RowsWritten.WithLabelValues(t.name).Inc()
		case !clickhouse.IsPermanent(e):
			*t.rows = rows[i:]
			return e
		default:
			v, _ := json.Marshal(rows[i])
			w.deadLetter(b, &kgo.Record{Topic: t.topic, Key: []byte(t.key(&rows[i])), Value: v, Partition: -1, Offset: -1}, reasonInsert, e.Error())
		}
	}
	*t.rows = rows[:0]
	return nil
}

func (w *Writer) spansTable(b *batch) table[schemas.Span] {
	return table[schemas.Span]{name: "spans", rows: &b.spans, insert: w.store.InsertSpans, topic: w.topics.Spans,
		key: func(s *schemas.Span) string { return s.TraceID },
		stored: func(spans []schemas.Span) {
			now := time.Now()
			for i := 0; i < len(spans); i += max(1, len(spans)/64) { // a sample is enough for a histogram
				w.m.EndToEndSecond.Observe(now.Sub(spans[i].EndTime).Seconds())
			}
		}}
}

func (w *Writer) feedbackTable(b *batch) table[schemas.Feedback] {
	return table[schemas.Feedback]{name: "feedback", rows: &b.feedback, insert: w.store.InsertFeedback, topic: w.topics.Feedback,
		key: func(f *schemas.Feedback) string { return f.TraceID }}
}

func (w *Writer) scoresTable(b *batch) table[schemas.Score] {
	return table[schemas.Score]{name: "eval_scores", rows: &b.scores, insert: w.store.InsertScores, topic: w.topics.Scores,
		key: func(s *schemas.Score) string { return s.TraceID }}
}

func (w *Writer) logsTable(b *batch) table[schemas.LogRecord] {
	return table[schemas.LogRecord]{name: "logs", rows: &b.logs, insert: w.store.InsertLogs, topic: w.topics.Logs,
		key: func(l *schemas.LogRecord) string { return l.TraceID }}
}

// retry runs op until it succeeds, backing off between tries. Stopping the
// writer does not interrupt it (Shutdown flushes); only Shutdown's deadline
// passing does, and what was not stored then stays uncommitted in Kafka.
func (w *Writer) retry(ctx context.Context, what string, op func(context.Context) error) error {
	actx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	go func() { // only Shutdown's deadline ends the retrying
		select {
		case <-w.abort:
			cancel()
		case <-actx.Done():
		}
	}()
	p := backoff.Policy{Initial: w.cfg.Retry.Initial, Max: w.cfg.Retry.Max} // no attempt bound: as long as it takes
	err := p.RetryNotify(actx, func(context.Context) error {
		// An insert under way is never cut short by the abort.
		ictx, c := context.WithTimeout(context.WithoutCancel(ctx), w.cfg.InsertTimeout)
		defer c()
		if err := op(ictx); err != nil {
			w.m.InsertErrors.WithLabelValues(what, "retryable").Inc()
			return err
		}
		return nil
	}, func(err error, attempt int, wait time.Duration) {
		w.log.Warn("storing batch failed; retrying", "what", what, "attempt", attempt, "in", wait, "err", err)
	})
	if err != nil {
		return fmt.Errorf("writer stopped while storing %s; the batch stays uncommitted in Kafka: %w", what, err)
	}
	return nil
}

// expired handles a fetch that Kafka answered OffsetOutOfRange: the
// partition's log start has moved past the writer's position, so records
// acknowledged to senders were deleted (retention) before they were stored.
// The consumer is built with NoResetOffset (WriterConsumerOpts) so that this
// can never pass silently: the writer counts the lost records
// (chainwatch_writer_records_expired_total), logs an error naming the
// partition and the offsets, and resumes at the new log start.
func (w *Writer) expired(ctx context.Context, topic string, partition int32) {
	cl, ok := w.cl.(*kgo.Client)
	if !ok {
		w.log.Error("kafka says the writer's position is out of range and this consumer cannot be repositioned", "topic", topic, "partition", partition)
		return
	}
	lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	starts, err := kadm.NewClient(cl).ListStartOffsets(lctx, topic)
	if err == nil {
		err = starts.Error()
	}
	so, found := starts.Lookup(topic, partition)
	if err != nil || !found {
		w.log.Error("kafka says the writer's position is out of range; listing the log start failed, retrying at the next poll", "topic", topic, "partition", partition, "err", err)
		return
	}
	pos := int64(-1)
	if eo, ok := cl.UncommittedOffsets()[topic][partition]; ok {
		pos = eo.Offset
	} else if eo, ok := cl.CommittedOffsets()[topic][partition]; ok {
		pos = eo.Offset
	}
	lost := so.Offset - pos
	if pos < 0 || lost < 0 {
		// Not below the log start: the position is past the log's end (a
		// broker that lost data). Nothing expired; re-reading from the
		// start is safe (the tables deduplicate).
		w.log.Warn("kafka says the writer's position is out of range but not below the log start; re-reading from the log start",
			"topic", topic, "partition", partition, "position", pos, "log_start", so.Offset)
		cl.SetOffsets(map[string]map[int32]kgo.EpochOffset{topic: {partition: {Epoch: -1, Offset: so.Offset}}})
		return
	}
	w.m.Expired.WithLabelValues(topic).Add(float64(lost))
	w.log.Error("records expired from kafka before they were stored: acknowledged data lost (the writers fell behind the topic's retention); resuming at the log start",
		"topic", topic, "partition", partition, "position", pos, "log_start", so.Offset, "lost_records", lost)
	cl.SetOffsets(map[string]map[int32]kgo.EpochOffset{topic: {partition: {Epoch: -1, Offset: so.Offset}}})
}
