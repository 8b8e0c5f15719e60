package sinks

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/chainwatch/chainwatch/internal/config"
)

// Defaults for the zero values of Config.
const (
	DefaultTimeout       = 10 * time.Second // per HTTP request
	DefaultQueueCapacity = 10000            // alerts per destination
	DefaultMaxBatch      = 64               // alerts per request, as Prometheus' notifier
	DefaultRetryInitial  = 1 * time.Second  // first retry delay
	DefaultRetryMax      = 30 * time.Second // retry delays double up to this
)

// Config is the `alerting:` section of chainwatch's configuration. The
// delivery settings (timeout, queue, batch, retry) apply to every sink;
// DefaultConfig holds their defaults, and zero values in a Config built in
// Go take them too (WithDefaults).
type Config struct {
	Alertmanager AlertmanagerConfig `yaml:"alertmanager"`
	Webhook      WebhookConfig      `yaml:"webhook"`

	// Timeout bounds each HTTP request.
	Timeout time.Duration `yaml:"timeout"`
	// QueueCapacity is how many alerts wait per destination before the
	// oldest are dropped.
	QueueCapacity int `yaml:"queue_capacity"`
	// MaxBatch is the most alerts posted in one request.
	MaxBatch int `yaml:"max_batch"`
	// Retry is the backoff of a failed delivery: retry.initial before the
	// first retry, doubling on every failure up to retry.max, reset after a
	// success.
	Retry config.Retry `yaml:"retry"`
}

// AlertmanagerConfig names the Alertmanagers to post to. Every alert goes to
// every URL, as Prometheus does, since Alertmanager's cluster gossips
// silences and notifications but not alerts.
type AlertmanagerConfig struct {
	// URLs are base URLs, e.g. http://alertmanager:9093 (with the route
	// prefix, if Alertmanager has one); /api/v2/alerts is appended.
	URLs []string `yaml:"urls"`
}

// WebhookConfig is the optional generic webhook.
type WebhookConfig struct {
	URL string `yaml:"url"`
	// Headers are added to every request, e.g. Authorization.
	Headers map[string]string `yaml:"headers"`
}

// DefaultConfig is the alerting section's defaults: no destinations.
func DefaultConfig() Config {
	return Config{
		Timeout:       DefaultTimeout,
		QueueCapacity: DefaultQueueCapacity,
		MaxBatch:      DefaultMaxBatch,
		Retry:         config.Retry{Initial: DefaultRetryInitial, Max: DefaultRetryMax},
	}
}

// WithDefaults fills zero fields from DefaultConfig (for a Config built in
// Go; the loader decodes the YAML over DefaultConfig).
func (c Config) WithDefaults() Config {
	d := DefaultConfig()
	if c.Timeout == 0 {
		c.Timeout = d.Timeout
	}
	if c.QueueCapacity == 0 {
		c.QueueCapacity = d.QueueCapacity
	}
	if c.MaxBatch == 0 {
		c.MaxBatch = d.MaxBatch
	}
	if c.Retry.Max == 0 {
		c.Retry.Max = d.Retry.Max
	}
	if c.Retry.Initial == 0 {
		c.Retry.Initial = min(d.Retry.Initial, c.Retry.Max)
	}
	return c
}

// Validate names every bad key relative to the section and the value
// given; the loader adds "alerting.". Zero values take the defaults.
func (c Config) Validate() error {
	var errs []error
	for i, u := range c.Alertmanager.URLs {
		key := fmt.Sprintf("alertmanager.urls[%d]", i)
		if err := checkURL(u); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", key, err))
		} else if j := slices.Index(c.Alertmanager.URLs[:i], u); j >= 0 {
			errs = append(errs, fmt.Errorf("%s: duplicate of alertmanager.urls[%d], got %q twice", key, j, u))
		}
	}
	if c.Webhook.URL != "" {
		if err := checkURL(c.Webhook.URL); err != nil {
			errs = append(errs, fmt.Errorf("webhook.url: %w", err))
		}
	} else if len(c.Webhook.Headers) > 0 {
		errs = append(errs, errors.New("webhook.headers is set but webhook.url is empty"))
	}
	for _, name := range sortedKeys(c.Webhook.Headers) {
		if !validHeaderName(name) {
			errs = append(errs, fmt.Errorf("webhook.headers[%q]: not a valid HTTP header name", name))
		}
		if strings.ContainsAny(c.Webhook.Headers[name], "\r\n") {
			errs = append(errs, fmt.Errorf("webhook.headers[%q]: value must not contain a line break", name))
		}
	}
	positive := func(key string, bad bool, got any, def any) {
		if bad {
			errs = append(errs, fmt.Errorf("%s must be > 0 (or unset for the default %v), got %v", key, def, got))
		}
	}
	positive("timeout", c.Timeout < 0, c.Timeout, DefaultTimeout)
	positive("queue_capacity", c.QueueCapacity < 0, c.QueueCapacity, DefaultQueueCapacity)
	positive("max_batch", c.MaxBatch < 0, c.MaxBatch, DefaultMaxBatch)
	errs = append(errs, c.WithDefaults().Retry.Validate())
	return errors.Join(errs...)
}

func checkURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("parse error: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("scheme must be http or https, got %q", u.Scheme)
	}
	if u.Host == "" {
		return errors.New("host is missing")
	}
	return nil
}

// validHeaderName is RFC 9110's token rule.
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r > 0x7e || r <= ' ' || strings.ContainsRune(`"(),/:;<=>?@[\]{}`, r) {
			return false
		}
	}
	return true
}

func sortedKeys(m map[string]string) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}
