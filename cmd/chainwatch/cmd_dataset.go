package main

import (
	"context"
	"errors"
)

// runDataset is filled in by the datasets work (issue 4, part 1).
func runDataset(ctx context.Context, args []string) error {
	_, _ = ctx, args
	return errors.New("dataset: not available in this build yet")
}
