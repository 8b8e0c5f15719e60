package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/chainwatch/chainwatch/clickhouse"
	"github.com/chainwatch/chainwatch/datasets"
	"github.com/chainwatch/chainwatch/schemas"
)

const datasetUsage = `usage: chainwatch dataset <subcommand> [flags]

subcommands:
  import --name NAME FILE     import a JSONL, CSV or Parquet file as the next version of NAME
  list                        every dataset: latest version, rows, versions, created
  show NAME[@VERSION]         a dataset's versions and its first rows (default: latest)
  export NAME[@VERSION] --out FILE
                              write a version as .jsonl or .parquet (importable again)
  export-spans --from T --to T --out FILE.parquet [--app A --chain C --component X ...]
                              export a production window of spans to Parquet
  export --format sft|preference --from T --to T --out FILE.jsonl [--app A --chain C --judge-metric M ...]
                              fine-tuning JSONL from production spans with feedback and judge scores, with lineage
  synthesize --name NAME --endpoint URL --model M --from-dataset D | --from-spans --from T --to T [--count N]
                              an LLM writes evaluation items from seeds; imported as a synthetic version, pending review
  review NAME@VERSION [--status approved|rejected|pending]
                              show or change a version's review status

Every subcommand takes -config FILE; run 'chainwatch dataset <subcommand> -h' for its flags.
`

// runDataset is `chainwatch dataset`: evaluation datasets and production
// exports. The work is in package datasets; this only parses flags, connects
// and prints.
func runDataset(ctx context.Context, args []string) error {
	return datasetCmd(ctx, args, os.Stdout, os.Stderr)
}

func datasetCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stdout, datasetUsage)
		if len(args) == 0 {
			return errors.New("missing subcommand")
		}
		return nil
	}
	sub := map[string]func(context.Context, []string, io.Writer, io.Writer) error{
		"import":       datasetImport,
		"list":         datasetList,
		"show":         datasetShow,
		"export":       datasetExport,
		"export-spans": datasetExportSpans,
		"synthesize":   datasetSynthesize,
		"review":       datasetReview,
	}[args[0]]
	if sub == nil {
		return fmt.Errorf("unknown subcommand %q (want import, list, show, export, export-spans, synthesize or review)", args[0])
	}
	return sub(ctx, args[1:], stdout, stderr)
}

// datasetFlags parses flags that may come before or after the
// positional arguments ("import eval.jsonl --name qa" as well as
// "import --name qa eval.jsonl"), which the flag package alone does not.
func datasetFlags(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// clickHouseConn loads the config and connects to ClickHouse as configured, or
// to the local server of `chainwatch up`.
func clickHouseConn(ctx context.Context, load func() (Config, error)) (driver.Conn, error) {
	cfg, err := load()
	if err != nil {
		return nil, err
	}
	return clickhouse.Open(ctx, cfg.clickHouseOrLocal())
}

func datasetImport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("dataset import", flag.ContinueOnError)
	fs.SetOutput(stderr)
	load := commonFlags(fs)
	name := fs.String("name", "", "dataset name (required): letters, digits and . _ - /")
	var o datasets.ReadOptions
	fs.StringVar(&o.Format, "format", "", "jsonl, csv or parquet (default: by the file's extension)")
	fs.StringVar(&o.InputField, "input-field", datasets.DefaultInputField, "field (JSONL key, CSV column, Parquet column) holding the input; required in every row")
	fs.StringVar(&o.ExpectedField, "expected-field", datasets.DefaultExpectedField, "field holding the expected output (ground truth); optional")
	fs.StringVar(&o.OutputField, "output-field", datasets.DefaultOutputField, "field holding the evaluated application's output; optional")
	fs.StringVar(&o.TagsField, "tags-field", datasets.DefaultTagsField, "field holding the tags: array of strings (JSONL), list<string> (Parquet), comma/semicolon-separated (CSV)")
	fs.StringVar(&o.ContextField, "context-field", datasets.DefaultContextField, "field holding the context (e.g. retrieved passages); optional")
	fs.BoolVar(&o.RequireExpected, "require-expected", false, "make a row without an expected output an error (default: a warning)")
	fs.IntVar(&o.MaxErrors, "max-errors", datasets.DefaultMaxErrors, "list at most this many bad rows")
	desc := fs.String("description", "", "free text stored with the version")
	skipIdentical := fs.Bool("skip-identical", false, "when the file's rows equal an existing version's (same sha256), create no new version")
	pos, err := datasetFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return fmt.Errorf("dataset import: want exactly one FILE, got %d (usage: dataset import --name NAME FILE)", len(pos))
	}
	if err := datasets.ValidateName(*name); err != nil {
		return fmt.Errorf("--name: %w", err)
	}
	path := pos[0]
	// Read and validate the whole file before connecting: a bad file writes
	// nothing, and says so without needing a server.
	rows, rep, err := datasets.ReadFileReport(path, o)
	if err != nil {
		return fmt.Errorf("nothing imported from %s:\n%w", path, err)
	}
	for _, w := range rep.Warnings(filepath.Base(path)) {
		fmt.Fprintln(stderr, "warning:", w)
	}
	conn, err := clickHouseConn(ctx, load)
	if err != nil {
		return err
	}
	defer conn.Close()
	sum := datasets.Checksum(rows)
	same, found, err := datasets.Match(ctx, conn, *name, sum)
	if err != nil {
		return err
	}
	if found && *skipIdentical {
		fmt.Fprintf(stdout, "%s: identical to %s (sha256 %s); no new version created\n", path, datasets.FormatRef(same.Name, same.Version), sum[:12])
		return nil
	}
	v, err := datasets.Import(ctx, conn, *name, rows, datasets.Meta{Source: filepath.Base(path), Description: *desc})
	if err != nil {
		return fmt.Errorf("importing %s: %w", path, err)
	}
	fmt.Fprintf(stdout, "imported %d rows from %s as %s (sha256 %s)\n", v.Rows, path, datasets.FormatRef(v.Name, v.Version), v.SHA256[:12])
	if found {
		fmt.Fprintf(stdout, "note: same content as %s (use --skip-identical to create no new version)\n", datasets.FormatRef(same.Name, same.Version))
	}
	return nil
}

