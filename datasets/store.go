// Package datasets stores evaluation datasets in ClickHouse under a name and
// an immutable version, reads them back for the monitors (skew against a
// dataset version) and for people (list, show, export), reads them from
// JSONL, CSV and Parquet files, and exports production spans to Parquet for
// offline analysis.
//
// A version becomes visible only when its dataset_versions row is written,
// and that row is written after all of the version's rows: an import is
// all-or-nothing. Readers (Latest, Version, Rows, List) look only at versions
// that have that row. Rows of an import that failed half-way stay in
// dataset_rows under a version number no reader sees, and the next import
// skips that number, so versions may have gaps but never mix two imports.
package datasets

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/chainwatch/chainwatch/schemas"
)

// ErrNotFound is returned (wrapped) when a dataset or a version of it does
// not exist.
var ErrNotFound = errors.New("dataset not found")

// InsertBatchRows is how many rows go into one ClickHouse insert.
const InsertBatchRows = 10_000

// StatementTimeout bounds each statement Import and the readers send: one
// insert batch, one metadata query, the reading of one version's rows.
// ExportSpans streams for as long as its context allows.
const StatementTimeout = 2 * time.Minute

func withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, StatementTimeout)
}

// MaxNameLen bounds a dataset name.
const MaxNameLen = 128

// Meta describes an import beyond its rows.
type Meta struct {
	Source      string // file name imported from (stored as given)
	Description string
}

// Summary is one dataset in List: its latest version and how many versions
// it has.
type Summary struct {
	schemas.DatasetVersion
	Versions int
}

// ValidateName checks a dataset name: 1 to 128 characters, letters, digits
// and . _ - / only, starting with a letter or digit (so NAME@VERSION is
// unambiguous).
func ValidateName(name string) error {
	if name == "" {
		return errors.New("dataset name is empty")
	}
	if len(name) > MaxNameLen {
		return fmt.Errorf("dataset name is %d characters long, at most %d allowed", len(name), MaxNameLen)
	}
	for i, r := range name {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' ||
			i > 0 && (r == '.' || r == '_' || r == '-' || r == '/')
		if !ok {
			return fmt.Errorf("dataset name %q: want letters, digits and . _ - / (starting with a letter or digit)", name)
		}
	}
	return nil
}

// ParseRef splits "NAME@VERSION" (or "NAME", or "NAME@latest") into its
// parts; version 0 means the latest version.
func ParseRef(ref string) (name string, version uint32, err error) {
	name, v, hasV := strings.Cut(ref, "@")
	if err := ValidateName(name); err != nil {
		return "", 0, err
	}
	if !hasV || v == "latest" {
		return name, 0, nil
	}
	n, err := strconv.ParseUint(v, 10, 32)
	if err != nil || n == 0 {
		return "", 0, fmt.Errorf("dataset reference %q: the version after @ must be a number from 1, or latest", ref)
	}
	return name, uint32(n), nil
}

// FormatRef is the inverse of ParseRef.
func FormatRef(name string, version uint32) string {
	if version == 0 {
		return name
	}
	return fmt.Sprintf("%s@%d", name, version)
}

