// Package metrics is the one way chainwatch's packages register their
// Prometheus series: each package has one constructor that builds its
// collectors and calls Register for each.
package metrics

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// Namespace prefixes every chainwatch series.
const Namespace = "chainwatch"

// Register registers *c on reg. When an identical collector is registered
// there already (a second alert sink, embedder or child of the same kind
// in one process), *c becomes that one, so both feed the same series. A
// nil reg registers nothing (tests).
func Register[C prometheus.Collector](reg prometheus.Registerer, c *C) error {
	if reg == nil {
		return nil
	}
	if err := reg.Register(*c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				*c = existing
				return nil
			}
		}
		return err
	}
	return nil
}

// Must panics on a registration error: for constructors whose series can
// only clash through a programming error (two different collectors under
// one name).
func Must(err error) {
	if err != nil {
		panic(err)
	}
}
