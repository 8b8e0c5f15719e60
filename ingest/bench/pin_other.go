//go:build !linux

package bench

import "errors"

func splitCores(pid int) (self, ch []int, err error) {
	return nil, nil, errors.New("-split-cores is implemented on Linux only")
}
