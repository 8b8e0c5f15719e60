package serving

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Validation names the key and the value given.
func TestConfigValidateNamesKeys(t *testing.T) {
	for _, tc := range []struct{ yaml, want string }{
		{"routes: [{name: a}]", "routes[0].replicas: a route needs at least one replica"},
		{"routes: [{name: 'chain:x', replicas: [{url: 'http://h/v1'}]}]", `routes[0].name "chain:x" must not start with "chain:"`},
		{"routes: [{name: a, replicas: [{url: 'ftp://h'}]}]", `routes[0].replicas[0].url must be an http(s) URL with a host, got "ftp://h"`},
		{"routes: [{name: a, replicas: [{url: 'http://h/v1', process: {command: [x]}}]}]", "routes[0].replicas[0]: give url or process, not both"},
		{"routes: [{name: a, fallbacks: [b], replicas: [{url: 'http://h/v1'}]}]", `routes[0].fallbacks: unknown route "b"`},
		{"routes: [{name: a, replicas: [{url: 'http://h/v1'}]}, {name: a, replicas: [{url: 'http://h/v1'}]}]", `routes[1].name "a" is used twice`},
		{"keys: [{name: k, sha256: abc}]", "keys[0].sha256 must be 64 hex digits"},
		{"chains: {source: dir}", "chains.dir is required with chains.source: dir"},
		{"chains: {source: s3}", `chains.source must be clickhouse, dir or none, got "s3"`},
		{"routes: [{name: a, retries: -1, replicas: [{url: 'http://h/v1'}]}]", "routes[0].retries must be >= 0, got -1"},
		{"max_content_bytes: -1", "max_content_bytes must be > 0 (or left out for 32768), got -1"},
	} {
		path := filepath.Join(t.TempDir(), "s.yaml")
		os.WriteFile(path, []byte(tc.yaml), 0o644)
		_, err := LoadConfig(path)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want %q", tc.yaml, err, tc.want)
		}
	}
	// A keys file adds keys.
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "keys.yaml"), []byte("- {name: k, sha256: "+HashKey("x")+", routes: ['*']}\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "s.yaml"), []byte("keys_file: "+filepath.Join(dir, "keys.yaml")+"\n"), 0o644)
	c, err := LoadConfig(filepath.Join(dir, "s.yaml"))
	if err != nil || len(c.Keys) != 1 || c.Chains.Source != "clickhouse" || c.Listen != DefaultListen {
		t.Fatalf("%+v %v", c, err)
	}
}

// The example config and chain in docs/serving load and validate.
func TestExampleConfig(t *testing.T) {
	c, err := LoadConfig("../docs/serving/serving.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Routes) != 3 || c.Keys[0].SHA256 != HashKey("sk-example-support") {
		t.Fatalf("%+v", c)
	}
	src, err := NewDirSource("../docs/serving/chains")
	if err != nil {
		t.Fatal(err)
	}
	if names := src.Names(); len(names) != 1 || names[0] != "support-bot" {
		t.Fatalf("chains %v", names)
	}
}
