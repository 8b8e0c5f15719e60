package bench

import (
	"math"
	"testing"
	"time"
)

func TestMedianOf(t *testing.T) {
	rs := []Result{
		{Ratio: 0.76, RatioToBest: 0.75, PipelineSpansPerSec: 62000, LatencyP99: 2 * time.Second, AtLoad: &AtLoad{LatencyP99: 1800 * time.Millisecond}},
		{Ratio: 0.62, RatioToBest: 0.52, PipelineSpansPerSec: 60000, LatencyP99: 3 * time.Second},
		{Ratio: 0.81, RatioToBest: 0.70, PipelineSpansPerSec: 64000, LatencyP99: 1 * time.Second, AtLoad: &AtLoad{LatencyP99: 1400 * time.Millisecond}},
	}
	m := MedianOf(rs)
	// Each field on its own: the median ratio and the median ratio to the
	// faster phase come from different runs.
	if m.Runs != 3 || m.Ratio != 0.76 || m.RatioToBest != 0.70 || m.PipelineSpansPerSec != 62000 || m.LatencyP99 != 2*time.Second {
		t.Errorf("three runs: %+v", m)
	}
	// Two paced phases: the mean of the two.
	if m.AtLoadRuns != 2 || m.AtLoadLatencyP99 != 1600*time.Millisecond {
		t.Errorf("paced: %d runs, p99 %v; want 2 runs, 1.6s", m.AtLoadRuns, m.AtLoadLatencyP99)
	}
	// An even count: the mean of the middle two; the input is left as it was.
	m = MedianOf(rs[:2])
	if math.Abs(m.Ratio-0.69) > 1e-12 || m.LatencyP99 != 2500*time.Millisecond || rs[0].Ratio != 0.76 {
		t.Errorf("two runs: ratio %v, p99 %v", m.Ratio, m.LatencyP99)
	}
	if m := MedianOf(nil); m.Runs != 0 || m.Ratio != 0 || m.AtLoadRuns != 0 {
		t.Errorf("no runs: %+v", m)
	}
}