// Checksum is the hex SHA-256 of rows in canonical form: for each row in
// order, its input, expected, output and context, then its tags, each string
// as a uvarint length and its bytes, the tags preceded by their count. Name,
// version and row numbers are not part of it, so identical content has the
// same checksum in every version.
func Checksum(rows []schemas.DatasetRow) string {
	h := sha256.New()
	var buf [binary.MaxVarintLen64]byte
	put := func(s string) {
		h.Write(buf[:binary.PutUvarint(buf[:], uint64(len(s)))])
		h.Write([]byte(s))
	}
	h.Write([]byte("chainwatch dataset v1\n"))
	for i := range rows {
		r := &rows[i]
		put(r.Input)
		put(r.Expected)
		put(r.Output)
		put(r.Context)
		h.Write(buf[:binary.PutUvarint(buf[:], uint64(len(r.Tags)))])
		for _, t := range r.Tags {
			put(t)
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Import stores rows as the next version of name (the highest version
// number used so far, by a published version or by a failed import, plus
// one; 1 for a new name) and returns the published version. Rows are
// validated first (ValidateRows): a bad row means nothing is written. Row
// numbers are assigned from the rows' order. Identical content imported
// again becomes a new version all the same (see Match to find it first).
//
// Imports of the same name must not run concurrently: ClickHouse has no
// transactions. Import checks before publishing that no other import wrote
// the same version and fails if one did, which catches most races but not
// all; Rows then refuses a version whose rows no longer match its count
// and checksum.
func Import(ctx context.Context, conn driver.Conn, name string, rows []schemas.DatasetRow, meta Meta) (schemas.DatasetVersion, error) {
	if err := ValidateName(name); err != nil {
		return schemas.DatasetVersion{}, err
	}
	if err := ValidateRows(rows); err != nil {
		return schemas.DatasetVersion{}, fmt.Errorf("validating dataset %s: %w", name, err)
	}
	if len(rows) > 1<<32-1 {
		return schemas.DatasetVersion{}, fmt.Errorf("dataset %s: %d rows is more than a version can hold", name, len(rows))
	}
	used, err := maxUsedVersion(ctx, conn, name)
	if err != nil {
		return schemas.DatasetVersion{}, err
	}
	now := time.Now().UTC().Truncate(time.Second)
	v := schemas.DatasetVersion{
		Name:        name,
		Version:     used + 1,
		Rows:        uint32(len(rows)),
		SHA256:      Checksum(rows),
		Source:      meta.Source,
		Description: meta.Description,
		CreatedAt:   now,
	}
	for start := 0; start < len(rows); start += InsertBatchRows {
		end := min(start+InsertBatchRows, len(rows))
		if err := insertRows(ctx, conn, v, start, rows[start:end], now); err != nil {
			return schemas.DatasetVersion{}, err
		}
	}
	var n uint64
	qctx, cancel := withTimeout(ctx)
	defer cancel()
	if err := conn.QueryRow(qctx, "SELECT count() FROM dataset_rows WHERE name = ? AND version = ?", name, v.Version).Scan(&n); err != nil {
		return schemas.DatasetVersion{}, fmt.Errorf("counting rows of %s: %w", FormatRef(name, v.Version), hint(err))
	}
	if n != uint64(len(rows)) {
		return schemas.DatasetVersion{}, fmt.Errorf("dataset %s: found %d rows after writing %d: another import of %s ran at the same time; version %d not published, import again",
			FormatRef(name, v.Version), n, len(rows), name, v.Version)
	}
	if _, err := Version(ctx, conn, name, v.Version); err == nil {
		return schemas.DatasetVersion{}, fmt.Errorf("dataset %s was published by another import at the same time; import again", FormatRef(name, v.Version))
	} else if !errors.Is(err, ErrNotFound) {
		return schemas.DatasetVersion{}, err
	}
	b, err := conn.PrepareBatch(qctx, "INSERT INTO dataset_versions ("+strings.Join(schemas.DatasetVersionColumns(), ", ")+")")
	if err != nil {
		return schemas.DatasetVersion{}, fmt.Errorf("preparing clickhouse batch: %w", hint(err))
	}
	defer b.Abort()
	if err := b.Append(v.Name, v.Version, v.Rows, v.SHA256, v.Source, v.Description, v.CreatedAt); err != nil {
		return schemas.DatasetVersion{}, fmt.Errorf("appending dataset version: %w", err)
	}
	if err := b.Send(); err != nil {
		return schemas.DatasetVersion{}, fmt.Errorf("publishing %s: %w", FormatRef(name, v.Version), err)
	}
	return v, nil
}

// maxUsedVersion is the highest version number of name in either table, so
// that an import that wrote rows but never published them is never reused.
func maxUsedVersion(ctx context.Context, conn driver.Conn, name string) (uint32, error) {
	var used uint32
	for _, table := range []string{"dataset_versions", "dataset_rows"} {
		var v uint32
		ctx, cancel := withTimeout(ctx)
		defer cancel()
		if err := conn.QueryRow(ctx, "SELECT max(version) FROM "+table+" WHERE name = ?", name).Scan(&v); err != nil {
			return 0, fmt.Errorf("reading the latest version of %s: %w", name, hint(err))
		}
		used = max(used, v)
	}
	return used, nil
}

func insertRows(ctx context.Context, conn driver.Conn, v schemas.DatasetVersion, offset int, rows []schemas.DatasetRow, now time.Time) error {
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	b, err := conn.PrepareBatch(ctx, "INSERT INTO dataset_rows ("+strings.Join(schemas.DatasetRowColumns(), ", ")+")")
	if err != nil {
		return fmt.Errorf("preparing clickhouse batch: %w", hint(err))
	}
	defer b.Abort()
	n := len(rows)
	var (
		names, input, expected, output, context = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		version, index                          = make([]uint32, n), make([]uint32, n)
		tags                                    = make([][]string, n)
		at                                      = make([]time.Time, n)
	)
	for i := range rows {
		r := &rows[i]
		names[i], version[i], index[i] = v.Name, v.Version, uint32(offset+i)
		input[i], expected[i], output[i], context[i] = r.Input, r.Expected, r.Output, r.Context
		tags[i] = r.Tags
		if tags[i] == nil {
			tags[i] = []string{}
		}
		at[i] = now
	}
	for i, col := range []any{names, version, index, input, expected, output, tags, context, at} {
		if err := b.Column(i).Append(col); err != nil {
			return fmt.Errorf("appending dataset_rows column %d: %w", i, err)
		}
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("inserting rows %d–%d of %s: %w", offset, offset+n-1, FormatRef(v.Name, v.Version), err)
	}
	return nil
}

const versionCols = "name, version, rows, sha256, source, description, created_at"

func queryVersions(ctx context.Context, conn driver.Conn, q string, args ...any) ([]schemas.DatasetVersion, error) {
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	rs, err := conn.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("querying dataset versions: %w", hint(err))
	}
	defer rs.Close()
	var out []schemas.DatasetVersion
	for rs.Next() {
		var v schemas.DatasetVersion
		if err := rs.Scan(&v.Name, &v.Version, &v.Rows, &v.SHA256, &v.Source, &v.Description, &v.CreatedAt); err != nil {
			return nil, fmt.Errorf("reading dataset versions: %w", err)
		}
		v.CreatedAt = v.CreatedAt.UTC()
		out = append(out, v)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("reading dataset versions: %w", err)
	}
	return out, nil
}

// Versions returns every published version of name, oldest first; none is
// an ErrNotFound.
func Versions(ctx context.Context, conn driver.Conn, name string) ([]schemas.DatasetVersion, error) {
	vs, err := queryVersions(ctx, conn, "SELECT "+versionCols+" FROM dataset_versions FINAL WHERE name = ? ORDER BY version", name)
	if err != nil {
		return nil, err
	}
	if len(vs) == 0 {
		return nil, fmt.Errorf("%w: no dataset named %q", ErrNotFound, name)
	}
	return vs, nil
}

// Latest returns the newest published version of name.
func Latest(ctx context.Context, conn driver.Conn, name string) (schemas.DatasetVersion, error) {
	vs, err := queryVersions(ctx, conn, "SELECT "+versionCols+" FROM dataset_versions FINAL WHERE name = ? ORDER BY version DESC LIMIT 1", name)
	if err != nil {
		return schemas.DatasetVersion{}, err
	}
	if len(vs) == 0 {
		return schemas.DatasetVersion{}, fmt.Errorf("%w: no dataset named %q", ErrNotFound, name)
	}
	return vs[0], nil
}

// Version returns one published version of name; version 0 is the latest.
func Version(ctx context.Context, conn driver.Conn, name string, version uint32) (schemas.DatasetVersion, error) {
	if version == 0 {
		return Latest(ctx, conn, name)
	}
	vs, err := queryVersions(ctx, conn, "SELECT "+versionCols+" FROM dataset_versions FINAL WHERE name = ? AND version = ?", name, version)
	if err != nil {
		return schemas.DatasetVersion{}, err
	}
	if len(vs) == 0 {
		return schemas.DatasetVersion{}, fmt.Errorf("%w: %s has no version %d", ErrNotFound, name, version)
	}
	return vs[0], nil
}

// Match returns the newest published version of name whose rows have the
// checksum sha (see Checksum), and whether there is one.
func Match(ctx context.Context, conn driver.Conn, name, sha string) (schemas.DatasetVersion, bool, error) {
	vs, err := queryVersions(ctx, conn, "SELECT "+versionCols+" FROM dataset_versions FINAL WHERE name = ? AND sha256 = ? ORDER BY version DESC LIMIT 1", name, sha)
	if err != nil || len(vs) == 0 {
		return schemas.DatasetVersion{}, false, err
	}
	return vs[0], true, nil
}

// List returns every dataset's latest version and its number of versions,
// by name.
func List(ctx context.Context, conn driver.Conn) ([]Summary, error) {
	vs, err := queryVersions(ctx, conn, "SELECT "+versionCols+" FROM dataset_versions FINAL ORDER BY name, version")
	if err != nil {
		return nil, err
	}
	var out []Summary
	for _, v := range vs {
		if n := len(out); n > 0 && out[n-1].Name == v.Name {
			out[n-1].DatasetVersion = v
			out[n-1].Versions++
			continue
		}
		out = append(out, Summary{DatasetVersion: v, Versions: 1})
	}
	return out, nil
}

// Rows returns every row of a published version (0: the latest), in order,
// and checks them against the version's row count and checksum, so that a
// reader never works on a partial or mixed version.
func Rows(ctx context.Context, conn driver.Conn, name string, version uint32) ([]schemas.DatasetRow, error) {
	v, err := Version(ctx, conn, name, version)
	if err != nil {
		return nil, err
	}
	rows, err := queryRows(ctx, conn, v, 0)
	if err != nil {
		return nil, err
	}
	if len(rows) != int(v.Rows) {
		return nil, fmt.Errorf("dataset %s: read %d rows, the version has %d", FormatRef(name, v.Version), len(rows), v.Rows)
	}
	if sum := Checksum(rows); sum != v.SHA256 {
		return nil, fmt.Errorf("dataset %s: rows read have checksum %s, the version was published with %s", FormatRef(name, v.Version), sum[:12], short(v.SHA256))
	}
	return rows, nil
}

// Head returns the first n rows of a published version (0: the latest)
// without the checks Rows makes: for showing a dataset to a person.
func Head(ctx context.Context, conn driver.Conn, name string, version uint32, n int) ([]schemas.DatasetRow, error) {
	v, err := Version(ctx, conn, name, version)
	if err != nil {
		return nil, err
	}
	return queryRows(ctx, conn, v, n)
}

func queryRows(ctx context.Context, conn driver.Conn, v schemas.DatasetVersion, limit int) ([]schemas.DatasetRow, error) {
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	q := "SELECT row_index, input, expected, output, tags, context FROM dataset_rows FINAL WHERE name = ? AND version = ? AND row_index < ? ORDER BY row_index"
	if limit > 0 {
		q += " LIMIT " + strconv.Itoa(limit)
	}
	rs, err := conn.Query(ctx, q, v.Name, v.Version, v.Rows)
	if err != nil {
		return nil, fmt.Errorf("querying rows of %s: %w", FormatRef(v.Name, v.Version), hint(err))
	}
	defer rs.Close()
	n := int(v.Rows)
	if limit > 0 {
		n = min(n, limit)
	}
	out := make([]schemas.DatasetRow, 0, n)
	for rs.Next() {
		r := schemas.DatasetRow{Name: v.Name, Version: v.Version}
		if err := rs.Scan(&r.Row, &r.Input, &r.Expected, &r.Output, &r.Tags, &r.Context); err != nil {
			return nil, fmt.Errorf("reading rows of %s: %w", FormatRef(v.Name, v.Version), err)
		}
		if len(r.Tags) == 0 {
			r.Tags = nil
		}
		if int(r.Row) != len(out) {
			return nil, fmt.Errorf("dataset %s: row %d is missing", FormatRef(v.Name, v.Version), len(out))
		}
		out = append(out, r)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("reading rows of %s: %w", FormatRef(v.Name, v.Version), err)
	}
	return out, nil
}

func short(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}

// hint adds what to do when the dataset tables do not exist yet.
func hint(err error) error {
	var ex *clickhouse.Exception
	if errors.As(err, &ex) && ex.Code == 60 { // UNKNOWN_TABLE
		return fmt.Errorf("%w (run `chainwatch migrate` to create the tables)", err)
	}
	return err
}
