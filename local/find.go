// Package local holds what the embedded default (`chainwatch up`) starts on
// this machine: the in-process Kafka broker (local/broker), clickhouse-server
// (local/chserver) and Alertmanager (local/amserver) as supervised child
// processes. Each is started by its package's Start and ended by Stop; Find
// is the one rule for locating their binaries.
package local

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// Dirs are where distributions put server binaries that are not on a
// user's PATH (Debian's clickhouse-server is in /usr/sbin).
var Dirs = []string{"/usr/sbin", "/usr/bin", "/usr/local/bin"}

// Find returns the binary to run: explicit when given (it must exist; key
// names the config key that gave it), else the first of names found on
// PATH, else in Dirs. Its error says what was looked for and how to
// install it (hint).
func Find(explicit, key string, names []string, hint string) (string, error) {
	if explicit != "" {
		if _, err := os.Stat(explicit); err != nil {
			return "", fmt.Errorf("%s %q: %w", key, explicit, err)
		}
		return explicit, nil
	}
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p, nil
		}
	}
	for _, n := range names {
		for _, d := range Dirs {
			p := filepath.Join(d, n)
			if st, err := os.Stat(p); err == nil && !st.IsDir() {
				return p, nil
			}
		}
	}
	return "", errors.New(fmt.Sprint("none of ", names, " on PATH or in ", Dirs, "; ", hint))
}
