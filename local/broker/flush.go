package broker

import (
	"log/slog"
	"os"
	"time"
)

// FlushEvery is how often the broker writes back the dirty pages of the
// filesystem that holds its log.
//
// kfake writes its segments without fsync (as Kafka does by default) and
// leaves the writeback to the kernel, which by default starts only when
// dirty pages reach a tenth of memory. On the 2-core, 24 GiB machine where
// `bench ingest` runs, kfake and ClickHouse then piled up about 2 GiB
// every 20-25 s and the kernel wrote it back in one burst; for the second
// or two that took, ClickHouse's inserts and the collector's answers
// slowed (inserts of 16,000-30,000 spans took 0.35-0.59 s against
// 0.10-0.25 s, their first span's age reached 1.16 s; 2026-12-06 17:55
// UTC, /proc/meminfo sampled every 0.5 s). With writeback started at 128
// MiB instead (vm.dirty_background_bytes, two alternating pairs of the
// default bench ingest, 17:55-18:02 UTC) the paced p99 was 0.62 and 0.91 s
// against 1.19 and 0.81, the ratio to the raw insert 0.84 and 0.88
// against 0.74 and 0.78. Writing back every second from here does the
// same without touching the machine's settings, and bounds what a machine
// crash loses of what the broker acknowledged to about a second of
// records (the kernel's own bound is dirty_expire_centisecs, 30 s by
// default, plus the writeback itself). Measured with it (two alternating
// pairs against the build before, 18:03-18:10 UTC): ratio 0.83 and 0.89
// against 0.77 and 0.75, paced p99 0.86 and 0.93 s against 0.91 and 0.79
// — but the baselines ran lower with it (101k-105k rows/s against
// 111k-119k; it writes back ClickHouse's files too when they share the
// filesystem) and the pipeline about the same (87k-90k against 83k-91k
// spans/s): what it surely buys is the bound on loss.
const FlushEvery = time.Second

// flusher writes back dir's filesystem every interval until stopped.
type flusher struct {
	stop, done chan struct{}
}

func startFlusher(dir string, every time.Duration, sync func(*os.File) error) (*flusher, error) {
	d, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	f := &flusher{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(f.done)
		defer d.Close()
		t := time.NewTicker(every)
		defer t.Stop()
		var warned time.Time
		for {
			select {
			case <-f.stop:
				return
			case <-t.C:
			}
			if err := sync(d); err != nil && time.Since(warned) > time.Minute {
				warned = time.Now()
				slog.Warn("writing back the broker's log failed; records acknowledged since the last writeback may not be on disk", "dir", dir, "err", err)
			}
		}
	}()
	return f, nil
}

func (f *flusher) Stop() {
	if f == nil {
		return
	}
	close(f.stop)
	<-f.done
}
