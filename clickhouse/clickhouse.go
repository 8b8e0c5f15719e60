// Package clickhouse is chainwatch's one home for ClickHouse: the
// configuration, Open, the migrator's connection, the permanent-error rule
// and the insert path for spans, feedback and scores.
package clickhouse

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"time"

	chgo "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/chainwatch/chainwatch/schemas"
)

// Open connects to the configured database, creating it when
// missing (the connection for that step uses the default database).
func Open(ctx context.Context, c Config) (driver.Conn, error) {
	c = c.WithDefaults()
	if len(c.Addr) == 0 {
		return nil, errors.New("clickhouse.addr is empty")
	}
	open := func(db string) (driver.Conn, error) {
		o := &chgo.Options{
			Addr:         c.Addr,
			Auth:         chgo.Auth{Database: db, Username: c.Username, Password: c.Password},
			DialTimeout:  c.DialTimeout,
			MaxOpenConns: 8,
			MaxIdleConns: 8,
			// Old servers (18.16) reject settings they don't know; send
			// none but what cluster mode needs (18.16 has it).
		}
		if c.Cluster != "" {
			o.Settings = chgo.Settings{"insert_distributed_sync": 1}
		}
		return chgo.Open(o)
	}
	boot, err := open("default")
	if err != nil {
		return nil, fmt.Errorf("opening clickhouse %v: %w", c.Addr, err)
	}
	create := "CREATE DATABASE IF NOT EXISTS " + c.Database
	if c.Cluster != "" {
		create += " ON CLUSTER " + c.Cluster
	}
	err = boot.Exec(ctx, create)
	boot.Close()
	if err != nil {
		return nil, fmt.Errorf("creating clickhouse database %s on %v: %w", c.Database, c.Addr, err)
	}
	conn, err := open(c.Database)
	if err != nil {
		return nil, fmt.Errorf("opening clickhouse %v: %w", c.Addr, err)
	}
	if err := conn.Ping(ctx); err != nil {
		conn.Close()
		return nil, fmt.Errorf("pinging clickhouse %v: %w", c.Addr, err)
	}
	return conn, nil
}

// MigrationDB adapts a clickhouse-go connection to schemas.DB.
type MigrationDB struct{ Conn driver.Conn }

var _ schemas.DB = MigrationDB{}

// StatementTimeout bounds each migration statement and query.
const StatementTimeout = time.Minute

// Exec runs a statement.
func (m MigrationDB) Exec(ctx context.Context, q string) error {
	ctx, cancel := context.WithTimeout(ctx, StatementTimeout)
	defer cancel()
	return m.Conn.Exec(ctx, q)
}

// QueryStrings returns the first column of a query as strings.
func (m MigrationDB) QueryStrings(ctx context.Context, q string) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, StatementTimeout)
	defer cancel()
	rows, err := m.Conn.Query(ctx, q)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// Store is where the writer puts records. Insert errors are classified with
// IsPermanent: a permanent error will not go away by retrying the same rows.
type Store interface {
	InsertSpans(ctx context.Context, spans []schemas.Span) error
	InsertFeedback(ctx context.Context, fb []schemas.Feedback) error
	InsertScores(ctx context.Context, scores []schemas.Score) error
	InsertLogs(ctx context.Context, logs []schemas.LogRecord) error
}

// Inserter inserts into ClickHouse with column-oriented batches and an
// explicit column list (which ClickHouse 18.16 needs).
type Inserter struct {
	conn       driver.Conn
	caps       schemas.Capabilities
	spansSQL   string
	feedbackSQ string
	scoresSQL  string
	logsSQL    string
}

var _ Store = (*Inserter)(nil)

