package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/user"
	"strconv"
	"strings"
	"text/tabwriter"

	"gopkg.in/yaml.v3"

	"github.com/chainwatch/chainwatch/serving"
	"github.com/chainwatch/chainwatch/serving/chains"
)

const chainsUsage = `usage: chainwatch chains <subcommand> [flags]

  push DIR                         record each new chain version of DIR's YAML files in ClickHouse
  list [NAME]                      chains and their labels, or NAME's versions
  show NAME[@REF]                  a version's definition (REF: hash, prefix or human version; default newest)
  diff NAME@A NAME@B               what changed between two versions
  promote NAME@REF -label L [-canary 10%]   move label L to a version (with -canary, a share of L's traffic)
  rollback NAME -label L           return label L to its state before the last promote
  hash-key [KEY]                   print the SHA-256 of an API key (from stdin without KEY) for keys[].sha256

Each change records who (-who, default $USER) and when in chain_deployments.
`

func runChains(ctx context.Context, args []string) error {
	return chainsCmd(ctx, args, os.Stdin, os.Stdout, os.Stderr)
}

func chainsCmd(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stdout, chainsUsage)
		if len(args) == 0 {
			return errors.New("missing subcommand")
		}
		return nil
	}
	if args[0] == "hash-key" {
		key := ""
		if len(args) > 1 {
			key = args[1]
		} else {
			line, _ := bufio.NewReader(stdin).ReadString('\n')
			key = strings.TrimSpace(line)
		}
		if key == "" {
			return errors.New("hash-key: no key given")
		}
		fmt.Fprintln(stdout, serving.HashKey(key))
		return nil
	}
	sub := map[string]func(context.Context, *chains.Store, string, []string, io.Writer) error{
		"push": chainsPush, "list": chainsList, "show": chainsShow, "diff": chainsDiff,
		"promote": chainsPromote, "rollback": chainsRollback,
	}[args[0]]
	if sub == nil {
		return fmt.Errorf("unknown subcommand %q (want push, list, show, diff, promote, rollback or hash-key)", args[0])
	}
	fs := flag.NewFlagSet("chains "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	load := commonFlags(fs)
	who := fs.String("who", currentUser(), "who makes the change (recorded in chain_deployments / chain_versions)")
	label := fs.String("label", "", "label to move (promote, rollback)")
	canary := fs.String("canary", "", "promote as a canary taking this share of the label's traffic, e.g. 10%")
	pos, err := datasetFlags(fs, args[1:])
	if err != nil {
		return err
	}
	conn, err := clickHouseConn(ctx, load)
	if err != nil {
		return err
	}
	defer conn.Close()
	st := chains.NewStore(conn)
	if args[0] == "promote" || args[0] == "rollback" {
		if *label == "" {
			return fmt.Errorf("chains %s needs -label (e.g. -label production)", args[0])
		}
		pos = append([]string{*label, *canary}, pos...)
	}
	return sub(ctx, st, *who, pos, stdout)
}

func currentUser() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	return os.Getenv("USER")
}

func chainsPush(ctx context.Context, st *chains.Store, who string, pos []string, out io.Writer) error {
	if len(pos) != 1 {
		return errors.New("chains push takes one folder of chain YAML files")
	}
	cs, err := chains.Load(pos[0])
	if err != nil {
		return err
	}
	if len(cs) == 0 {
		return fmt.Errorf("no *.yaml or *.yml chain files in %s", pos[0])
	}
	for _, c := range cs {
		isNew, err := st.Push(ctx, c, who)
		if err != nil {
			return err
		}
		state := "unchanged"
		if isNew {
			state = "new"
		}
		fmt.Fprintf(out, "%-9s %s\n", state, c.Ref())
	}
	return nil
}

func splitRef(s string) (name, ref string) {
	name, ref, _ = strings.Cut(s, "@")
	return
}

func chainsList(ctx context.Context, st *chains.Store, _ string, pos []string, out io.Writer) error {
	tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
	defer tw.Flush()
	if len(pos) == 0 {
		names, err := st.Names(ctx)
		if err != nil {
			return err
		}
		if len(names) == 0 {
			fmt.Fprintln(out, "no chains (record some with: chainwatch chains push DIR)")
			return nil
		}
		fmt.Fprintln(tw, "CHAIN\tVERSIONS\tNEWEST\tPRODUCTION\tSTAGING")
		for _, n := range names {
			vs, err := st.Versions(ctx, n)
			if err != nil {
				return err
			}
			fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\n", n, len(vs), short(vs[len(vs)-1]), labelState(ctx, st, n, "production"), labelState(ctx, st, n, "staging"))
		}
		return nil
	}
	vs, err := st.Versions(ctx, pos[0])
	if err != nil {
		return err
	}
	fmt.Fprintln(tw, "HASH\tVERSION\tPUSHED BY\tPUSHED AT (UTC)")
	for _, v := range vs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", v.Hash, v.Version, v.PushedBy, v.PushedAt.UTC().Format("2006-01-02 15:04:05"))
	}
	return nil
}