func datasetList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("dataset list", flag.ContinueOnError)
	fs.SetOutput(stderr)
	load := commonFlags(fs)
	asJSON := fs.Bool("json", false, "print JSON")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("dataset list takes no arguments, got %q", fs.Args())
	}
	conn, err := clickHouseConn(ctx, load)
	if err != nil {
		return err
	}
	defer conn.Close()
	list, err := datasets.List(ctx, conn)
	if err != nil {
		return err
	}
	if *asJSON {
		return datasetJSON(stdout, list)
	}
	if len(list) == 0 {
		fmt.Fprintln(stdout, "no datasets (import one with: chainwatch dataset import --name NAME FILE)")
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tLATEST\tROWS\tVERSIONS\tCREATED (UTC)\tSOURCE\tDESCRIPTION")
	for _, s := range list {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%s\t%s\t%s\n", s.Name, s.Version, s.Rows, s.Versions,
			s.CreatedAt.UTC().Format(time.DateTime), s.Source, datasetClip(s.Description, 40))
	}
	return tw.Flush()
}

func datasetShow(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("dataset show", flag.ContinueOnError)
	fs.SetOutput(stderr)
	load := commonFlags(fs)
	n := fs.Int("rows", 5, "how many rows of the version to print")
	asJSON := fs.Bool("json", false, "print JSON: {versions, version, rows}")
	pos, err := datasetFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return errors.New("usage: dataset show NAME[@VERSION]")
	}
	name, version, err := datasets.ParseRef(pos[0])
	if err != nil {
		return err
	}
	conn, err := clickHouseConn(ctx, load)
	if err != nil {
		return err
	}
	defer conn.Close()
	vs, err := datasets.Versions(ctx, conn, name)
	if err != nil {
		return err
	}
	v := vs[len(vs)-1]
	if version != 0 {
		v, err = datasets.Version(ctx, conn, name, version)
		if err != nil {
			return err
		}
	}
	var head []schemas.DatasetRow
	if *n > 0 {
		rows, err := datasets.Head(ctx, conn, name, v.Version, *n)
		if err != nil {
			return err
		}
		head = rows
	}
	if *asJSON {
		return datasetJSON(stdout, map[string]any{"versions": vs, "version": v, "rows": head})
	}
	tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "\tVERSION\tROWS\tSHA256\tCREATED (UTC)\tSOURCE\tDESCRIPTION")
	for _, x := range vs {
		mark := ""
		if x.Version == v.Version {
			mark = "*"
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\t%s\t%s\n", mark, x.Version, x.Rows, x.SHA256[:min(12, len(x.SHA256))],
			x.CreatedAt.UTC().Format(time.DateTime), x.Source, datasetClip(x.Description, 40))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(head) == 0 {
		return nil
	}
	fmt.Fprintf(stdout, "\nfirst %d of %d rows of %s:\n", len(head), v.Rows, datasets.FormatRef(name, v.Version))
	tw = tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ROW\tINPUT\tEXPECTED\tTAGS")
	for _, r := range head {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\n", r.Row, datasetClip(r.Input, 50), datasetClip(r.Expected, 30), strings.Join(r.Tags, ","))
	}
	return tw.Flush()
}

