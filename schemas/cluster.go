package schemas

import (
	"fmt"
	"regexp"
	"strings"
)

// Cluster mode (TableOptions.Cluster, from clickhouse.cluster): every
// table is created ON CLUSTER as a replicated table named NAME_local, and
// NAME becomes a Distributed table over them, so writers and readers use
// the same names as on one server. The local tables' engines are the
// Replicated forms of the single-server ones (ReplicatedReplacingMergeTree
// and so on), their ZooKeeper paths /clickhouse/tables/{shard}/DB/NAME_local
// with the {shard} and {replica} macros of each server's config. Rows are
// sharded by trace id where a table has one (a trace's spans, events,
// scores and feedback live on one shard, so FINAL deduplicates replays
// within it), else by the first column of the table's ORDER BY (every row
// of one key on one shard). Materialized views are created ON CLUSTER on
// the local tables. Adding a shard: add it to the cluster in every
// server's remote_servers and run `chainwatch migrate` (IF NOT EXISTS
// creates the new shard's tables); existing rows stay where they are.
//
// The rendering works on the statements the single-server migrations
// produce, so a new migration is clustered without more code: CREATE
// TABLE, ALTER TABLE … ADD COLUMN, CREATE MATERIALIZED VIEW … TO and DROP
// TABLE (a view migration 11 replaces) are rewritten; other statements
// (the rollups' backfill INSERT … SELECT) run as they are, through the
// Distributed tables. Names are qualified with the database: ClickHouse
// runs distributed DDL in each server's default database otherwise.

var (
	createTableRE = regexp.MustCompile(`(?s)^CREATE TABLE IF NOT EXISTS (\w+) \((.*)\) ENGINE = (\w+)(?:\(([^)]*)\))?(.*)$`)
	alterTableRE  = regexp.MustCompile(`(?s)^ALTER TABLE (\w+) (.*)$`)
	createMVRE    = regexp.MustCompile(`(?s)^CREATE MATERIALIZED VIEW IF NOT EXISTS (\w+) TO (\w+) AS(.*)$`)
	orderByRE     = regexp.MustCompile(`ORDER BY \(?\s*(\w+)`)
	dropTableRE   = regexp.MustCompile(`^DROP TABLE IF EXISTS (\w+)$`)
)

// clustered renders one single-server statement for the cluster.
func (d ddl) clustered(stmt string) []string {
	c, db := d.opts.Cluster, d.opts.Database
	if c == "" {
		return []string{stmt}
	}
	if m := createTableRE.FindStringSubmatch(stmt); m != nil {
		name, body, engine, args, rest := m[1], m[2], m[3], m[4], m[5]
		zk := fmt.Sprintf("'/clickhouse/tables/{shard}/%s/%s_local', '{replica}'", db, name)
		if args != "" {
			zk += ", " + args
		}
		key := shardingKey(body, rest)
		return []string{
			fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s.%s_local ON CLUSTER %s (%s) ENGINE = Replicated%s(%s)%s", db, name, c, body, engine, zk, rest),
			d.distributed(name, key),
		}
	}
	if m := createMVRE.FindStringSubmatch(stmt); m != nil {
		sel := regexp.MustCompile(`\bFROM (\w+)`).ReplaceAllString(m[3], "FROM "+db+".${1}_local")
		return []string{fmt.Sprintf("CREATE MATERIALIZED VIEW IF NOT EXISTS %s.%s ON CLUSTER %s TO %s.%s_local AS%s", db, m[1], c, db, m[2], sel)}
	}
	if m := dropTableRE.FindStringSubmatch(stmt); m != nil {
		return []string{fmt.Sprintf("DROP TABLE IF EXISTS %s.%s ON CLUSTER %s", db, m[1], c)}
	}
	if m := alterTableRE.FindStringSubmatch(stmt); m != nil {
		// The replicated table is altered once per shard (replication
		// carries it to the other replicas); a Distributed table cannot be
		// altered ON CLUSTER where shards replicate internally, so it is
		// made again over the altered table (it holds no data: inserts are
		// synchronous; a writer inserting meanwhile retries).
		return []string{
			fmt.Sprintf("ALTER TABLE %s.%s_local ON CLUSTER %s %s", db, m[1], c, m[2]),
			fmt.Sprintf("DROP TABLE IF EXISTS %s.%s ON CLUSTER %s", db, m[1], c),
			d.distributed(m[1], d.shardingKey(m[1])),
		}
	}
	return []string{stmt}
}

// clusteredAll renders statements for the cluster.
func (d ddl) clusteredAll(stmts []string) []string {
	if d.opts.Cluster == "" {
		return stmts
	}
	var out []string
	for _, s := range stmts {
		out = append(out, d.clustered(s)...)
	}
	return out
}

// shardingKey: by trace id where the table has one, else by the first
// column of its ORDER BY.
func shardingKey(body, rest string) string {
	if strings.Contains(body, "trace_id String") {
		return "cityHash64(trace_id)"
	}
	if o := orderByRE.FindStringSubmatch(rest); o != nil {
		return "cityHash64(" + o[1] + ")"
	}
	return "rand()"
}

// distributed is the Distributed table NAME over NAME_local.
func (d ddl) distributed(name, key string) string {
	c, db := d.opts.Cluster, d.opts.Database
	return fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s.%s ON CLUSTER %s AS %s.%s_local ENGINE = Distributed(%s, %s, %s_local, %s)", db, name, c, db, name, c, db, name, key)
}

// shardingKey finds table's key from the migration that created it.
func (d ddl) shardingKey(table string) string {
	single := ddl{caps: d.caps, opts: TableOptions{RetentionDays: d.opts.RetentionDays}}
	for _, m := range Migrations {
		for _, stmt := range m.Statements(single) {
			if cm := createTableRE.FindStringSubmatch(stmt); cm != nil && cm[1] == table {
				return shardingKey(cm[2], cm[5])
			}
		}
	}
	return "rand()"
}
