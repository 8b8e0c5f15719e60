// Package config is the machinery every configuration section shares: the
// retry shape (retry: {initial, max}), the prefixing of a section's
// relative error messages with the section's path, and secrets read from
// the environment or a file, never from YAML.
//
// The regime (ARCHITECTURE.md, Decisions): each section has DefaultConfig()
// and Validate(); Validate names keys relative to the section and says the
// value given ("partitions must be > 0, got -3"); the loader decodes the
// YAML over the defaults and prefixes each message with the section's path
// (Prefix("kafka", err): "kafka.partitions must be > 0, got -3").
package config

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"
)

// Prefix prefixes every message of err (each error of an errors.Join, at
// any depth) with path and a dot. nil stays nil.
func Prefix(path string, err error) error {
	if err == nil {
		return nil
	}
	var errs []error
	for _, e := range Unjoin(err) {
		errs = append(errs, prefixed{path: path, err: e})
	}
	return errors.Join(errs...)
}

type prefixed struct {
	path string
	err  error
}

func (p prefixed) Error() string { return p.path + "." + p.err.Error() }
func (p prefixed) Unwrap() error { return p.err }

// Unjoin flattens err's errors.Join tree into its leaves.
func Unjoin(err error) []error {
	if err == nil {
		return nil
	}
	j, ok := err.(interface{ Unwrap() []error })
	if !ok {
		return []error{err}
	}
	var out []error
	for _, e := range j.Unwrap() {
		out = append(out, Unjoin(e)...)
	}
	return out
}

// Retry is the one shape of a retry's backoff, spelled the same in every
// section that retries: retry: {initial, max}. The delay starts at Initial
// and doubles after each failure up to Max.
type Retry struct {
	Initial time.Duration `yaml:"initial"`
	Max     time.Duration `yaml:"max"`
}

// Validate names the keys relative to the retry block's parent
// ("retry.initial must be > 0, got 0s").
func (r Retry) Validate() error {
	var errs []error
	if r.Initial <= 0 {
		errs = append(errs, fmt.Errorf("retry.initial must be > 0, got %v", r.Initial))
	}
	if r.Max <= 0 {
		errs = append(errs, fmt.Errorf("retry.max must be > 0, got %v", r.Max))
	}
	if r.Initial > 0 && r.Max > 0 && r.Initial > r.Max {
		errs = append(errs, fmt.Errorf("retry.initial must be <= retry.max, got initial %v and max %v", r.Initial, r.Max))
	}
	return errors.Join(errs...)
}

// Or fills r's zero fields from d (for a Config built in Go).
func (r Retry) Or(d Retry) Retry {
	if r.Initial == 0 {
		r.Initial = d.Initial
	}
	if r.Max == 0 {
		r.Max = d.Max
	}
	return r
}

// Env reads the secret held by the environment variable name (the value
// of a "*_env" key). An empty name reads nothing; a name that is not set is
// an error naming key, so that a missing secret stops the process at
// start, not at its first request.
func Env(key, name string) (string, error) {
	if name == "" {
		return "", nil
	}
	v, ok := os.LookupEnv(name)
	if !ok {
		return "", fmt.Errorf("%s names the environment variable %s, which is not set", key, name)
	}
	return v, nil
}

// File reads the secret held in path (the value of a "*_file" key), with
// surrounding white space trimmed. An empty path reads nothing.
func File(key, path string) (string, error) {
	if path == "" {
		return "", nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("%s: reading %s: %w", key, path, err)
	}
	return strings.TrimSpace(string(b)), nil
}