// NewInserter reads the server version to learn the table shapes the migrator
// chose.
func NewInserter(ctx context.Context, conn driver.Conn) (*Inserter, error) {
	v, err := MigrationDB{conn}.QueryStrings(ctx, "SELECT version()")
	if err != nil || len(v) == 0 {
		return nil, fmt.Errorf("reading clickhouse version: %w", err)
	}
	sv, err := schemas.ParseServerVersion(v[0])
	if err != nil {
		return nil, err
	}
	caps := schemas.CapabilitiesOf(sv)
	return &Inserter{
		conn:       conn,
		caps:       caps,
		spansSQL:   "INSERT INTO spans (" + strings.Join(schemas.SpanColumns(caps), ", ") + ")",
		feedbackSQ: "INSERT INTO feedback (" + strings.Join(schemas.FeedbackColumns(), ", ") + ")",
		scoresSQL:  "INSERT INTO eval_scores (" + strings.Join(schemas.ScoreColumns(), ", ") + ")",
		logsSQL:    "INSERT INTO logs (" + strings.Join(schemas.LogColumns(caps), ", ") + ")",
	}, nil
}

// Conn is the underlying connection.
func (s *Inserter) Conn() driver.Conn { return s.conn }

// Capabilities are what the server at hand supports.
func (s *Inserter) Capabilities() schemas.Capabilities { return s.caps }

// InsertSpans writes spans in one insert.
func (s *Inserter) InsertSpans(ctx context.Context, spans []schemas.Span) error {
	if len(spans) == 0 {
		return nil
	}
	b, err := s.conn.PrepareBatch(ctx, s.spansSQL)
	if err != nil {
		return fmt.Errorf("preparing clickhouse batch: %w", err)
	}
	defer b.Abort()
	n := len(spans)
	var (
		traceID, spanID, parent, name     = make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		start, end                        = make([]time.Time, n), make([]time.Time, n)
		startNano                         = make([]uint64, n)
		durMS                             = make([]float64, n)
		app, env, chain, chainV           = make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		compName, compKind, tmplID, tmplV = make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		op, provider, modelReq, modelRet  = make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		input, output                     = make([]string, n), make([]string, n)
		inTok, outTok                     = make([]uint32, n), make([]uint32, n)
		status, errMsg, session, user     = make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		ingested                          = make([]time.Time, n)
		cacheRead, cacheWrite, reasoning  = make([]uint32, n), make([]uint32, n), make([]uint32, n)
		stream                            = make([]uint8, n)
		ttfc                              = make([]float64, n)
		sysText, toolDefs, guardrail      = make([]string, n), make([]string, n), make([]string, n)
		now                               = time.Now()
	)
	var attrMaps []map[string]string
	var attrKeys, attrVals [][]string
	if s.caps.Map {
		attrMaps = make([]map[string]string, n)
	} else {
		attrKeys, attrVals = make([][]string, n), make([][]string, n)
	}
	for i := range spans {
		sp := &spans[i]
		traceID[i], spanID[i], parent[i], name[i] = sp.TraceID, sp.SpanID, sp.ParentSpanID, sp.Name
		start[i], end[i] = sp.StartTime, sp.EndTime
		startNano[i] = uint64(sp.StartTime.UnixNano())
		durMS[i] = float64(sp.EndTime.Sub(sp.StartTime).Nanoseconds()) / 1e6
		app[i], env[i], chain[i], chainV[i] = sp.App, sp.Environment, sp.ChainName, sp.ChainVersion
		compName[i], compKind[i], tmplID[i], tmplV[i] = sp.ComponentName, string(sp.ComponentKind), sp.PromptTemplateID, sp.PromptTemplateVersion
		op[i], provider[i], modelReq[i], modelRet[i] = sp.Operation, sp.Provider, sp.ModelRequested, sp.ModelReturned
		input[i], output[i] = sp.InputText, sp.OutputText
		inTok[i], outTok[i] = clampU32(sp.InputTokens), clampU32(sp.OutputTokens)
		status[i], errMsg[i], session[i], user[i] = sp.Status, sp.ErrorMessage, sp.SessionID, sp.UserID
		ingested[i] = now
		cacheRead[i], cacheWrite[i], reasoning[i] = clampU32(sp.CacheReadInputTokens), clampU32(sp.CacheCreationInputTokens), clampU32(sp.ReasoningOutputTokens)
		if sp.Stream {
			stream[i] = 1
		}
		ttfc[i] = sp.TimeToFirstChunkMS
		sysText[i], toolDefs[i], guardrail[i] = sp.SystemInstructions, sp.ToolDefinitions, sp.GuardrailResult
		if s.caps.Map {
			attrMaps[i] = sp.Attributes
			if attrMaps[i] == nil {
				attrMaps[i] = map[string]string{}
			}
		} else {
			ks, vs := make([]string, 0, len(sp.Attributes)), make([]string, 0, len(sp.Attributes))
			for k, v := range sp.Attributes {
				ks, vs = append(ks, k), append(vs, v)
			}
			attrKeys[i], attrVals[i] = ks, vs
		}
	}
	cols := []any{traceID, spanID, parent, name, start, end, startNano, durMS,
		app, env, chain, chainV, compName, compKind, tmplID, tmplV,
		op, provider, modelReq, modelRet, input, output, inTok, outTok,
		status, errMsg, session, user}
	if s.caps.Map {
		cols = append(cols, attrMaps)
	} else {
		cols = append(cols, attrKeys, attrVals)
	}
	cols = append(cols, ingested, cacheRead, cacheWrite, reasoning, stream, ttfc, sysText, toolDefs, guardrail)
	sc := reserveStrColumns(b.Columns(), cols) // strcols.go: no regrowth of the text columns
	defer sc.release()                         // after Send (defers run in reverse)
	for i, c := range cols {
		if err := b.Column(i).Append(c); err != nil {
			return Permanent(fmt.Errorf("appending spans column %d: %w", i, err))
		}
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("inserting %d spans: %w", n, err)
	}
	return nil
}

