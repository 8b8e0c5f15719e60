package clickhouse

import (
	"errors"
	"fmt"
	"time"
)

// DefaultDatabase is the database chainwatch uses unless told otherwise.
const DefaultDatabase = "chainwatch"

// Config says where ClickHouse is. With no addr, `chainwatch up`
// starts a local clickhouse-server child process.
type Config struct {
	Addr          []string      `yaml:"addr"` // native protocol host:port
	Database      string        `yaml:"database"`
	Username      string        `yaml:"username"`
	Password      string        `yaml:"password"`
	DialTimeout   time.Duration `yaml:"dial_timeout"`
	RetentionDays int           `yaml:"retention_days"` // TTL on servers that have it; 0 keeps everything
}

// WithDefaults fills zero fields.
func (c Config) WithDefaults() Config {
	if c.Database == "" {
		c.Database = DefaultDatabase
	}
	if c.Username == "" {
		c.Username = "default"
	}
	if c.DialTimeout == 0 {
		c.DialTimeout = 5 * time.Second
	}
	return c
}

// Validate names the bad YAML key.
func (c Config) Validate() error {
	var errs []error
	for i, a := range c.Addr {
		if a == "" {
			errs = append(errs, fmt.Errorf("clickhouse.addr[%d] is empty", i))
		}
	}
	if c.RetentionDays < 0 {
		errs = append(errs, errors.New("clickhouse.retention_days must be >= 0"))
	}
	if c.Database != "" && !validIdent(c.Database) {
		errs = append(errs, fmt.Errorf("clickhouse.database %q must be letters, digits and underscores", c.Database))
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