func short(v chains.Version) string {
	if v.Version != "" {
		return v.Version + " (" + v.Hash + ")"
	}
	return v.Hash
}

func labelState(ctx context.Context, st *chains.Store, name, label string) string {
	d, err := st.Current(ctx, name, label)
	if err != nil {
		return "-"
	}
	if d.Canary != "" {
		return fmt.Sprintf("%s + canary %s %g%%", d.Stable, d.Canary, d.CanaryPercent)
	}
	return d.Stable
}

func chainYAML(c *chains.Chain) string {
	b, _ := yaml.Marshal(c)
	return string(b)
}

func chainsShow(ctx context.Context, st *chains.Store, _ string, pos []string, out io.Writer) error {
	if len(pos) != 1 {
		return errors.New("chains show takes NAME[@REF]")
	}
	name, ref := splitRef(pos[0])
	v, err := st.Get(ctx, name, ref)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "# %s@%s", v.Name, v.Hash)
	if v.Version != "" {
		fmt.Fprintf(out, " (%s)", v.Version)
	}
	fmt.Fprintf(out, ", pushed by %s at %s UTC\n%s", v.PushedBy, v.PushedAt.UTC().Format("2006-01-02 15:04:05"), chainYAML(v.Chain))
	return nil
}

func chainsDiff(ctx context.Context, st *chains.Store, _ string, pos []string, out io.Writer) error {
	if len(pos) != 2 {
		return errors.New("chains diff takes NAME@A NAME@B")
	}
	na, ra := splitRef(pos[0])
	nb, rb := splitRef(pos[1])
	a, err := st.Get(ctx, na, ra)
	if err != nil {
		return err
	}
	b, err := st.Get(ctx, nb, rb)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "--- %s@%s\n+++ %s@%s\n", a.Name, a.Hash, b.Name, b.Hash)
	for _, l := range diffLines(strings.Split(chainYAML(a.Chain), "\n"), strings.Split(chainYAML(b.Chain), "\n")) {
		fmt.Fprintln(out, l)
	}
	return nil
}

// diffLines is a line diff by longest common subsequence: " " kept, "-"
// only in a, "+" only in b.
func diffLines(a, b []string) []string {
	n, m := len(a), len(b)
	lcs := make([][]int, n+1)
	for i := range lcs {
		lcs[i] = make([]int, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if a[i] == b[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var out []string
	i, j := 0, 0
	for i < n || j < m {
		switch {
		case i < n && j < m && a[i] == b[j]:
			out = append(out, " "+a[i])
			i++
			j++
		case j < m && (i == n || lcs[i][j+1] >= lcs[i+1][j]):
			out = append(out, "+"+b[j])
			j++
		default:
			out = append(out, "-"+a[i])
			i++
		}
	}
	return out
}

func chainsPromote(ctx context.Context, st *chains.Store, who string, pos []string, out io.Writer) error {
	label, canary := pos[0], pos[1]
	if len(pos) != 3 {
		return errors.New("chains promote takes NAME@REF -label LABEL [-canary N%]")
	}
	name, ref := splitRef(pos[2])
	if ref == "" {
		return errors.New("chains promote needs a version: NAME@REF (hash, prefix or human version)")
	}
	pct := 0.0
	if canary != "" {
		p, err := strconv.ParseFloat(strings.TrimSuffix(canary, "%"), 64)
		if err != nil || p <= 0 || p >= 100 {
			return fmt.Errorf("-canary must be a share in (0%%, 100%%), got %q", canary)
		}
		pct = p
	}
	d, err := st.Promote(ctx, name, ref, label, pct, who)
	if err != nil {
		return err
	}
	printDeployment(out, d)
	return nil
}

func chainsRollback(ctx context.Context, st *chains.Store, who string, pos []string, out io.Writer) error {
	label := pos[0]
	if len(pos) != 3 {
		return errors.New("chains rollback takes NAME -label LABEL")
	}
	d, err := st.Rollback(ctx, pos[2], label, who)
	if err != nil {
		return err
	}
	printDeployment(out, d)
	return nil
}

func printDeployment(out io.Writer, d chains.Deployment) {
	fmt.Fprintf(out, "%s %s/%s: stable %s", d.Action, d.Name, d.Label, d.Stable)
	if d.Canary != "" {
		fmt.Fprintf(out, ", canary %s at %g%%", d.Canary, d.CanaryPercent)
	}
	fmt.Fprintf(out, " (by %s at %s UTC)\n", d.Who, d.At.UTC().Format("2006-01-02 15:04:05"))
}