// InsertFeedback writes feedback rows in one insert.
func (s *Inserter) InsertFeedback(ctx context.Context, fb []schemas.Feedback) error {
	if len(fb) == 0 {
		return nil
	}
	b, err := s.conn.PrepareBatch(ctx, s.feedbackSQ)
	if err != nil {
		return fmt.Errorf("preparing clickhouse batch: %w", err)
	}
	defer b.Abort()
	now := time.Now()
	for i := range fb {
		f := &fb[i]
		if err := b.Append(f.ID, f.TraceID, f.SpanID, f.Score, f.Label, f.Comment, f.Source, f.UserID, f.Time, now); err != nil {
			return Permanent(fmt.Errorf("appending feedback %s: %w", f.ID, err))
		}
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("inserting %d feedback rows: %w", len(fb), err)
	}
	return nil
}

// InsertScores writes evaluation scores in one insert, columns in the order
// of schemas.ScoreColumns.
func (s *Inserter) InsertScores(ctx context.Context, scores []schemas.Score) error {
	if len(scores) == 0 {
		return nil
	}
	b, err := s.conn.PrepareBatch(ctx, s.scoresSQL)
	if err != nil {
		return fmt.Errorf("preparing clickhouse batch: %w", err)
	}
	defer b.Abort()
	now := time.Now()
	for i := range scores {
		sc := &scores[i]
		latencyMS := float64(sc.Latency.Nanoseconds()) / 1e6
		if err := b.Append(sc.TraceID, sc.SpanID, sc.App, sc.Chain, sc.Evaluator, sc.EvaluatorVersion, sc.Metric,
			sc.Value, sc.Reasoning, sc.JudgeModel, sc.CostUSD, latencyMS, sc.Error, sc.Created, now, sc.Label); err != nil {
			return Permanent(fmt.Errorf("appending score %s/%s %s.%s: %w", sc.TraceID, sc.SpanID, sc.Evaluator, sc.Metric, err))
		}
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("inserting %d scores: %w", len(scores), err)
	}
	return nil
}

