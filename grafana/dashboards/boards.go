package dashboards

import "github.com/chainwatch/chainwatch/grafana/pkg/plugin"

// Boards returns every dashboard.
func Boards() []Board {
	return []Board{overview(), drift(), quality(), pipeline(), traceExplorer()}
}

const traceLink = "/d/chainwatch-traces/chainwatch-trace-explorer?var-trace=${__data.fields.traceID}&${__url_time_range}"

func filters() plugin.Query {
	return plugin.Query{App: "$app", Chain: "$chain", ChainVersion: "$chain_version"}
}

func ts(q plugin.Query, metrics []string, groupBy ...string) *plugin.Query {
	q.QueryType = plugin.TypeTimeSeries
	q.Metrics = metrics
	q.GroupBy = groupBy
	return &q
}

func roots(q plugin.Query) plugin.Query   { q.RootsOnly = true; return q }
func llmOnly(q plugin.Query) plugin.Query { q.ComponentKind = "llm"; return q }

var spanVars = []Var{
	{Name: "app", Label: "App", List: "apps"},
	{Name: "chain", Label: "Chain", List: "chains", Depends: []string{"app"}},
	{Name: "chain_version", Label: "Chain version", List: "chain_versions", Depends: []string{"app", "chain"}},
}

func overview() Board {
	f := filters()
	top := ts(roots(f), []string{"requests", "request_error_rate", "latency_p95"}, "app", "chain", "chain_version")
	top.Format = "table"
	recent := f
	recent.QueryType, recent.Limit = plugin.TypeTraces, 20
	return Board{UID: "chainwatch-overview", Title: "chainwatch: Overview", File: "overview.json", Tags: []string{"chainwatch"},
		Description: "Traffic, errors, latency and tokens of every chain version and model; the top chains; the latest traces.",
		Vars:        spanVars,
		Rows: []Row{{Panels: []Spec{
			{Title: "Requests per chain version", Kind: TimeSeries, Unit: "short",
				Description: "Requests (root spans: one per chain run) per time bucket, per chain and version. A drop to zero with traffic expected means the senders or the collector stopped: check the Pipeline health dashboard's ingest rate and rejections.",
				Query:       ts(roots(f), []string{"requests"}, "chain_version"), Reads: []string{"time", "requests"}},
			{Title: "Request error rate per chain version", Kind: TimeSeries, Unit: "percentunit",
				Description: "Share of requests whose root span ended with status error. A rise after a deploy points at the new version: compare versions here, then open failing traces in the Trace explorer.",
				Query:       ts(roots(f), []string{"request_error_rate"}, "chain_version"), Reads: []string{"time", "request_error_rate"}},
			{Title: "Request latency p50 / p95 / p99", Kind: TimeSeries, Unit: "ms",
				Description: "End-to-end latency of requests (root spans' durations), quantiles per bucket. If p99 climbs while p50 holds, a minority of requests is slow: look for timeouts or retries in the slowest traces.",
				Query:       ts(roots(f), []string{"latency_p50", "latency_p95", "latency_p99"}), Reads: []string{"time", "latency_p50", "latency_p95", "latency_p99"}},
			{Title: "LLM latency p95 per model", Kind: TimeSeries, Unit: "ms",
				Description: "95th percentile duration of LLM calls (component kind llm) per requested model. One model rising alone is the provider; all rising together is more tokens per call (see the tokens panel) or the network.",
				Query:       ts(llmOnly(f), []string{"latency_p95"}, "model"), Reads: []string{"time", "latency_p95"}},
			{Title: "Tokens per model", Kind: TimeSeries, Unit: "short",
				Description: "Input and output tokens of LLM calls per bucket and model (the cost driver). A jump in input tokens usually means a prompt or retrieval change; in output tokens, a model or instruction change.",
				Query:       ts(llmOnly(f), []string{"input_tokens", "output_tokens"}, "model"), Reads: []string{"time", "input_tokens", "output_tokens"}},
			{Title: "Estimated cost per model", Kind: TimeSeries, Unit: "currencyUSD",
				Description: "LLM tokens priced with the datasource's prices (USD per million input and output tokens, per requested model) per bucket. A warning names models without a price: add them in the datasource's settings. A step up with steady requests is more tokens per request (see Tokens per model) or a switch to a dearer model.",
				Query:       ts(llmOnly(f), []string{"estimated_cost"}, "model"), Reads: []string{"time", "estimated_cost"}},
			{Title: "Errors per model", Kind: TimeSeries, Unit: "short",
				Description: "LLM calls that ended with status error, per model. Errors on one model: the provider (rate limits, outages); on every model: credentials or the network.",
				Query:       ts(llmOnly(f), []string{"errors"}, "model"), Reads: []string{"time", "errors"}},
			{Title: "Top chains", Kind: Table, Width: 24,
				Description: "Requests, error rate and p95 latency (end to end) per app, chain and version over the whole range. Sort by a column to find the busiest or worst; an unexpected version still serving traffic means an old deployment is alive.",
				Query:       top, Reads: []string{"app", "chain", "chain_version", "requests", "request_error_rate", "latency_p95"}},
			{Title: "Latest traces", Kind: Table, Width: 24,
				Description: "The newest traces matching the filters; click a trace id to open it in the Trace explorer. Empty while requests are counted above means the time ranges differ or the filters exclude them.",
				Query:       &recent, Reads: []string{"traceID", "start", "app", "chain", "chain_version", "duration_ms", "errors", "input"},
				Links: [][2]string{{"Open trace", traceLink}}},
		}}},
	}
}

