// Package tlsfiles serves a TLS certificate from files and picks up a
// renewed one without a restart: the certificate and key are read again
// when either file's modification time or size changes, checked at most
// once per interval on a handshake. A renewal that does not load (a
// half-written file, a key that does not match) keeps the last good pair
// and is reported once per change through the error callback.
package tlsfiles

import (
	"crypto/tls"
	"fmt"
	"os"
	"sync"
	"time"
)

// DefaultInterval is how often a handshake may look at the files.
const DefaultInterval = 2 * time.Second

// Config names the files; both empty means no TLS.
type Config struct {
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

// Enabled reports whether TLS is configured.
func (c Config) Enabled() bool { return c.CertFile != "" || c.KeyFile != "" }

// Validate reports a half-configured pair.
func (c Config) Validate() error {
	if c.Enabled() && (c.CertFile == "" || c.KeyFile == "") {
		return fmt.Errorf("cert_file and key_file must both be set (got cert_file %q, key_file %q)", c.CertFile, c.KeyFile)
	}
	return nil
}

// Reloader holds the current certificate.
type Reloader struct {
	cfg      Config
	interval time.Duration
	onError  func(error)

	mu      sync.Mutex
	cert    *tls.Certificate
	stamp   [2]fileStamp
	checked time.Time
	failed  [2]fileStamp // the stamps of the last pair that failed to load (reported once)
}

type fileStamp struct {
	mod  time.Time
	size int64
}

// New loads the pair now (an error if it does not load) and returns a
// Reloader; onError (may be nil) hears of renewals that fail.
func New(c Config, interval time.Duration, onError func(error)) (*Reloader, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if interval <= 0 {
		interval = DefaultInterval
	}
	r := &Reloader{cfg: c, interval: interval, onError: onError}
	st, err := r.stamps()
	if err != nil {
		return nil, err
	}
	cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("loading TLS certificate %s and key %s: %w", c.CertFile, c.KeyFile, err)
	}
	r.cert, r.stamp, r.checked = &cert, st, time.Now()
	return r, nil
}

func (r *Reloader) stamps() ([2]fileStamp, error) {
	var out [2]fileStamp
	for i, f := range []string{r.cfg.CertFile, r.cfg.KeyFile} {
		fi, err := os.Stat(f)
		if err != nil {
			return out, fmt.Errorf("reading TLS file: %w", err)
		}
		out[i] = fileStamp{fi.ModTime(), fi.Size()}
	}
	return out, nil
}

// GetCertificate is tls.Config.GetCertificate.
func (r *Reloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if now := time.Now(); now.Sub(r.checked) >= r.interval {
		r.checked = now
		r.reload()
	}
	return r.cert, nil
}

func (r *Reloader) reload() {
	st, err := r.stamps()
	if err != nil || st == r.stamp {
		return
	}
	cert, err := tls.LoadX509KeyPair(r.cfg.CertFile, r.cfg.KeyFile)
	if err != nil {
		if st != r.failed && r.onError != nil {
			r.onError(fmt.Errorf("renewed TLS certificate %s / key %s does not load; still serving the previous one: %w", r.cfg.CertFile, r.cfg.KeyFile, err))
		}
		r.failed = st
		return
	}
	r.cert, r.stamp = &cert, st
}

// TLSConfig is a server config serving the current certificate (TLS 1.2+).
func (r *Reloader) TLSConfig() *tls.Config {
	return &tls.Config{GetCertificate: r.GetCertificate, MinVersion: tls.VersionTLS12}
}