// InsertLogs writes log records in one insert, columns in the order of
// schemas.LogColumns.
func (s *Inserter) InsertLogs(ctx context.Context, logs []schemas.LogRecord) error {
	if len(logs) == 0 {
		return nil
	}
	b, err := s.conn.PrepareBatch(ctx, s.logsSQL)
	if err != nil {
		return fmt.Errorf("preparing clickhouse batch: %w", err)
	}
	defer b.Abort()
	now := time.Now()
	for i := range logs {
		l := &logs[i]
		var observed uint64
		if !l.ObservedTime.IsZero() {
			observed = uint64(l.ObservedTime.UnixNano())
		}
		sev := uint8(0)
		if l.SeverityNumber > 0 && l.SeverityNumber < 256 {
			sev = uint8(l.SeverityNumber)
		}
		row := []any{l.Time, uint64(l.Time.UnixNano()), observed, l.TraceID, l.SpanID, l.RecordID, l.Seq,
			l.App, sev, l.SeverityText, l.EventName, l.ScopeName, l.Body}
		if s.caps.Map {
			m := l.Attributes
			if m == nil {
				m = map[string]string{}
			}
			row = append(row, m)
		} else {
			ks, vs := make([]string, 0, len(l.Attributes)), make([]string, 0, len(l.Attributes))
			for k, v := range l.Attributes {
				ks, vs = append(ks, k), append(vs, v)
			}
			row = append(row, ks, vs)
		}
		row = append(row, l.InputText, l.OutputText, l.SystemText, now)
		if err := b.Append(row...); err != nil {
			return Permanent(fmt.Errorf("appending log record %s/%s %s: %w", l.TraceID, l.SpanID, l.RecordID, err))
		}
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("inserting %d log records: %w", len(logs), err)
	}
	return nil
}

func clampU32(v int64) uint32 {
	if v < 0 {
		return 0
	}
	if v > 1<<32-1 {
		return 1<<32 - 1
	}
	return uint32(v)
}

// permanentError marks an error that retrying will not cure.
type permanentError struct{ err error }

func (p permanentError) Error() string { return p.err.Error() }
func (p permanentError) Unwrap() error { return p.err }

// Permanent marks err as not worth retrying (OpenTelemetry's
// consumererror.NewPermanent in our own shape).
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanentError{err}
}

// IsPermanent reports whether err will not go away by retrying: errors marked
// Permanent, and ClickHouse exceptions about the data or the statement rather
// than the server's state. Anything unknown is treated as retryable, so a
// doubt costs a delay, never a record.
func IsPermanent(err error) bool {
	if err == nil {
		return false
	}
	var p permanentError
	if errors.As(err, &p) {
		return true
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, io.EOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) {
		return false
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return false
	}
	var ex *chgo.Exception
	if errors.As(err, &ex) {
		switch ex.Code {
		case 6, // CANNOT_PARSE_TEXT
			27,  // CANNOT_PARSE_INPUT_ASSERTION_FAILED
			41,  // CANNOT_PARSE_DATETIME
			53,  // TYPE_MISMATCH
			69,  // ARGUMENT_OUT_OF_BOUND
			70,  // CANNOT_CONVERT_TYPE
			72,  // CANNOT_PARSE_NUMBER
			131: // TOO_LARGE_STRING_SIZE
			return true
		}
	}
	return false
}

// EnsureSchema migrates the schema (c.Schema "migrate", the default) or
// only checks that it is current ("check").
func EnsureSchema(ctx context.Context, conn driver.Conn, c Config) (schemas.MigrationReport, error) {
	db := MigrationDB{Conn: conn}
	if c.Schema == "check" {
		return schemas.Check(ctx, db)
	}
	rep, err := schemas.Migrate(ctx, db, c.TableOptions())
	if err != nil {
		return rep, fmt.Errorf("migrating clickhouse: %w", err)
	}
	return rep, nil
}