func drift() Board {
	stat := func(kind string) []Spec {
		q := plugin.Query{QueryType: plugin.TypeDrift, App: "$app", Monitor: "$monitor", Kind: kind}
		what := map[string]string{"drift": "production traffic against an earlier window", "skew": "production traffic against a reference dataset"}[kind]
		return []Spec{
			{Title: "Statistic against threshold (" + kind + ")", Kind: TimeSeries,
				Description: "Each monitor's test statistic per run (" + what + ") and its threshold: a statistic above its threshold is drift. When a line crosses, open the monitor's runs below and the traces of the current window; a statistic missing means the run had too few samples or failed (see Monitor runs).",
				Query:       &q, Reads: []string{"time", "statistic", "threshold"}},
			{Title: "p-values (" + kind + ")", Kind: TimeSeries,
				Description: "p-value of each run's test where the detector has one (distances have none). Low p-values on large samples can be practically small shifts: read them with the statistic and the sample sizes.",
				Query:       &q, Reads: []string{"time", "p_value"}},
			{Title: "Sample sizes (" + kind + ")", Kind: TimeSeries, Unit: "short",
				Description: "Reference and current window sizes per run. A current window shrinking toward the monitor's minimum makes verdicts noisy or insufficient: widen the window or check that traffic reaches the pipeline.",
				Query:       &q, Reads: []string{"time", "n_ref", "n_cur"}},
		}
	}
	runs := plugin.Query{QueryType: plugin.TypeDrift, View: plugin.DriftRuns, App: "$app", Monitor: "$monitor"}
	return Board{UID: "chainwatch-drift", Title: "chainwatch: Drift and skew", File: "drift.json", Tags: []string{"chainwatch"},
		Description: "Each monitor's statistic against its threshold, p-values and sample sizes, with drift alerts as annotations; a row per kind of reference (drift: an earlier production window; skew: a dataset).",
		Vars:        []Var{{Name: "app", Label: "App", List: "apps"}, {Name: "monitor", Label: "Monitor", List: "monitors", Depends: []string{"app"}}},
		Alerts:      true,
		Rows: []Row{
			{Title: "Drift (production reference)", Panels: stat("drift")},
			{Title: "Skew (dataset reference)", Panels: stat("skew")},
			{Title: "Runs", Panels: []Spec{{Title: "Monitor runs", Kind: Table, Width: 24,
				Description: "Per monitor over the range: runs, runs that found drift, runs with insufficient data, failed runs, the last tick and its p-value. Failed runs: read the worker's log for the monitor; insufficient data: the window holds fewer samples than the monitor's minimum.",
				Query:       &runs, Reads: []string{"monitor", "runs", "drift_runs", "insufficient_data", "errors", "last_tick"}}}},
		},
	}
}

