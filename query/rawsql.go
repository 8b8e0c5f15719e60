package query

import (
	"context"
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	chgo "github.com/ClickHouse/clickhouse-go/v2"
)

// RawOptions are the limits and the time range of a raw SQL query.
type RawOptions struct {
	From, To time.Time     // the macros' range (both required)
	Interval time.Duration // $__timeInterval's bucket (whole seconds; 0: 60 s)
	MaxRows  int           // rows returned at most; 0: DefaultRawMaxRows
	Timeout  time.Duration // server-side execution limit; 0: DefaultRawTimeout
}

// Raw SQL limits.
const (
	DefaultRawMaxRows = 10000
	MaxRawMaxRows     = 1000000
	DefaultRawTimeout = 30 * time.Second
)

// RawColumn is one column of a raw SQL result.
type RawColumn struct {
	Name   string
	DBType string // ClickHouse's type name
	// Values holds one value per row, of the driver's scan type for
	// DBType (e.g. string, uint64, float64, time.Time, *string for
	// Nullable(String)).
	Values []any
}

// RawResult is a raw SQL query's result.
type RawResult struct {
	SQL       string // the statement run, macros expanded
	Columns   []RawColumn
	Truncated bool // more rows than MaxRows: the rest were not read
}

// allowedStatements are the first keywords of the statements RawSQL runs:
// reads only. The server enforces it too (readonly = 1).
var allowedStatements = []string{"SELECT", "WITH", "SHOW", "DESCRIBE", "DESC", "EXISTS"}

var (
	macroRe   = regexp.MustCompile(`\$__(timeFilter|timeInterval)\(\s*([^)]*?)\s*\)|\$__(fromTime|toTime|interval_s)\b`)
	columnRe  = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.]*$`)
	unknownRe = regexp.MustCompile(`\$__[A-Za-z_]+`)
)

// PrepareSQL checks that sql is one read-only statement and expands its
// macros for opts' range:
//
//	$__timeFilter(col)   col >= toDateTime(from) AND col < toDateTime(to)
//	$__timeInterval(col) toDateTime(intDiv(toUInt32(col), n) * n), n the interval in seconds
//	$__fromTime          toDateTime(from)
//	$__toTime            toDateTime(to)
//	$__interval_s        n
//
// from and to are Unix seconds (from truncated, to rounded up). The
// errors name what is wrong: the statement kind, a second statement's
// position, an unknown macro, a macro's argument.
func PrepareSQL(sql string, opts RawOptions) (string, error) {
	if opts.From.IsZero() || opts.To.IsZero() {
		return "", fmt.Errorf("raw sql: the time range is required")
	}
	code, err := statementCode(sql)
	if err != nil {
		return "", err
	}
	if k := strings.IndexByte(code, ';'); k >= 0 {
		sql, code = sql[:k], code[:k] // only space and comments follow
	}
	kw := firstKeyword(code)
	if kw == "" {
		return "", fmt.Errorf("raw sql: empty query")
	}
	ok := false
	for _, a := range allowedStatements {
		if strings.EqualFold(kw, a) {
			ok = true
		}
	}
	if !ok {
		return "", fmt.Errorf("raw sql: %s statements are not allowed: only read queries (%s) run", strings.ToUpper(kw), strings.Join(allowedStatements, ", "))
	}
	n := int64(opts.Interval / time.Second)
	if n <= 0 {
		n = 60
	}
	from := opts.From.Unix()
	to := opts.To.Unix()
	if opts.To.Nanosecond() > 0 {
		to++
	}
	var merr error
	out := macroRe.ReplaceAllStringFunc(sql, func(m string) string {
		sm := macroRe.FindStringSubmatch(m)
		if sm[1] != "" && !columnRe.MatchString(sm[2]) {
			if merr == nil {
				merr = fmt.Errorf("raw sql: $__%s wants a column name, got %q", sm[1], sm[2])
			}
			return m
		}
		switch sm[1] + sm[3] {
		case "timeFilter":
			return fmt.Sprintf("(%s >= toDateTime(%d) AND %s < toDateTime(%d))", sm[2], from, sm[2], to)
		case "timeInterval":
			return fmt.Sprintf("toDateTime(intDiv(toUInt32(%s), %d) * %d)", sm[2], n, n)
		case "fromTime":
			return fmt.Sprintf("toDateTime(%d)", from)
		case "toTime":
			return fmt.Sprintf("toDateTime(%d)", to)
		default:
			return strconv.FormatInt(n, 10)
		}
	})
	if merr != nil {
		return "", merr
	}
	if u := unknownRe.FindString(out); u != "" {
		return "", fmt.Errorf("raw sql: unknown macro %s (known: $__timeFilter(col), $__timeInterval(col), $__fromTime, $__toTime, $__interval_s)", u)
	}
	return strings.TrimSpace(out), nil
}

// statementCode returns sql with its comments and literals blanked (so
// keywords and semicolons can be found), and an error when it holds more
// than one statement (a semicolon followed by anything but space and
// comments) or an unterminated literal or comment.
func statementCode(sql string) (string, error) {
	b := []byte(sql)
	code := make([]byte, len(b))
	copy(code, b)
	for i := 0; i < len(b); {
		switch {
		case b[i] == '-' && i+1 < len(b) && b[i+1] == '-', b[i] == '#':
			j := i
			for j < len(b) && b[j] != '\n' {
				code[j] = ' '
				j++
			}
			i = j
		case b[i] == '/' && i+1 < len(b) && b[i+1] == '*':
			end := strings.Index(sql[i+2:], "*/")
			if end < 0 {
				return "", fmt.Errorf("raw sql: comment at byte %d is not closed", i)
			}
			for j := i; j < i+2+end+2; j++ {
				code[j] = ' '
			}
			i += 2 + end + 2
		case b[i] == '\'' || b[i] == '"' || b[i] == '`':
			q := b[i]
			j := i + 1
			for ; j < len(b); j++ {
				if b[j] == '\\' {
					j++
					continue
				}
				if b[j] == q {
					if j+1 < len(b) && b[j+1] == q { // doubled quote
						j++
						continue
					}
					break
				}
			}
			if j >= len(b) {
				return "", fmt.Errorf("raw sql: literal at byte %d is not closed", i)
			}
			for k := i + 1; k < j; k++ {
				code[k] = ' '
			}
			i = j + 1
		default:
			i++
		}
	}
	if k := strings.IndexByte(string(code), ';'); k >= 0 && strings.TrimSpace(strings.ReplaceAll(string(code[k:]), ";", "")) != "" {
		return "", fmt.Errorf("raw sql: multiple statements are not allowed (a second statement follows the ';' at byte %d)", k)
	}
	return string(code), nil
}