func datasetExport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	for i, a := range args { // --format sft|preference: fine-tuning data from production spans
		if v, ok := strings.CutPrefix(strings.TrimLeft(a, "-"), "format="); ok && len(a) > len(v) {
			if v == "sft" || v == "preference" {
				return datasetExportTuning(ctx, args, stdout, stderr)
			}
		} else if (a == "--format" || a == "-format") && i+1 < len(args) && (args[i+1] == "sft" || args[i+1] == "preference") {
			return datasetExportTuning(ctx, args, stdout, stderr)
		}
	}
	fs := flag.NewFlagSet("dataset export", flag.ContinueOnError)
	fs.SetOutput(stderr)
	load := commonFlags(fs)
	out := fs.String("out", "", "output file: .jsonl or .parquet (required)")
	pos, err := datasetFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || *out == "" {
		return errors.New("usage: dataset export NAME[@VERSION] --out FILE.jsonl|FILE.parquet")
	}
	if _, err := datasets.FormatOf(*out); err != nil {
		return fmt.Errorf("--out: %w", err)
	}
	name, version, err := datasets.ParseRef(pos[0])
	if err != nil {
		return err
	}
	conn, err := clickHouseConn(ctx, load)
	if err != nil {
		return err
	}
	defer conn.Close()
	v, err := datasets.Version(ctx, conn, name, version)
	if err != nil {
		return err
	}
	rows, err := datasets.Rows(ctx, conn, name, v.Version)
	if err != nil {
		return err
	}
	if err := datasets.WriteFile(*out, rows); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %d rows of %s to %s\n", len(rows), datasets.FormatRef(name, v.Version), *out)
	return nil
}

func datasetExportSpans(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("dataset export-spans", flag.ContinueOnError)
	fs.SetOutput(stderr)
	load := commonFlags(fs)
	from := fs.String("from", "", "window start, RFC 3339, inclusive (required)")
	to := fs.String("to", "", "window end, RFC 3339, exclusive (required)")
	var f datasets.SpanFilter
	fs.StringVar(&f.App, "app", "", "only this app")
	fs.StringVar(&f.Environment, "env", "", "only this environment")
	fs.StringVar(&f.Chain, "chain", "", "only this chain (chain_name)")
	fs.StringVar(&f.Component, "component", "", "only this component (component_name)")
	fs.StringVar(&f.Kind, "kind", "", "only this component kind (llm, retriever, tool, …)")
	fs.BoolVar(&f.Final, "final", true, "deduplicate replayed spans (spans through FINAL); -final=false is faster on huge windows")
	out := fs.String("out", "", "output file, .parquet (required)")
	var o datasets.SpanExportOptions
	fs.IntVar(&o.RowGroupRows, "row-group", datasets.DefaultSpanRowGroupRows, "spans per Parquet row group (and in memory at once)")
	fs.Int64Var(&o.ProgressEvery, "progress-every", datasets.DefaultProgressEvery, "print a progress line to stderr every this many spans")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("dataset export-spans takes no arguments, got %q", fs.Args())
	}
	var errs []error
	var err error
	if f.From, err = datasetTimeFlag("from", *from); err != nil {
		errs = append(errs, err)
	}
	if f.To, err = datasetTimeFlag("to", *to); err != nil {
		errs = append(errs, err)
	}
	if len(errs) == 0 {
		errs = append(errs, f.Validate())
	}
	if format, err := datasets.FormatOf(*out); *out == "" || err != nil || format != datasets.FormatParquet {
		errs = append(errs, errors.New("--out must name a .parquet file"))
	}
	if o.RowGroupRows <= 0 {
		errs = append(errs, errors.New("--row-group must be > 0"))
	}
	if o.ProgressEvery <= 0 {
		errs = append(errs, errors.New("--progress-every must be > 0"))
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	conn, err := clickHouseConn(ctx, load)
	if err != nil {
		return err
	}
	defer conn.Close()
	began := time.Now()
	o.Progress = func(n int64) {
		s := time.Since(began).Seconds()
		fmt.Fprintf(stderr, "export-spans: %d spans (%.1f s, %.0f spans/s)\n", n, s, float64(n)/max(s, 1e-9))
	}
	n, err := datasets.ExportSpansFile(ctx, conn, f, *out, o)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %d spans from [%s, %s) to %s\n", n, f.From.Format(time.RFC3339Nano), f.To.Format(time.RFC3339Nano), *out)
	return nil
}

func datasetTimeFlag(name, v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, fmt.Errorf("--%s is required (RFC 3339, e.g. 2026-11-24T00:00:00Z)", name)
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("--%s %q: want RFC 3339, e.g. 2026-11-24T00:00:00Z", name, v)
	}
	return t.UTC(), nil
}

func datasetJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// datasetClip shortens s to n runes on one line, for tables.
func datasetClip(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}
