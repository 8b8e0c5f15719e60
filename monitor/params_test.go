package monitor

import (
	"strings"
	"testing"

	"github.com/chainwatch/chainwatch/detectors"
)

// TestConfigDistanceThreshold: the distances' `threshold` (README: "set
// `threshold` to alert") is accepted in a monitor's params, refused when
// invalid, and decides the monitor's verdict.
func TestConfigDistanceThreshold(t *testing.T) {
	for _, det := range []string{"psi", "wasserstein"} {
		cfg := Config{Monitors: []Monitor{{Name: "m", Feature: "latency_ms", Detector: det, Params: map[string]string{"threshold": "0.2"}}}}
		if err := cfg.Validate(); err != nil && strings.Contains(err.Error(), "params") {
			t.Errorf("%s: threshold refused: %v", det, err)
		}
		bad := Config{Monitors: []Monitor{{Name: "m", Feature: "latency_ms", Detector: det, Params: map[string]string{"threshold": "-1"}}}}
		if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), "params: threshold") {
			t.Errorf("%s: threshold -1 accepted: %v", det, err)
		}
		ref := sample{form: detectors.Numeric, num: []float64{1, 2, 3, 4, 5, 6, 7, 8}}
		cur := sample{form: detectors.Numeric, num: []float64{3, 4, 5, 6, 7, 8, 9, 10}}
		for _, tc := range []struct {
			threshold string
			drift     bool
		}{{"0.2", true}, {"100", false}} {
			r, err := runDetector(det, map[string]string{"threshold": tc.threshold}, ref, cur, 1)
			if err != nil {
				t.Fatal(err)
			}
			if r.Drift != tc.drift {
				t.Errorf("%s threshold %s: statistic %v drift %v, want %v", det, tc.threshold, r.Statistic, r.Drift, tc.drift)
			}
		}
	}
}
