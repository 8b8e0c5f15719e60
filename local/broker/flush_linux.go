package broker

import (
	"os"

	"golang.org/x/sys/unix"
)

// syncFS writes back the dirty pages of the filesystem holding d (syncfs).
func syncFS(d *os.File) error { return unix.Syncfs(int(d.Fd())) }