func firstKeyword(code string) string {
	s := strings.TrimLeft(code, " \t\r\n(")
	end := strings.IndexFunc(s, func(r rune) bool { return !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z') })
	if end < 0 {
		return s
	}
	return s[:end]
}

// RawSQL runs a user's read-only query: checked and expanded by
// PrepareSQL, run with readonly = 1 (the server refuses writes and setting
// changes), max_execution_time and a row limit. It reads at most MaxRows
// rows and says whether there were more.
func (r *Reader) RawSQL(ctx context.Context, sql string, opts RawOptions) (RawResult, error) {
	if opts.MaxRows == 0 {
		opts.MaxRows = DefaultRawMaxRows
	}
	if opts.MaxRows < 0 || opts.MaxRows > MaxRawMaxRows {
		return RawResult{}, fmt.Errorf("raw sql: max rows must be in 1..%d, got %d", MaxRawMaxRows, opts.MaxRows)
	}
	if opts.Timeout == 0 {
		opts.Timeout = DefaultRawTimeout
	}
	q, err := PrepareSQL(sql, opts)
	if err != nil {
		return RawResult{}, err
	}
	res := RawResult{SQL: q}
	ctx, cancel := context.WithTimeout(ctx, opts.Timeout+5*time.Second)
	defer cancel()
	// A SELECT runs wrapped in a LIMIT, so the server stops one row past
	// the limit; the reader below stops exactly at it. (18.16's protocol
	// takes only integer settings: result_overflow_mode = 'break' cannot
	// be sent.)
	run := q
	if kw := strings.ToUpper(firstKeyword(q)); kw == "SELECT" || kw == "WITH" {
		run = "SELECT * FROM (\n" + q + "\n) LIMIT " + strconv.Itoa(opts.MaxRows+1)
	}
	ctx = chgo.Context(ctx, chgo.WithSettings(chgo.Settings{
		"max_execution_time": int(opts.Timeout / time.Second),
		"readonly":           1,
	}))
	rows, err := r.conn.Query(ctx, run)
	if err != nil {
		return res, fmt.Errorf("raw sql: %w", err)
	}
	defer rows.Close()
	types := rows.ColumnTypes()
	for _, ct := range types {
		res.Columns = append(res.Columns, RawColumn{Name: ct.Name(), DBType: ct.DatabaseTypeName()})
	}
	n := 0
	for rows.Next() {
		if n == opts.MaxRows {
			res.Truncated = true
			break
		}
		dest := make([]any, len(types))
		for i, ct := range types {
			dest[i] = reflect.New(ct.ScanType()).Interface()
		}
		if err := rows.Scan(dest...); err != nil {
			return res, fmt.Errorf("raw sql: reading row %d: %w", n, err)
		}
		for i := range dest {
			res.Columns[i].Values = append(res.Columns[i].Values, reflect.ValueOf(dest[i]).Elem().Interface())
		}
		n++
	}
	if err := rows.Err(); err != nil {
		return res, fmt.Errorf("raw sql: %w", err)
	}
	return res, nil
}
