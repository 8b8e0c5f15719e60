package bench

import (
	"slices"
	"time"
)

// Medians are the middle values of several runs' results, each taken on
// its own (the mean of the two middle ones for an even count): on a
// shared machine whose speed drifts from run to run, a set of runs is
// reported by its medians, beside every run (`bench ingest -runs N`).
type Medians struct {
	Runs                       int           `json:"runs"`
	BaselineRowsPerSec         float64       `json:"baseline_rows_per_sec"`
	PipelineSpansPerSec        float64       `json:"pipeline_spans_per_sec"`
	Ratio                      float64       `json:"ratio_to_baseline"`
	RatioToBest                float64       `json:"ratio_to_best_baseline"`
	CPUPerSpanMicros           float64       `json:"cpu_us_per_span"`
	ClickHouseCPUPerSpanMicros float64       `json:"clickhouse_cpu_us_per_span"`
	LatencyP99                 time.Duration `json:"latency_p99"`
	// AtLoadRuns is how many runs had a paced phase (Options.LatencyAt),
	// AtLoadLatencyP99 the median of their p99.
	AtLoadRuns       int           `json:"at_load_runs"`
	AtLoadLatencyP99 time.Duration `json:"at_load_latency_p99"`
}

// MedianOf returns the medians of rs.
func MedianOf(rs []Result) Medians {
	m := Medians{Runs: len(rs)}
	f := func(get func(Result) float64) float64 {
		v := make([]float64, len(rs))
		for i, r := range rs {
			v[i] = get(r)
		}
		return median(v)
	}
	m.BaselineRowsPerSec = f(func(r Result) float64 { return r.BaselineRowsPerSec })
	m.PipelineSpansPerSec = f(func(r Result) float64 { return r.PipelineSpansPerSec })
	m.Ratio = f(func(r Result) float64 { return r.Ratio })
	m.RatioToBest = f(func(r Result) float64 { return r.RatioToBest })
	m.CPUPerSpanMicros = f(func(r Result) float64 { return r.CPUPerSpanMicros })
	m.ClickHouseCPUPerSpanMicros = f(func(r Result) float64 { return r.ClickHouseCPUPerSpanMicros })
	m.LatencyP99 = time.Duration(f(func(r Result) float64 { return float64(r.LatencyP99) }))
	var paced []float64
	for _, r := range rs {
		if r.AtLoad != nil {
			paced = append(paced, float64(r.AtLoad.LatencyP99))
		}
	}
	m.AtLoadRuns = len(paced)
	m.AtLoadLatencyP99 = time.Duration(median(paced))
	return m
}

// median of v (sorted in place); 0 for none.
func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	slices.Sort(v)
	n := len(v)
	if n%2 == 1 {
		return v[n/2]
	}
	return (v[n/2-1] + v[n/2]) / 2
}