func quality() Board {
	q := func(view, evaluator, metric string) *plugin.Query {
		return &plugin.Query{QueryType: plugin.TypeQuality, View: view, App: "$app", Evaluator: evaluator, Metric: metric}
	}
	fb := filters()
	fb.QueryType, fb.View = plugin.TypeQuality, plugin.QualityFeedback
	return Board{UID: "chainwatch-quality", Title: "chainwatch: Quality", File: "quality.json", Tags: []string{"chainwatch"},
		Description: "Evaluator scores and their distribution, guard hits, user feedback, judge–human agreement and red-team runs.",
		Vars: []Var{{Name: "app", Label: "App", List: "apps"}, {Name: "evaluator", Label: "Evaluator", List: "evaluators", Depends: []string{"app"}, Test: "relevance"},
			{Name: "metric", Label: "Metric", List: "metrics", Depends: []string{"app", "evaluator"}, Test: "relevance"}, {Name: "chain", Label: "Chain", List: "chains", Depends: []string{"app"}},
			{Name: "chain_version", Label: "Chain version", List: "chain_versions", Depends: []string{"app", "chain"}}},
		Rows: []Row{{Panels: []Spec{
			{Title: "Evaluator scores", Kind: TimeSeries,
				Description: "Mean score per evaluator and metric per bucket (each evaluation counted once). A fall after a deploy is a quality regression: compare chain versions on the Overview and read the judges' reasoning in eval_scores; a gap means the evaluator stopped (see its budget on Pipeline health).",
				Query:       q(plugin.QualityScores, "$evaluator", "$metric"), Reads: []string{"time", "mean"}},
			{Title: "Score distribution", Kind: Histogram,
				Description: "Distribution of the chosen evaluator's metric over the range. A bimodal shape often means two populations (topics, languages): split by app or chain to find them.",
				Query:       q(plugin.QualityDistribution, "$evaluator", "$metric"), Reads: []string{"value"}},
			{Title: "Guard hit rates", Kind: TimeSeries, Unit: "percentunit",
				Description: "Share of evaluated spans each guard flagged (PII, prompt injection, refusals, JSON schema). A rise in injection hits is an attack or a new client; in refusals, a model or system-prompt change.",
				Query:       q(plugin.QualityGuards, "", ""), Reads: []string{"time", "hit_rate"}},
			{Title: "User feedback", Kind: TimeSeries,
				Description: "Feedback records per bucket and their mean score. Fewer records with steady traffic means the client stopped sending feedback; a falling mean with steady evaluator scores means the judges miss what users see (see agreement).",
				Query:       &fb, Reads: []string{"time", "feedback", "mean_score"}},
			{Title: "Judge–human agreement", Kind: Table,
				Description: "Per evaluator and metric, traces with both a judge score and user feedback, Cohen's kappa (thumbs) or Spearman's rho (ratings) and a verdict. Low agreement: recalibrate the judge's rubric or threshold before trusting its scores.",
				Query:       q(plugin.QualityAgreement, "", ""), Reads: []string{"evaluator", "metric", "pairs", "kappa", "verdict"}},
			{Title: "Red-team runs", Kind: TimeSeries, Unit: "percentunit",
				Description: "Per red-team metric (canary leaks, injections complied with, refusals, PII leaks), the share of probes that hit, per bucket of `chainwatch redteam` runs. Any canary leak or complied injection needs a fix in the system prompt or guards before release.",
				Query:       q(plugin.QualityScores, "redteam", ""), Reads: []string{"time", "mean"}},
		}}},
	}
}

