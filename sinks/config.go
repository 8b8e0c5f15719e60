package sinks

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Defaults for the zero values of Config.
const (
	DefaultTimeout        = 10 * time.Second // per HTTP request
	DefaultQueueCapacity  = 10000            // alerts per destination
	DefaultMaxBatch       = 64               // alerts per request, as Prometheus' notifier
	DefaultBackoffInitial = 1 * time.Second  // first retry delay
	DefaultBackoffMax     = 30 * time.Second // retry delays double up to this
)

// Config is the `alerting:` section of chainwatch's configuration. The
// delivery settings (timeout, queue, batch, backoff) apply to every sink;
// zero values mean the defaults above.
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
	// BackoffInitial is the delay before the first retry; it doubles on
	// every failure up to BackoffMax and resets after a success.
	BackoffInitial time.Duration `yaml:"backoff_initial"`
	BackoffMax     time.Duration `yaml:"backoff_max"`
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

// WithDefaults returns c with zero values replaced by the defaults.
func (c Config) WithDefaults() Config {
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.QueueCapacity == 0 {
		c.QueueCapacity = DefaultQueueCapacity
	}
	if c.MaxBatch == 0 {
		c.MaxBatch = DefaultMaxBatch
	}
	if c.BackoffMax == 0 {
		c.BackoffMax = DefaultBackoffMax
	}
	if c.BackoffInitial == 0 {
		c.BackoffInitial = min(DefaultBackoffInitial, c.BackoffMax)
	}
	return c
}

// Validate reports every bad key by its YAML name under `alerting.`.
func (c Config) Validate() error {
	var errs []error
	for i, u := range c.Alertmanager.URLs {
		key := fmt.Sprintf("alerting.alertmanager.urls[%d]", i)
		if err := checkURL(u); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", key, err))
		} else if j := slices.Index(c.Alertmanager.URLs[:i], u); j >= 0 {
			errs = append(errs, fmt.Errorf("%s: duplicate of alerting.alertmanager.urls[%d]", key, j))
		}
	}
	if c.Webhook.URL != "" {
		if err := checkURL(c.Webhook.URL); err != nil {
			errs = append(errs, fmt.Errorf("alerting.webhook.url: %w", err))
		}
	} else if len(c.Webhook.Headers) > 0 {
		errs = append(errs, errors.New("alerting.webhook.headers is set but alerting.webhook.url is empty"))
	}
	for _, name := range sortedKeys(c.Webhook.Headers) {
		if !validHeaderName(name) {
			errs = append(errs, fmt.Errorf("alerting.webhook.headers[%q]: not a valid HTTP header name", name))
		}
		if strings.ContainsAny(c.Webhook.Headers[name], "\r\n") {
			errs = append(errs, fmt.Errorf("alerting.webhook.headers[%q]: value must not contain a line break", name))
		}
	}
	positive := func(key string, bad bool, got any, def any) {
		if bad {
			errs = append(errs, fmt.Errorf("%s must be > 0 (or unset for the default %v), got %v", key, def, got))
		}
	}
	positive("alerting.timeout", c.Timeout < 0, c.Timeout, DefaultTimeout)
	positive("alerting.queue_capacity", c.QueueCapacity < 0, c.QueueCapacity, DefaultQueueCapacity)
	positive("alerting.max_batch", c.MaxBatch < 0, c.MaxBatch, DefaultMaxBatch)
	positive("alerting.backoff_initial", c.BackoffInitial < 0, c.BackoffInitial, DefaultBackoffInitial)
	positive("alerting.backoff_max", c.BackoffMax < 0, c.BackoffMax, DefaultBackoffMax)
	if c.BackoffInitial > 0 && c.BackoffMax > 0 && c.BackoffInitial > c.BackoffMax {
		errs = append(errs, fmt.Errorf("alerting.backoff_initial (%v) must not exceed alerting.backoff_max (%v)", c.BackoffInitial, c.BackoffMax))
	}
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
