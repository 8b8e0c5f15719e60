package servebench

import (
	"context"
	"io"
	"os"
	"os/signal"
	"testing"
	"time"
)

// TestMain lets the test binary be the gateway child, as the chainwatch
// binary is under `bench serve` (startChild runs os.Executable()).
func TestMain(m *testing.M) {
	if len(os.Args) == 5 && os.Args[1] == "bench" && os.Args[2] == "serve" && os.Args[3] == "-child" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
		defer stop()
		if err := Child(ctx, os.Args[4]); err != nil {
			os.Stderr.WriteString(err.Error() + "\n")
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestRunSmall runs every phase briefly: both sides serve every call, the
// latency-bound non-streamed phase runs at the same rate through the
// gateway as directly, and the soak samples the child's RSS.
func TestRunSmall(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a gateway child process")
	}
	o := Options{Duration: time.Second, Slice: 500 * time.Millisecond, Warm: 300 * time.Millisecond, Chunks: 4, ChunkInterval: 10 * time.Millisecond,
		Concurrency: []int{5}, UnaryConcurrency: []int{5}, SaturationWorkers: 2,
		Soak: 1500 * time.Millisecond, SoakConcurrency: 5, SoakEvery: 250 * time.Millisecond}
	res, err := Run(context.Background(), o, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	s := res.Streams[0]
	if s.Errors != 0 || s.Direct.Streams == 0 || s.Gateway.Streams == 0 {
		t.Fatalf("streams: %+v", s)
	}
	// 4 tokens 10 ms apart: no stream can take less than 40 ms.
	if s.Direct.TotalP50 < 40*time.Millisecond || s.Gateway.TotalP50 < 40*time.Millisecond {
		t.Errorf("stream p50 under the generation time: direct %v gateway %v", s.Direct.TotalP50, s.Gateway.TotalP50)
	}
	if s.Gateway.OverheadHeaderP50 <= 0 && s.Gateway.P99ms <= 0 {
		t.Errorf("no overhead header read from the gateway: %+v", s.Gateway)
	}
	u := res.Unary[0]
	if u.Errors != 0 || u.DirectRPS == 0 || u.GatewayRPS == 0 {
		t.Fatalf("non-streamed: %+v", u)
	}
	// 5 callers, 40 ms a call: ~125 calls/s on either side.
	if u.Ratio < 0.5 || u.Ratio > 1.5 || u.DirectRPS > 130 {
		t.Errorf("latency-bound non-streamed phase: direct %.0f/s gateway %.0f/s ratio %.2f", u.DirectRPS, u.GatewayRPS, u.Ratio)
	}
	if res.Saturation == nil || res.Saturation.GatewayRPS == 0 || res.Saturation.DirectRPS <= u.DirectRPS {
		t.Errorf("saturation phase: %+v (the instant upstream must be faster than %.0f/s)", res.Saturation, u.DirectRPS)
	}
	if len(res.Soak) < 4 || res.Soak[0].RSSBytes == 0 || res.Soak[len(res.Soak)-1].Streams == 0 {
		t.Errorf("soak samples: %+v", res.Soak)
	}
}