func pipeline() Board {
	p := func(title, desc, unit, expr, legend string) Spec {
		return Spec{Title: title, Description: desc, Kind: TimeSeries, Unit: unit, PromQL: expr, Legend: legend}
	}
	return Board{UID: "chainwatch-pipeline", Title: "chainwatch: Pipeline health", File: "pipeline.json", Tags: []string{"chainwatch"},
		Description: "The ingest pipeline and workers from their Prometheus metrics: ingest rate, rejections, produce latency, consumer lag, batches, inserts, dead letters, monitor runs and the evaluator.",
		Rows: []Row{{Panels: []Spec{
			p("Ingest rate", "Records accepted and acknowledged by Kafka per second, by endpoint. Zero with senders running: check rejections and the senders' exporters.", "reqps",
				`sum by (endpoint) (rate(chainwatch_collector_received_total[5m]))`, "{{endpoint}}"),
			p("Rejections by reason", "Requests answered with an error, by endpoint and reason. Bad requests (4xx) are the sender's to fix (the collector logs the reason); unavailable (503) means Kafka is slow or retention is near.", "reqps",
				`sum by (endpoint, reason) (rate(chainwatch_collector_rejected_total[5m]))`, "{{endpoint}} {{reason}}"),
			p("Produce latency p99", "Time from a request's arrival to Kafka's acknowledgement, 99th percentile. Rising: the broker is slow or the collector is saturated (see in-flight bytes).", "s",
				`histogram_quantile(0.99, sum by (le, endpoint) (rate(chainwatch_collector_produce_seconds_bucket[5m])))`, "{{endpoint}}"),
			p("Consumer lag", "Records between the writers' positions and the partitions' ends. Growing steadily: the writers cannot keep up (inserts slow or failing); add writers or check ClickHouse.", "short",
				`sum by (topic) (chainwatch_writer_consumer_lag)`, "{{topic}}"),
			p("Batch rows p50", "Rows per ClickHouse insert, median. Very small batches under load mean batch.max_wait is too short (many small parts in ClickHouse).", "short",
				`histogram_quantile(0.5, sum by (le, table) (rate(chainwatch_writer_batch_rows_bucket[5m])))`, "{{table}}"),
			p("Insert latency p99", "ClickHouse insert latency, 99th percentile, by table. Rising: ClickHouse is merging hard or short of disk; check its logs and parts count.", "s",
				`histogram_quantile(0.99, sum by (le, table) (rate(chainwatch_writer_insert_seconds_bucket[5m])))`, "{{table}}"),
			p("Insert errors", "Failed inserts per second by table and kind. Retryable errors are retried (lag grows meanwhile); permanent ones send the batch's records to the dead-letter topic.", "short",
				`sum by (table, kind) (rate(chainwatch_writer_insert_errors_total[5m]))`, "{{table}} {{kind}}"),
			p("Dead letters", "Records sent to the dead-letter topic per second, by source topic and reason: records that can never be stored. Any is worth reading: `chainwatch` logs each with its reason.", "short",
				`sum by (topic, reason) (rate(chainwatch_writer_dead_letters_total[5m]))`, "{{topic}} {{reason}}"),
			p("Span age at insert p95", "Time from a span's end to its insert, 95th percentile: the pipeline's end-to-end delay. Monitors read windows once this delay has passed; if it grows, their windows are incomplete.", "s",
				`histogram_quantile(0.95, sum by (le) (rate(chainwatch_writer_span_age_seconds_bucket[5m])))`, "p95"),
			p("Monitor run stages p95", "Duration of each monitor run stage (read, features, detect, write), 95th percentile. A stage near the monitor's interval delays every later tick.", "s",
				`histogram_quantile(0.95, sum by (le, stage) (rate(chainwatch_monitor_stage_seconds_bucket[5m])))`, "{{stage}}"),
			p("Monitor runs", "Monitor runs per second by monitor and outcome. Failed outcomes: read the worker's log; none at all: the worker is not running or holds no monitors.", "short",
				`sum by (monitor, outcome) (rate(chainwatch_monitor_runs_total[5m]))`, "{{monitor}} {{outcome}}"),
			p("Evaluator outcomes and budget", "Evaluations per second by evaluator and outcome; outcome budget_exhausted means the judges' budget for the period is spent and spans go unevaluated until it renews.", "short",
				`sum by (evaluator, outcome) (rate(chainwatch_evaluator_evaluations_total[5m]))`, "{{evaluator}} {{outcome}}"),
		}}},
	}
}

func traceExplorer() Board {
	search := filters()
	search.QueryType, search.UserID, search.SessionID, search.Text, search.Limit = plugin.TypeTraces, "$user", "$session", "$text", 200
	one := plugin.Query{QueryType: plugin.TypeTrace, TraceID: "$trace"}
	vars := append(append([]Var{}, spanVars...),
		Var{Name: "user", Label: "User id"}, Var{Name: "session", Label: "Session id"}, Var{Name: "text", Label: "Text"}, Var{Name: "trace", Label: "Trace id", Test: "<trace>"})
	return Board{UID: "chainwatch-traces", Title: "chainwatch: Trace explorer", File: "traces.json", Tags: []string{"chainwatch"},
		Description: "Search traces by app, chain, version, user, session or text, then read one trace's steps in the Trace view.",
		Vars:        vars,
		Rows: []Row{{Panels: []Spec{
			{Title: "Traces", Kind: Table, Width: 24,
				Description: "Traces matching the filters (text: a case-insensitive substring of any span's input or output), newest first. Click a trace id to show it below. Nothing found: widen the time range; a trace's spans are searched by their start time.",
				Query:       &search, Reads: []string{"traceID", "start", "app", "chain", "chain_version", "duration_ms", "spans", "errors", "user_id", "session_id", "input", "output"},
				Links: [][2]string{{"Show trace", "/d/chainwatch-traces/chainwatch-trace-explorer?var-trace=${__data.fields.traceID}&${__url_time_range}&${app:queryparam}&${chain:queryparam}"}}},
			{Title: "Trace", Kind: Traces, Width: 24,
				Description: "The chosen trace's spans in Grafana's Trace view: each step of the chain with its component, model, tokens, inputs and outputs as tags. An error names the trace id when it is malformed or has no stored spans.",
				Query:       &one, Reads: []string{"traceID", "spanID", "parentSpanID", "operationName", "serviceName", "startTime", "duration", "tags"}},
		}}},
	}
}
