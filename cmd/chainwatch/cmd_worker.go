package main

import (
	"context"
	"errors"
)

// runWorker is filled in by the monitors work (issue 4, part 4).
func runWorker(ctx context.Context, args []string) error {
	_, _ = ctx, args
	return errors.New("worker: not available in this build yet")
}
