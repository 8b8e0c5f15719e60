// Package lifecycle runs a process's components in order and stops them in
// reverse: what a later step needs is up before it starts, and a failure
// halfway stops exactly what had started.
package lifecycle

import (
	"context"
	"errors"
	"fmt"
)

// Component is a long-running part of a process.
type Component interface {
	Start(ctx context.Context) error
	Shutdown(ctx context.Context) error
}

type stopper struct {
	name string
	stop func(context.Context) error
}

// Group is the ordered list of what has started. The zero value is ready.
type Group struct {
	started []stopper
}

// Start starts c and, when it succeeded, remembers it for Shutdown.
func (g *Group) Start(ctx context.Context, name string, c Component) error {
	if err := c.Start(ctx); err != nil {
		return fmt.Errorf("starting %s: %w", name, err)
	}
	g.started = append(g.started, stopper{name, c.Shutdown})
	return nil
}

// Started records something a constructor already started, with how to
// stop it.
func (g *Group) Started(name string, stop func(context.Context) error) {
	g.started = append(g.started, stopper{name, stop})
}

// Shutdown stops everything started, last first, and forgets it; every
// component is asked to stop even when an earlier one failed to.
func (g *Group) Shutdown(ctx context.Context) error {
	var errs []error
	for i := len(g.started) - 1; i >= 0; i-- {
		if err := g.started[i].stop(ctx); err != nil {
			errs = append(errs, fmt.Errorf("stopping %s: %w", g.started[i].name, err))
		}
	}
	g.started = nil
	return errors.Join(errs...)
}
