package clickhouse

import (
	"errors"
	"fmt"
	"time"

	"github.com/chainwatch/chainwatch/schemas"
)

// Defaults, named so that docs and code agree.
const (
	DefaultDatabase    = "chainwatch"
	DefaultUsername    = "default"
	DefaultDialTimeout = 5 * time.Second
)

// Config says where ClickHouse is. With no addr, `chainwatch up`
// starts a local clickhouse-server child process.
type Config struct {
	Addr     []string `yaml:"addr"` // native protocol host:port
	Database string   `yaml:"database"`
	Username string   `yaml:"username"`
	// PasswordEnv names the environment variable holding the password;
	// the password itself is never in the config file. The loader reads it
	// into Password (CHAINWATCH_CLICKHOUSE_PASSWORD, when set, wins).
	PasswordEnv   string        `yaml:"password_env"`
	Password      string        `yaml:"-"`
	DialTimeout   time.Duration `yaml:"dial_timeout"`
	RetentionDays int           `yaml:"retention_days"` // TTL on servers that have it; 0 keeps everything
	// Schema: "migrate" (default) brings the schema up to date when a
	// service starts; "check" only verifies that it is (the deployment's
	// migration job applied it) and refuses to start, naming the missing
	// migrations, otherwise — for users without DDL rights, such as an
	// insert-only writer.
	Schema string `yaml:"schema"`
	// Cluster names the ClickHouse cluster (remote_servers) the tables
	// live on: replicated local tables and Distributed tables of the same
	// names (schemas/cluster.go); every server needs the {shard} and
	// {replica} macros and ZooKeeper. Inserts through the Distributed
	// tables are synchronous (insert_distributed_sync), so an insert that
	// returns is stored. Empty: one server.
	Cluster string `yaml:"cluster"`
	// RetentionByTable overrides retention_days per table (spans: 30,
	// logs: 7, …; 0 keeps that table's rows).
	RetentionByTable map[string]int `yaml:"retention_days_by_table"`
}

// DefaultConfig is the clickhouse section's defaults: no addr (the local
// server of `chainwatch up`), database chainwatch, user default.
func DefaultConfig() Config {
	return Config{Database: DefaultDatabase, Username: DefaultUsername, DialTimeout: DefaultDialTimeout}
}

// WithDefaults fills zero fields from DefaultConfig (for a Config built in
// Go; the loader decodes the YAML over DefaultConfig).
func (c Config) WithDefaults() Config {
	d := DefaultConfig()
	if c.Database == "" {
		c.Database = d.Database
	}
	if c.Username == "" {
		c.Username = d.Username
	}
	if c.DialTimeout == 0 {
		c.DialTimeout = d.DialTimeout
	}
	return c
}

// Validate names the bad key relative to the section and the value given;
// the loader adds "clickhouse.".
func (c Config) Validate() error {
	switch c.Schema {
	case "", "migrate", "check":
	default:
		return fmt.Errorf("schema must be migrate or check, got %q", c.Schema)
	}
	var errs []error
	for i, a := range c.Addr {
		if a == "" {
			errs = append(errs, fmt.Errorf("addr[%d] must be host:port, got \"\"", i))
		}
	}
	if c.DialTimeout < 0 {
		errs = append(errs, fmt.Errorf("dial_timeout must be > 0, got %v", c.DialTimeout))
	}
	for t, d := range c.RetentionByTable {
		if d < 0 || !validIdent(t) {
			errs = append(errs, fmt.Errorf("retention_days_by_table: %s: want a table name and days >= 0, got %d", t, d))
		}
	}
	if c.RetentionDays < 0 {
		errs = append(errs, fmt.Errorf("retention_days must be >= 0, got %d", c.RetentionDays))
	}
	if c.Cluster != "" && !validIdent(c.Cluster) {
		errs = append(errs, fmt.Errorf("cluster must be letters, digits and underscores, got %q", c.Cluster))
	}
	if c.Database != "" && !validIdent(c.Database) {
		errs = append(errs, fmt.Errorf("database must be letters, digits and underscores, got %q", c.Database))
	}
	return errors.Join(errs...)
}

func validIdent(s string) bool {
	for i, r := range s {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || i > 0 && r >= '0' && r <= '9') {
			return false
		}
	}
	return s != ""
}

// TableOptions are the DDL choices this config makes.
func (c Config) TableOptions() schemas.TableOptions {
	c = c.WithDefaults()
	return schemas.TableOptions{RetentionDays: c.RetentionDays, RetentionByTable: c.RetentionByTable, Cluster: c.Cluster, Database: c.Database}
}
